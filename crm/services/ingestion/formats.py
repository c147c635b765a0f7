"""Reading an upload record by record, whatever its size: CSV, a JSON array, or NDJSON.

Nothing holds the whole upload: CSV and NDJSON are read a line at a time, a JSON array
one element at a time through a small sliding buffer.

Whether the upload is of its format at all is decided by its start (a CSV header naming
the required columns, a ``[``, a first NDJSON line that parses); failing that, or text
that is not UTF-8, or a JSON array broken further on, the whole upload is refused.
A record that is merely wrong (a short CSV row, a line that is not JSON) is rejected
on its own, with its row number, and reading goes on.
"""

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from crm.schemas.customer import ATTRIBUTE_KEY
from crm.services.errors import InvalidInput, Malformed, UnsupportedFormat
from crm.services.ingestion.kinds import Kind

CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/x-jsonlines": "ndjson",
}
# Types that say nothing about the content (curl's default among them): look at it instead.
UNSPECIFIC_TYPES = {
    "",
    "application/octet-stream",
    "text/plain",
    "application/x-www-form-urlencoded",
}
EXTENSIONS = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}
READ_SIZE = 64 * 1024
# A JSON array element larger than this, still unparsed, is taken to be broken.
MAX_ELEMENT_CHARS = 1_000_000
CSV_DELIMITERS = (",", ";", "\t")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class RowError:
    """A record that could not even be read as one: rejected on its own."""

    errors: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, message: str) -> "RowError":
        return cls({"_schema": [message]})


Record = dict[str, Any] | RowError


def detect(content_type: str | None, filename: str | None, requested: str | None) -> str | None:
    """The upload's format from ``?format=``, its content type or file name; None: look inside."""
    if requested:
        return requested
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in CONTENT_TYPES:
        return CONTENT_TYPES[media_type]
    if filename:
        for extension, fmt in EXTENSIONS.items():
            if filename.lower().endswith(extension):
                return fmt
    if media_type in UNSPECIFIC_TYPES or media_type == "multipart/form-data":
        return None
    raise UnsupportedFormat(
        f"Cannot import {media_type!r}: send text/csv, application/json (an array) or "
        "application/x-ndjson, or say ?format=csv|json|ndjson.",
        {"Content-Type": [f"Unsupported: {media_type}."]},
    )


class Upload:
    """An upload's records as ``(row, record)``; ``row`` counts from 1 as an editor shows it:
    the line of a CSV row (the header is line 1) or of an NDJSON line, the position of a
    JSON array's element."""

    def __init__(self, stream: Readable, fmt: str | None):
        self._bytes = io.BufferedReader(_Raw(stream), READ_SIZE)
        self.format = fmt or self._sniff()

    def records(self, kind: Kind) -> Iterator[tuple[int, Record]]:
        if not self._bytes.peek(1):
            raise InvalidInput("The upload is empty.", {"file": ["Empty."]})
        text = io.TextIOWrapper(self._bytes, encoding="utf-8-sig", newline="")
        readers = {"csv": _csv_rows, "json": _json_array, "ndjson": _ndjson_lines}
        try:
            yield from readers[self.format](text, kind)
        except UnicodeDecodeError:
            raise Malformed(
                "The upload is not UTF-8 text; export it as UTF-8 CSV or JSON.",
                {"file": ["Not UTF-8 text."]},
            ) from None

    def _sniff(self) -> str:
        start = self._bytes.peek(READ_SIZE).lstrip(codecs.BOM_UTF8).lstrip()
        if start.startswith(b"["):
            return "json"
        if start.startswith(b"{"):
            return "ndjson"
        return "csv"


class _Raw(io.RawIOBase):
    """Any object with ``read(n)`` as a raw stream, so it can be buffered and decoded."""

    def __init__(self, stream: Readable):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _csv_rows(text: IO[str], kind: Kind) -> Iterator[tuple[int, Record]]:
    first = text.readline()
    delimiter = max(CSV_DELIMITERS, key=first.count)
    reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
    try:
        header = [cell.strip() for cell in next(reader)]
        columns = _columns(header, kind)
        line = reader.line_num
        for cells in reader:
            row, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(columns):
                yield row, RowError.of(f"{len(cells)} cells, but the header has {len(columns)}.")
                continue
            yield row, _record(kind, columns, cells)
    except csv.Error as error:
        raise Malformed(
            f"Not readable as CSV at line {reader.line_num}: {error}.",
            {"file": [f"Line {reader.line_num}: {error}."]},
        ) from None


