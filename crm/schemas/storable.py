"""Values JSON can carry but MongoDB cannot store, or that no field should hold.

Integers must fit BSON's int64, floats must be finite, and text must be valid Unicode
(no lone surrogate such as ``\\ud800``) without control characters; only fields marked
multiline may hold newlines and tabs, and no text may hold NUL. Keys of objects are text too.
"""

import math
import re
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 32
# C0 controls (NUL included), DEL and C1 controls; a lone surrogate is found by encoding.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MULTILINE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def problem(value: Any, multiline: bool = False, depth: int = 0) -> str | None:
    """Why ``value`` (decoded JSON) cannot be accepted, or None."""
    if depth > MAX_DEPTH:
        return f"Nested more than {MAX_DEPTH} deep."
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            return "Integers must lie between -2^63 and 2^63-1."
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "Numbers must be finite."
    if isinstance(value, str):
        return text_problem(value, multiline)
    if isinstance(value, dict):
        for key, item in value.items():
            found = text_problem(key) if isinstance(key, str) else None
            found = found or problem(item, multiline, depth + 1)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for item in value:
            found = problem(item, multiline, depth + 1)
            if found:
                return found
    return None


def text_problem(text: str, multiline: bool = False) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must be valid Unicode (a lone surrogate is not)."
    if (MULTILINE_CONTROL if multiline else CONTROL).search(text):
        if "\x00" in text:
            return "Text must not contain NUL."
        allowed = " (newlines and tabs are allowed)" if multiline else ""
        return f"Text must not contain control characters{allowed}."
    return None
