from typing import Any

from flask import Blueprint, flash, render_template

from crm.services.errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable

blp = Blueprint(
    "console",
    __name__,
    url_prefix="/app",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def status_of(error: DomainError) -> int:
    for kind, status in ((NotFound, 404), (Conflict, 409), (InvalidInput, 422), (Unavailable, 503)):
        if isinstance(error, kind):
            return status
    return 400


def explain(error: DomainError) -> str:
    """The error's message with its field-level details, for a flash message."""
    details: list[str] = []
    for location in error.errors.values():
        if isinstance(location, dict):
            for field, problems in location.items():
                details += [f"{field}: {problem}" for problem in _listed(problems)]
    return " ".join([error.message, *details])


def _listed(problems: Any) -> list[str]:
    return [str(problem) for problem in problems] if isinstance(problems, list) else [str(problems)]


@blp.errorhandler(DomainError)
def error_page(error: DomainError) -> tuple[str, int]:
    """A console page whose subject is missing or refused says why, with its status."""
    return render_template("error.html", message=explain(error)), status_of(error)


def flash_error(error: DomainError) -> None:
    flash(explain(error), "danger")
