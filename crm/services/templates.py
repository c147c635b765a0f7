"""Campaign messages: Jinja templates rendered per customer in a sandbox.

The sandbox refuses attribute access to Python internals, and only the variables
below exist, so a template cannot reach anything but the customer being addressed.
"""

from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crm.services.errors import InvalidInput

# Longer than any SMS or e-mail body a vendor takes; a render past it is a render error.
MAX_RENDERED_CHARS = 100_000
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

_environment = ImmutableSandboxedEnvironment(autoescape=False)
_environment.globals.clear()  # no range/lipsum/cycler: a message needs only the customer


def validate(source: str, field: str = "message") -> None:
    """Raise InvalidInput unless ``source`` parses and uses only the known variables."""
    try:
        parsed = _environment.parse(source)
    except TemplateSyntaxError as error:
        raise InvalidInput(
            "The message template does not parse.",
            {"json": {field: [f"Line {error.lineno}: {error.message}"]}},
        ) from None
    unknown = meta.find_undeclared_variables(parsed) - VARIABLES
    if unknown:
        known = ", ".join(sorted(VARIABLES))
        raise InvalidInput(
            "The message template uses unknown variables.",
            {
                "json": {
                    field: [
                        f"Unknown variable {name!r}; use one of {known}."
                        for name in sorted(unknown)
                    ]
                }
            },
        )


@lru_cache(maxsize=64)
def compile_template(source: str) -> Template:
    return _environment.from_string(source)


@lru_cache(maxsize=64)
def uses(source: str, name: str) -> bool:
    """Whether the template ``source`` refers to the variable ``name``."""
    return name in meta.find_undeclared_variables(_environment.parse(source))


class RenderTooLong(ValueError):
    pass


def render(source: str, customer: dict[str, Any]) -> str:
    values = {name: customer.get(name) for name in VARIABLES}
    values["attributes"] = customer.get("attributes") or {}
    # Made per campaign when it is sent; a preview before then shows where it goes.
    values["unsubscribe_url"] = customer.get("unsubscribe_url") or "[unsubscribe link]"
    rendered = compile_template(source).render(values)
    if len(rendered) > MAX_RENDERED_CHARS:
        raise RenderTooLong(f"{len(rendered)} characters; at most {MAX_RENDERED_CHARS}")
    return rendered
