"""Console users: the CLI that creates them, the first admin of a local stack, throttling."""

import stat
from dataclasses import replace

from crm.documents import User
from crm.services import users
from devstack import stack
from tests.helpers.http import console_sign_in


def test_the_cli_prints_a_password_that_signs_in(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "ann@example.com", "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    password = result.output.splitlines()[0]
    assert users.authenticate("ann@example.com", password).role == "admin"
    assert users.authenticate("ann@example.com", password + "x") is None
    again = app.test_cli_runner().invoke(args=["users", "create", "ann@example.com"])
    assert again.exit_code != 0 and "exists" in again.output


def test_a_local_stack_creates_one_first_admin_and_keeps_its_password_private(app, tmp_path):
    kept = stack.ensure_console_admin(tmp_path)
    password = kept.read_text().strip()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert users.authenticate(stack.LOCAL_ADMIN, password).role == "admin"
    assert User.objects.get().must_change_password  # printed in a terminal: replaced at once
    stack.ensure_console_admin(tmp_path)  # users exist: nothing changes
    assert kept.read_text().strip() == password and User.objects.count() == 1


def test_failed_sign_ins_from_one_address_across_accounts_are_throttled(app):
    app.config["CRM_SETTINGS"] = replace(app.config["CRM_SETTINGS"], sign_in_failures_per_address=3)
    _, password = users.create("ann@example.com", "marketer", temporary=False)
    guesser, elsewhere = app.test_client(), app.test_client()
    # Given three failures from one address, each against another account (none locked).
    for email in ("bob@example.com", "cy@example.com", "ann@example.com"):
        assert console_sign_in(guesser, email, "guess", "10.0.0.9").status_code == 401
    # Then even the right password is refused there, and not even checked.
    refused = console_sign_in(guesser, "ann@example.com", password, "10.0.0.9")
    assert refused.status_code == 429
    assert "from this address" in refused.get_data(as_text=True)
    ann = User.objects.get(email="ann@example.com")
    assert ann.last_signed_in_at is None
    # Another address signs in as usual.
    allowed = console_sign_in(elsewhere, "ann@example.com", password, "10.0.0.10")
    assert allowed.status_code == 302 and allowed.headers["Location"] == "/app/"


def test_an_account_with_a_generated_password_reaches_only_the_password_page(app):
    _, generated = users.create("dee@example.com", "admin")
    client = app.test_client()
    signed_in = console_sign_in(client, "dee@example.com", generated, "10.0.0.11")
    assert signed_in.headers["Location"].startswith("/app/password")
    for path in ("/app/", "/app/users", "/app/campaigns/new"):
        assert client.get(path).headers["Location"] == "/app/password", path
    assert client.get("/app/password").status_code == 200


def test_console_pages_of_missing_things_are_404_pages_saying_so(app):
    _, password = users.create("vi@example.com", "viewer")
    User.objects(email="vi@example.com").update(set__must_change_password=False)
    client = app.test_client()
    assert console_sign_in(client, "vi@example.com", password, "10.0.0.9").status_code == 302
    missing = "6b0f07e286b0212addc04d04"
    for path in (
        f"/app/campaigns/{missing}",
        f"/app/campaigns/{missing}/progress",
        f"/app/campaigns/{missing}/results",
        f"/app/imports/{missing}",
        "/app/customers/nobody",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "No " in response.get_data(as_text=True), path


def test_without_a_provider_configured_its_sign_in_is_not_there(app):
    client = app.test_client()
    assert "single sign-on" not in client.get("/app/sign-in").get_data(as_text=True)
    assert client.get("/app/sign-in/oidc").status_code == 404
    assert client.get("/app/sign-in/oidc/callback?code=x&state=y").status_code == 404
