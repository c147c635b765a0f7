from typing import Any

import marshmallow as ma

from crm.schemas import storable

# Field metadata: the field's text may hold newlines and tabs (a message template).
MULTILINE = "multiline"


class BaseSchema(ma.Schema):
    """Rejects unknown fields, so a typo is an error rather than silently ignored, and
    values MongoDB could not store (see ``storable``), each under its field's name."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    @ma.pre_load
    def reject_unstorable(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        errors: dict[str, list[str]] = {}
        for name, value in data.items():
            key_problem = storable.text_problem(name) if isinstance(name, str) else None
            if key_problem:
                errors[repr(name)] = [f"Unusable field name: {key_problem}"]
                continue
            field = self.fields.get(name) or self._field_by_data_key(name)
            multiline = bool(field and field.metadata.get(MULTILINE))
            found = storable.problem(value, multiline)
            if found:
                errors[name] = [found]
        if errors:
            raise ma.ValidationError(errors)
        return data

    def _field_by_data_key(self, data_key: str) -> ma.fields.Field | None:
        return next((f for f in self.fields.values() if f.data_key == data_key), None)
