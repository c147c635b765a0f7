"""What an import will make of a file, read from its start before it is imported: the
columns found and what each becomes, and the first rows as they would be stored, or
why each would be rejected. The same readers and schemas as ``intake``, so what the
preview shows is what the import does.
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma

from crm.schemas.customer import ATTRIBUTE_KEY
from crm.services.errors import DomainError, InvalidInput
from crm.services.ingestion import intake, jobs
from crm.services.ingestion.formats import CSV_DELIMITERS, Readable, RowError, Upload
from crm.services.ingestion.kinds import Kind

ROWS = 10
# The most of a file a preview reads: its first rows, not the whole upload.
MAX_BYTES = 64 * 1024
MAX_ATTRIBUTE_COLUMNS = 20


@dataclass
class Column:
    name: str
    # field: one of the kind's fields; attribute: kept under attributes.<name>;
    # ignored: an unnamed column; refused: the header (CSV) or the row (JSON) is rejected.
    role: str
    target: str = ""


@dataclass
class Preview:
    format: str
    columns: list[Column]
    fields: list[str]  # what the stored rows hold, in the kind's order, then attributes
    # {"row", "values", "errors"}: a rejected row's values as the file gave them
    rows: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""  # why the import would refuse the whole file


def preview(kind: Kind, stream: Readable, fmt: str | None, complete: bool) -> Preview:
    """Up to ``ROWS`` rows from the start of a file (``complete``: the whole file; else its
    first bytes, whose last, cut row is left out)."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        data, complete = data[:MAX_BYTES], False
    upload = Upload(io.BytesIO(data), fmt)
    if not complete and upload.format in ("csv", "ndjson"):
        data = data[: data.rfind(b"\n") + 1]
        upload = Upload(io.BytesIO(data), upload.format)
    found = Preview(upload.format, [], [])
    records: list[tuple[int, dict[str, Any] | RowError]] = []
    try:
        for numbered in _first(upload, kind):
            records.append(numbered)
    except DomainError as error:
        # A JSON array cut by the end of what was read is not the file's fault.
        if complete or not records or upload.format != "json":
            found.problem = _said(error)
    if upload.format == "csv":
        found.columns = _csv_columns(data, kind)
    else:
        keys = dict.fromkeys(k for _, r in records if isinstance(r, dict) for k in r)
        found.columns = [_json_column(str(name), kind) for name in keys]
    attributes: dict[str, None] = {}
    first_rows: dict[str, int] = {}  # a customers file's customer_ids, at their first row
    for row, record in records:
        tally = jobs.Tally()
        values: dict[str, Any] = {}
        try:
            if isinstance(record, RowError):
                raise ma.ValidationError(record.errors)
            values = kind.to_message(kind.schema.load(record))
            _check_repeat(kind, values, row, first_rows)
        except ma.ValidationError as error:
            tally.reject(row, error.normalized_messages())
            values = dict(record) if isinstance(record, dict) else {}  # as given
        extras = values.pop(kind.extra_columns, None) if kind.extra_columns else None
        for name, value in (extras if isinstance(extras, dict) else {}).items():
            values[f"attributes.{name}"] = value
            attributes[f"attributes.{name}"] = None
        errors = tally.rejections[0]["errors"] if tally.rejections else []
        found.rows.append({"row": row, "values": values, "errors": errors})
    found.fields = [*kind.columns, *list(attributes)[:MAX_ATTRIBUTE_COLUMNS]]
    return found


def _check_repeat(kind: Kind, values: dict[str, Any], row: int, first_rows: dict[str, int]) -> None:
    """As the import does (``intake``): a customer_id given again is rejected."""
    if kind.key != intake.GROUP_BY:
        return
    key = values[kind.key]
    first = first_rows.setdefault(key, row)
    if first != row:
        raise ma.ValidationError(intake.repeated_key(kind.key, key, first))


def _first(upload: Upload, kind: Kind) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for count, numbered in enumerate(upload.records(kind), 1):
        yield numbered
        if count == ROWS:
            return


def _said(error: DomainError) -> str:
    if isinstance(error, InvalidInput) and "header" in error.errors:
        return error.message
    details = [str(m) for ms in error.errors.values() if isinstance(ms, list) for m in ms]
    return " ".join([error.message, *[d for d in details if d not in error.message]])


def _csv_columns(data: bytes, kind: Kind) -> list[Column]:
    first = data.decode("utf-8-sig", errors="replace").splitlines()[:1]
    if not first:
        return []
    delimiter = max(CSV_DELIMITERS, key=first[0].count)
    header = next(csv.reader(first, delimiter=delimiter), [])
    known = {name.lower(): name for name in kind.columns}
    columns = []
    for cell in (cell.strip() for cell in header):
        if not cell:
            columns.append(Column("(unnamed)", "ignored"))
        elif cell.lower() in known:
            columns.append(Column(cell, "field", known[cell.lower()]))
        elif kind.extra_columns and re.match(ATTRIBUTE_KEY, cell):
            columns.append(Column(cell, "attribute", f"{kind.extra_columns}.{cell}"))
        else:
            columns.append(Column(cell, "refused"))
    return columns


def _json_column(name: str, kind: Kind) -> Column:
    if name in kind.columns:
        return Column(name, "field", name)
    if name == kind.extra_columns:
        return Column(name, "field", f"{name}.*")
    return Column(name, "refused")
