"""The methods a template may call, each bounded before it runs: a string's own methods,
a dict's readers, a date's formatting and ``loop.cycle``; anything else is refused."""

from datetime import date
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext

from crm.services.templates.budget import MAX_CHARS, TooCostly, size

STRING_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "find",
        "isalnum",
        "isalpha",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
        "zfill",
    }
)
PADDING = frozenset({"center", "ljust", "rjust", "zfill"})
DICT_METHODS = frozenset({"get", "items", "keys", "values"})
DATE_METHODS = frozenset({"date", "isoformat", "isoweekday", "strftime", "weekday"})
LONGEST_DATE_FORMAT = 200
LOOP_METHODS = frozenset({"cycle", "changed"})


def check(function: Any, args: tuple[Any, ...]) -> None:
    """Refuse calling ``function`` with ``args`` unless it is allowed and bounded."""
    owner, name = getattr(function, "__self__", None), getattr(function, "__name__", "")
    if isinstance(owner, str) and name in STRING_METHODS:
        _check_string_method(owner, name, args)
    elif isinstance(owner, date) and name in DATE_METHODS:
        if name == "strftime" and args and size(args[0]) > LONGEST_DATE_FORMAT:
            raise TooCostly(f"a date format may be at most {LONGEST_DATE_FORMAT} characters")
    elif not (
        (isinstance(owner, dict) and name in DICT_METHODS)
        or (isinstance(owner, LoopContext) and name in LOOP_METHODS)
    ):
        raise SecurityError(f"calling {name or 'this'}() is not allowed in a message")


def _check_string_method(text: str, name: str, args: tuple[Any, ...]) -> None:
    if name in PADDING and args and isinstance(args[0], int) and args[0] > MAX_CHARS:
        raise TooCostly(f"{name}() would pad to {args[0]:,} characters; at most {MAX_CHARS:,}")
    if name == "replace" and len(args) >= 2:
        check_replace(text, args[0], args[1], args[2] if len(args) > 2 else -1)


def check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    """``text`` with ``old`` replaced by ``new`` (``count`` times; -1 or None for all)
    refused if it would be longer than MAX_CHARS."""
    text, old, new = str(text), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    length = len(text) + found * (len(new) - len(old))
    if length > MAX_CHARS:
        raise TooCostly(f"replace would make {length:,} characters; at most {MAX_CHARS:,}")
