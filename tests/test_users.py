"""Console users: the CLI that creates them, the first admin of a local stack, lockout."""

import stat
from datetime import timedelta

import pytest

from crm.documents import User
from crm.services import users
from devstack import stack


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
    stack.ensure_console_admin(tmp_path)  # users exist: nothing changes
    assert kept.read_text().strip() == password and User.objects.count() == 1


def test_the_lock_lifts_after_its_time_and_a_success_resets_the_count(app):
    _, password = users.create("bo@example.com", "viewer")
    for _ in range(4):
        assert users.authenticate("bo@example.com", "nope") is None
    assert users.authenticate("bo@example.com", password) is not None  # resets the count
    for _ in range(4):
        assert users.authenticate("bo@example.com", "nope") is None
    with pytest.raises(users.Locked):  # the fifth failure in a row
        users.authenticate("bo@example.com", "nope")
    with pytest.raises(users.Locked):  # even with the right password
        users.authenticate("bo@example.com", password)
    user = User.objects.get(email="bo@example.com")
    user.update(set__locked_until=user.locked_until - users.LOCK - timedelta(seconds=1))
    assert users.authenticate("bo@example.com", password) is not None
