"""JSON Schema keywords marshmallow cannot express, declared on a schema as
``class Meta: openapi = {...}`` (e.g. ``minProperties``) and copied into its component."""

from typing import Any

from apispec import BasePlugin


class SchemaExtrasPlugin(BasePlugin):
    def schema_helper(self, name: str, definition: dict, **kwargs: Any) -> dict | None:
        schema = kwargs.get("schema")
        return getattr(getattr(schema, "Meta", None), "openapi", None)
