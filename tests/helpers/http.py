"""What every API answer promises."""

ERROR_FIELDS = {"code", "status", "message", "errors"}


def assert_error(response, status, location=None, field=None):
    """``response`` is the one error shape with ``status``, naming ``field`` under
    ``errors[location]`` when given; returns its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.json
    assert set(body) == ERROR_FIELDS and body["code"] == status
    if location is not None:
        assert field in body["errors"][location], body["errors"]
    return body
