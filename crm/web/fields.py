"""Forms checked by the API's own schemas, and their field-level errors keyed by the
dotted path of the field (``schedule.send_at``, ``variants.1.message``), which is also the
name of the form's input, so each error can be shown next to its field."""

from typing import Any

import marshmallow as ma

from crm.services.errors import DomainError, InvalidInput


def load(schema: ma.Schema, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` as the API would load it; InvalidInput with the API's field errors."""
    try:
        return schema.load(payload)
    except ma.ValidationError as error:
        raise InvalidInput("Check the highlighted fields.", error.normalized_messages()) from None


def field_errors(error: DomainError) -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    _flatten(error.errors, "", flat)
    return flat


def _flatten(found: Any, path: str, flat: dict[str, list[str]]) -> None:
    if isinstance(found, dict):
        for key, inner in found.items():
            _flatten(inner, f"{path}.{key}" if path else str(key), flat)
    elif isinstance(found, list) and all(isinstance(item, str) for item in found):
        flat.setdefault(path or "_schema", []).extend(found)
    else:
        flat.setdefault(path or "_schema", []).append(str(found))
