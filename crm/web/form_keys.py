"""A key for each console form that creates something: the page gets it in its address
(``?form=…``), so Back or a reload shows the form with the same key; the form posts it
back (``form_key``), and the service creates under it once (``crm.services.once``). So
a double click, Back then submit again, or a resent POST finds what the form made."""

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from bson import ObjectId
from flask import redirect, request, url_for

ARG = "form"
FIELD = "form_key"
OUT_OF_DATE = "The form was out of date; check it and submit it again."
_KEY = re.compile(r"[0-9a-fA-F]{24}")


def keyed(view: Callable[..., Any]) -> Callable[..., Any]:
    """``view`` (the page of such a form) is always shown with a key in its address:
    asked for without one, it redirects to itself with a new one."""

    @wraps(view)
    def with_key(**values: Any) -> Any:
        if parse(request.args.get(ARG)) is None:
            address = {**request.args.to_dict(), **values, ARG: fresh()}
            return redirect(url_for(str(request.endpoint), **address))
        return view(**values)

    return with_key


def shown() -> str:
    """The key in the address of the page being shown, for its form."""
    return request.args.get(ARG, "")


def posted() -> ObjectId | None:
    """The key the submitted form carries (None: missing, or not a key)."""
    return parse(request.form.get(FIELD))


def fresh() -> str:
    return str(ObjectId())


def parse(raw: str | None) -> ObjectId | None:
    return ObjectId(raw) if raw and _KEY.fullmatch(raw) else None
