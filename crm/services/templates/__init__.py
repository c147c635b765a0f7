"""Campaign messages: Jinja templates rendered per customer in a sandbox, at a bounded cost.

The sandbox refuses attribute access to Python internals, and only the variables below
exist, so a template cannot reach anything but the customer being addressed. What a
template may hold is checked before it is compiled (``checks``), and each render has a
budget of time, loop steps and size that every operator, call, filter, loop step and
output checks before it runs (``budget``). A template is checked by rendering it once
for a sample customer too, so one that would be refused for anyone is refused when it is
saved. Every problem names the template's line.
"""

import traceback
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from bson import Decimal128
from jinja2 import Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError

from crm.services.errors import InvalidInput
from crm.services.templates import budget, checks
from crm.services.templates.environment import BoundedEnvironment

MAX_RENDERED_CHARS = budget.MAX_CHARS
VARIABLES = frozenset(
    {
        "customer_id",
        "name",
        "email",
        "total_spends",
        "visit_count",
        "last_visit_date",
        "attributes",
        "unsubscribe_url",  # the customer's signed one-click link (crm/services/consent.py)
    }
)
SAMPLE = {
    "customer_id": "sample-0001",
    "name": "Sample Customer",
    "email": "customer@example.com",
    "total_spends": Decimal("12345.67"),
    "visit_count": 12,
    "last_visit_date": datetime(2025, 1, 31, 12, 0),
    "attributes": {},
}
# Refused for the sample customer, so for everyone: a template doing these is not saved.
REFUSED_FOR_ANYONE = (budget.TooCostly, SecurityError)

_environment = BoundedEnvironment()


class RenderFailed(InvalidInput):
    """The template failed for this customer: its error names the line."""


def validate(source: str, field: str = "message") -> None:
    """Raise InvalidInput unless ``source`` is allowed, uses only the known variables and
    renders for a sample customer within its budget."""
    _, used = _checked(source, field)
    unknown = sorted(set(used) - VARIABLES)
    if unknown:
        known = ", ".join(sorted(VARIABLES))
        problems = [
            f"Line {used[name]}: Unknown variable {name!r}; use one of {known}." for name in unknown
        ]
        raise InvalidInput("The message template uses unknown variables.", {field: problems})
    try:
        render(source, SAMPLE, field)
    except RenderFailed as error:
        if isinstance(error.__cause__, REFUSED_FOR_ANYONE):
            raise


def uses(source: str, name: str) -> bool:
    """Whether the template ``source`` refers to the variable ``name``."""
    return name in _checked(source, "message")[1]


def render(source: str, customer: dict[str, Any], field: str = "message") -> str:
    """``source`` rendered for ``customer``; RenderFailed if it fails or goes over budget."""
    template, _ = _checked(source, field)
    values = {name: _plain(customer.get(name)) for name in VARIABLES}
    values["attributes"] = values["attributes"] or {}
    # Made per campaign when it is sent; a preview before then shows where it goes.
    values["unsubscribe_url"] = customer.get("unsubscribe_url") or "[unsubscribe link]"
    with budget.spending():
        try:
            return "".join(template.generate(values))
        except Exception as error:
            reason = str(error) if isinstance(error, REFUSED_FOR_ANYONE) else _described(error)
            raise RenderFailed(
                "The message template cannot be rendered.",
                {field: [f"Line {_template_line(error)}: {reason}"]},
            ) from error


def _checked(source: str, field: str) -> tuple[Template, dict[str, int]]:
    try:
        return _compiled(source)
    except checks.Refused as refused:
        raise InvalidInput(refused.summary, {field: [f"Line {refused.line}: {refused}"]}) from None


@lru_cache(maxsize=64)
def _compiled(source: str) -> tuple[Template, dict[str, int]]:
    """The template compiled with its budget checks, and the variables it reads (with
    the line each is first read on)."""
    try:
        checks.check_tokens(_environment.lex(source))
        tree = _environment.parse(source)
        used = checks.names_used(tree)
        return _environment.from_string(_environment.budgeted(tree)), used
    except TemplateSyntaxError as error:
        raise checks.Refused(
            error.lineno, error.message or "", "The message template does not parse."
        ) from None
    except RecursionError:
        raise checks.Refused(
            1, "it nests too deeply", "The message template does not parse."
        ) from None


def _plain(value: Any) -> Any:
    """``value`` as a template works with it: BSON's Decimal128 (amounts) as a Decimal,
    which compares and computes with numbers."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _described(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def _template_line(error: BaseException) -> int:
    """The template line ``error`` was raised on (Jinja rewrites its traceback so)."""
    line = 1
    for frame, number in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == "<template>":
            line = number
    return line