def _columns(header: list[str], kind: Kind) -> list[tuple[str, bool]]:
    """Each header cell as ``(name, is_extra)``: a field of ``kind``, or an extra column."""
    known = {name.lower(): name for name in kind.columns}
    columns = [(known.get(cell.lower(), cell), cell.lower() not in known) for cell in header]
    problems: dict[str, list[str]] = {}
    names = [name for name, _ in columns]
    for name in kind.required:
        if name not in names:
            problems[name] = ["Missing column."]
    for name, extra in columns:
        if not name:
            continue  # an unnamed column (a trailing delimiter) is ignored
        if names.count(name) > 1:
            problems[name] = ["Repeated column."]
        elif extra and kind.extra_columns is None:
            problems[name] = [f"Unknown column; expected {', '.join(kind.columns)}."]
        elif extra and not re.match(ATTRIBUTE_KEY, name):
            problems[name] = [
                f"Not usable as an attribute name: 1-64 letters, digits or _, not starting "
                f"with a digit. Other columns than {', '.join(kind.columns)} become attributes."
            ]
    if problems:
        raise InvalidInput(
            "The first row must be a header naming the columns: "
            + "; ".join(f"{name}: {' '.join(messages)}" for name, messages in problems.items()),
            {"header": problems},
        )
    return columns


def _record(kind: Kind, columns: list[tuple[str, bool]], cells: list[str]) -> dict[str, Any]:
    """A CSV row as the JSON the schema expects; an empty cell is a field not given."""
    record: dict[str, Any] = {}
    extras: dict[str, str] = {}
    for (name, extra), cell in zip(columns, cells, strict=False):
        value = cell.strip()
        if not value or not name:
            continue
        if extra:
            extras[name] = value
        elif name in kind.integers and value.isdigit():
            record[name] = int(value)
        else:
            record[name] = value
    if extras and kind.extra_columns:
        record[kind.extra_columns] = extras
    return record


def _ndjson_lines(text: IO[str], kind: Kind) -> Iterator[tuple[int, Record]]:
    seen_record = False
    for row, line in enumerate(text, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as error:  # JSONDecodeError, or absurd nesting/digits
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "unreadable"
            if not seen_record:
                raise Malformed(
                    f"Not NDJSON: line {row} is not JSON ({reason}).",
                    {"file": [f"Line {row}: {reason}."]},
                ) from None
            yield row, RowError.of(f"Not valid JSON: {reason}.")
            continue
        seen_record = True
        yield row, _object(value)


def _json_array(text: IO[str], kind: Kind) -> Iterator[tuple[int, Record]]:
    return _JsonArrayReader(text).elements()


class _JsonArrayReader:
    """The elements of a JSON array, decoded one at a time from a sliding text buffer."""

    def __init__(self, text: IO[str]):
        self._text = text
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._decoder = json.JSONDecoder()

    def elements(self) -> Iterator[tuple[int, Record]]:
        if self._next_char() != "[":
            raise self._malformed("A JSON upload must be an array of objects: [{...}, {...}].")
        self._pos += 1
        row = 0
        if self._next_char() == "]":
            self._pos += 1
        else:
            while True:
                row += 1
                yield row, _object(self._value(row))
                separator = self._next_char()
                self._pos += 1
                if separator == "]":
                    break
                if separator != ",":
                    raise self._malformed(f"Expected ',' or ']' after element {row}.")
        if self._next_char():
            raise self._malformed("Unexpected data after the JSON array.")

    def _value(self, row: int) -> Any:
        self._next_char()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._pos)
                if self._eof or self._complete(value, end):
                    self._pos = end
                    return value
            except json.JSONDecodeError as error:
                if self._eof:
                    raise self._malformed(
                        f"Element {row} is not valid JSON: {error.msg}."
                    ) from None
            except (ValueError, RecursionError):  # nested too deep, a number too long
                raise self._malformed(f"Element {row} is not readable JSON.") from None
            if len(self._buffer) - self._pos > MAX_ELEMENT_CHARS:
                raise self._malformed(f"Element {row} is not valid JSON, or too large.")
            self._fill()

    def _complete(self, value: Any, end: int) -> bool:
        """Whether the buffer held all of ``value``: a number or literal cut by the buffer's
        end (``1.`` of ``1.5``) parses short, so those need the character after them."""
        if isinstance(value, dict | list | str):
            return True
        return end < len(self._buffer) and (
            self._buffer[end] in ",]" or self._buffer[end].isspace()
        )

    def _next_char(self) -> str:
        """The next non-blank character, without consuming it; "" at the end."""
        while True:
            while self._pos < len(self._buffer) and self._buffer[self._pos].isspace():
                self._pos += 1
            if self._pos < len(self._buffer) or self._eof:
                return self._buffer[self._pos : self._pos + 1]
            self._fill()

    def _fill(self) -> None:
        chunk = self._text.read(READ_SIZE)
        self._eof = not chunk
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0

    @staticmethod
    def _malformed(message: str) -> Malformed:
        return Malformed(message, {"file": [message]})


def _object(value: Any) -> Record:
    return value if isinstance(value, dict) else RowError.of("Must be a JSON object.")
