"""The published contract is complete: every operation documents its errors."""

from openapi_schema_validator import OAS30Validator, oas30_format_checker


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def test_every_operation_documents_an_error_response(client):
    spec = client.get("/openapi.json").json
    for name, operation in operations(spec):
        responses = operation["responses"]
        assert "default" in responses or any(code.startswith("4") for code in responses), name
        assert operation.get("summary"), name


def test_every_body_has_a_schema(client):
    spec = client.get("/openapi.json").json
    for name, operation in operations(spec):
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]
            assert all("schema" in media for media in content.values()), name
            assert "422" in operation["responses"], name


def test_seed_paths_are_documented(client):
    paths = client.get("/openapi.json").json["paths"]
    for path in [
        "/api/customers",
        "/api/orders",
        "/api/audience",
        "/api/campaign",
        "/api/sendCampaign",
        "/api/sendCampaign/deliveryReceipt",
    ]:
        assert "post" in paths[path], path


def test_every_operation_has_a_unique_id(client):
    spec = client.get("/openapi.json").json
    ids = [operation["operationId"] for _, operation in operations(spec)]
    assert len(ids) == len(set(ids)) == len(list(operations(spec)))


def test_every_json_body_has_an_example_that_its_schema_accepts(client):
    spec = client.get("/openapi.json").json
    for name, operation in operations(spec):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None:
            continue
        assert "example" in body, name
        schema = {"components": spec["components"], "allOf": [body["schema"]]}
        validator = OAS30Validator(schema, format_checker=oas30_format_checker)
        assert not list(validator.iter_errors(body["example"])), name


def test_errors_met_before_the_view_are_documented(client):
    spec = client.get("/openapi.json").json
    for name, operation in operations(spec):
        responses = operation["responses"]
        assert {"401", "429"} <= set(responses), name
        if "requestBody" in operation:
            assert {"400", "413"} <= set(responses), name


def test_swagger_ui_keeps_the_key_across_reloads(anonymous):
    assert b'"persistAuthorization": true' in anonymous.get("/docs").data
