"""What every API answer promises, and signing in to the console."""

import re

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


def csrf_token(page: str) -> str:
    """The form token a console page carries."""
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def console_sign_in(client, email, password, address="127.0.0.1"):
    """A console sign-in form posted from ``address``, with the token its page gave."""
    environ = {"REMOTE_ADDR": address}
    form = client.get("/app/sign-in", environ_base=environ).get_data(as_text=True)
    data = {"csrf_token": csrf_token(form), "email": email, "password": password}
    return client.post("/app/sign-in", data=data, environ_base=environ)
