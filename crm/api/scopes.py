"""Which scope of API key each operation needs: GET and HEAD need ``read``, any other
method ``write``, and everything under /api/keys ``admin`` (admin ⊃ write ⊃ read).

The same rule is written into the OpenAPI document: each operation says its scope in
its description and as ``x-scope``, and documents the 403 a narrower key gets.
"""

from typing import Any

from apispec import BasePlugin

KEYS_PATH = "/api/keys"
READ_METHODS = frozenset({"GET", "HEAD"})
FORBIDDEN = {
    "description": "The API key's scope does not include this operation.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def required(method: str, path: str) -> str:
    if path == KEYS_PATH or path.startswith(KEYS_PATH + "/"):
        return "admin"
    return "read" if method.upper() in READ_METHODS else "write"


class ScopesPlugin(BasePlugin):
    """Adds each key-authenticated operation's scope and its 403 to the spec."""

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            if not path or not path.startswith("/api/") or "security" in operation:
                continue  # open, or signed by the vendor instead of a key
            scope = required(method, path)
            operation["x-scope"] = scope
            note = f"Needs an API key with scope `{scope}`."
            description = operation.get("description")
            operation["description"] = f"{description}\n\n{note}" if description else note
            operation.setdefault("responses", {})["403"] = FORBIDDEN
