"""Checking real responses against the published OpenAPI document, formats included."""

import re

from openapi_schema_validator import OAS30Validator, oas30_format_checker


class Contract:
    """Wraps a Flask test client: every response must be one its operation documents,
    with a body valid against the documented schema. Remembers which operations ran."""

    def __init__(self, client):
        self.client = client
        self.spec = client.get("/openapi.json").json
        self.seen: set[str] = set()
        # Literal paths first, so /api/audiences/fields is not taken for an audience id.
        self._routes = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in sorted(self.spec["paths"], key=lambda path: path.count("{"))
        ]

    def operation_ids(self) -> set[str]:
        return {
            operation["operationId"]
            for item in self.spec["paths"].values()
            for method, operation in item.items()
            if method != "parameters"
        }

    def call(self, method: str, path: str, expected: int, **kwargs):
        response = self.client.open(path, method=method, **kwargs)
        assert response.status_code == expected, (method, path, response.get_data(as_text=True))
        self.check(method, path, response)
        return response

    def check(self, method: str, path: str, response) -> None:
        operation = self._operation(method, path.split("?")[0])
        self.seen.add(operation["operationId"])
        name = f"{operation['operationId']} {response.status_code}"
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, f"{name}: status not documented"
        documented = self._resolve(documented)
        if response.mimetype != "application/json" and response.mimetype in documented.get(
            "content", {}
        ):
            return  # a download (text/csv): its columns are the operation's own test's
        schema = documented.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            assert not response.get_data(), f"{name}: a body where none is documented"
            return
        # Refs inside the schema resolve against the spec's components.
        root = {"components": self.spec["components"], "allOf": [schema]}
        validator = OAS30Validator(root, format_checker=oas30_format_checker)
        problems = [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(response.json)
        ]
        assert not problems, f"{name}: {problems}"

    def _operation(self, method: str, path: str) -> dict:
        for pattern, template in self._routes:
            operation = self.spec["paths"][template].get(method.lower())
            if operation and pattern.match(path):
                return operation
        raise AssertionError(f"{method} {path} is not documented")

    def _resolve(self, item: dict) -> dict:
        while "$ref" in item:
            section, name = item["$ref"].split("/")[-2:]
            item = self.spec["components"][section][name]
        return item
