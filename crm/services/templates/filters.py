"""The Jinja filters a template may use, each bounded before it runs: arguments that set
a width, a count or a repetition are checked against the budget, and every result is no
longer than a message may be.

Each is marked to take the render's context, so Jinja never runs one while compiling
(it would fold a filter of constants, ``"x" | center(100000000)``, ahead of any budget).
"""

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from crm.services.templates import budget, calls, operators
from crm.services.templates.budget import MAX_CHARS, TooCostly, check_size, size

Check = Callable[..., None]
LONGEST_INT_DIGITS = 3_000
MOST_SLICES = 1_000


def _width(value: Any, width: Any = 80, *rest: Any, **options: Any) -> None:
    if isinstance(width, int) and width > MAX_CHARS:
        raise TooCostly(f"center would pad to {width:,} characters; at most {MAX_CHARS:,}")


def _indent(value: Any, width: Any = 4, *rest: Any, **options: Any) -> None:
    width = options.get("width", width)
    each = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    lines = str(value).count("\n") + 1
    if lines * each + len(str(value)) > MAX_CHARS:
        raise TooCostly(f"indent would make more than {MAX_CHARS:,} characters")


def _format(value: Any, *args: Any, **kwargs: Any) -> None:
    operators.check_format(str(value), kwargs or args)


def _join(value: Any, separator: Any = "", *rest: Any, **options: Any) -> None:
    items = list(value) if isinstance(value, list | tuple | str | dict) else [value]
    length = size(items) + len(str(options.get("d", separator))) * len(items)
    if length > MAX_CHARS:
        raise TooCostly(f"join would make {length:,} characters; at most {MAX_CHARS:,}")


def _replace(value: Any, old: Any = "", new: Any = "", count: Any = None, **options: Any) -> None:
    calls.check_replace(value, old, new, count)


def _int(value: Any, *rest: Any, **options: Any) -> None:
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() > LONGEST_INT_DIGITS:
        raise TooCostly(f"int would make a number of more than {LONGEST_INT_DIGITS:,} digits")


def _count(value: Any, count: Any = 1, *rest: Any, **options: Any) -> None:
    if isinstance(count, int) and count > MOST_SLICES:
        raise TooCostly(f"at most {MOST_SLICES:,} batches or slices")


def _wordwrap(value: Any, width: Any = 79, *rest: Any, **options: Any) -> None:
    wrap = options.get("wrapstring") or (rest[1] if len(rest) > 1 else "\n")
    if len(str(value)) * (1 + len(str(wrap))) > MAX_CHARS:
        raise TooCostly(f"wordwrap could make more than {MAX_CHARS:,} characters")


def _sum(value: Any, attribute: Any = None, start: Any = 0, **options: Any) -> None:
    if not isinstance(options.get("start", start), int | float | Decimal):
        raise TooCostly("sum adds numbers only")


def _nothing(value: Any, *args: Any, **kwargs: Any) -> None:
    pass


CHECKS: dict[str, Check] = {
    "abs": _nothing,
    "batch": _count,
    "capitalize": _nothing,
    "center": _width,
    "count": _nothing,
    "d": _nothing,
    "default": _nothing,
    "dictsort": _nothing,
    "e": _nothing,
    "escape": _nothing,
    "filesizeformat": _nothing,
    "first": _nothing,
    "float": _nothing,
    "format": _format,
    "groupby": _nothing,
    "indent": _indent,
    "int": _int,
    "items": _nothing,
    "join": _join,
    "last": _nothing,
    "length": _nothing,
    "list": _nothing,
    "lower": _nothing,
    "map": _nothing,
    "max": _nothing,
    "min": _nothing,
    "reject": _nothing,
    "rejectattr": _nothing,
    "replace": _replace,
    "reverse": _nothing,
    "round": _nothing,
    "select": _nothing,
    "selectattr": _nothing,
    "slice": _count,
    "sort": _nothing,
    "string": _nothing,
    "striptags": _nothing,
    "sum": _sum,
    "title": _nothing,
    "tojson": _nothing,
    "trim": _nothing,
    "truncate": _nothing,
    "unique": _nothing,
    "upper": _nothing,
    "urlencode": _nothing,
    "wordcount": _nothing,
    "wordwrap": _wordwrap,
}


def bounded(builtin: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The allowed filters of ``builtin``, each checked before and after it runs."""
    return {name: _bounded(builtin[name], check) for name, check in CHECKS.items()}


def _bounded(original: Callable[..., Any], check: Check) -> Callable[..., Any]:
    passes = getattr(getattr(original, "jinja_pass_arg", None), "name", None)

    @pass_context
    def run(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget.current().check_time()
        if isinstance(value, Iterator):  # ``map`` and ``select`` hand on generators
            value = list(value)
        check_size(value, "the filtered value")
        check(value, *args, **kwargs)
        if passes == "context":
            result = original(context, value, *args, **kwargs)
        elif passes == "eval_context":
            result = original(context.eval_ctx, value, *args, **kwargs)
        elif passes == "environment":
            result = original(context.environment, value, *args, **kwargs)
        else:
            result = original(value, *args, **kwargs)
        check_size(result, "the filter's result")
        return result

    return run
