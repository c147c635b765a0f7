from flask import Blueprint, flash, render_template

from crm.services.errors import DomainError, status_of
from crm.web.fields import field_errors

blp = Blueprint(
    "console",
    __name__,
    url_prefix="/app",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def explain(error: DomainError) -> str:
    """The error's message with its field-level details, for a flash message."""
    details = [
        f"{path}: {problem}"
        for path, problems in field_errors(error).items()
        for problem in problems
    ]
    return " ".join([error.message, *details])


@blp.errorhandler(DomainError)
def error_page(error: DomainError) -> tuple[str, int]:
    """A console page whose subject is missing or refused says why, with its status."""
    return render_template("error.html", message=explain(error)), status_of(error)


def flash_error(error: DomainError) -> None:
    flash(explain(error), "danger")
