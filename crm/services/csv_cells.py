"""CSV for people to open in a spreadsheet: a cell that a spreadsheet would run as a
formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written
with a single quote in front, as OWASP's guidance on CSV injection says, so it shows as
text. Every CSV the product writes for download goes through here."""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows written between two pieces of a streamed download.
ROWS_PER_PIECE = 500


def spreadsheet_safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, every cell made safe, in pieces to stream."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_safe(name) for name in header])
    for count, row in enumerate(rows, 1):
        writer.writerow([spreadsheet_safe(cell) for cell in row])
        if count % ROWS_PER_PIECE == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
