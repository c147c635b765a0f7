"""What every API answer promises."""

ERROR_FIELDS = {"code", "status", "message", "errors"}


def assert_error(response, status, location=None, field=None):
    """``response`` (a test client's or a ``requests`` one) is the one error shape with
    ``status`` and a message, naming ``field`` under ``errors[location]`` when given;
    returns its ``errors``."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json() if callable(response.json) else response.json
    assert set(body) == ERROR_FIELDS and body["code"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    if location is not None:
        assert field in body["errors"][location], body["errors"]
    return body["errors"]
