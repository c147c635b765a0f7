"""What admins do to console users: deactivate and reactivate them, give them a new
password; never leaving the console without an active admin."""

import mongoengine
import pytest
from pymongo.errors import OperationFailure

from crm.documents import User
from crm.services import users
from crm.services.errors import Conflict
from crm.store import users as store
from tests.helpers.console import signed_in, token


def _user(role, email=None):
    email = email or f"{role}@example.com"
    _, password = users.create(email, role, temporary=False)
    return email, password


def _sign_in(app, email, password):
    client = app.test_client()
    data = {"email": email, "password": password, "csrf_token": token(client, "sign-in")}
    return client, client.post("/app/sign-in", data=data)


def _post(client, path, email):
    return client.post(path, data={"email": email, "csrf_token": token(client, "users")})


def _is_signed_in(client):
    return client.get("/app/campaigns").status_code == 200


def test_a_deactivated_user_is_signed_out_and_refused_until_reactivated(app):
    admin = signed_in(app, "admin")
    email, password = _user("marketer")
    marketer, _ = _sign_in(app, email, password)
    assert _is_signed_in(marketer)

    assert _post(admin, "/app/users/deactivate", email).status_code == 302

    assert not _is_signed_in(marketer)
    _, refused = _sign_in(app, email, password)
    assert refused.status_code == 403 and "deactivated" in refused.get_data(as_text=True)
    _, wrong = _sign_in(app, email, password + "x")
    assert wrong.status_code == 401  # a wrong password says nothing of the account

    _post(admin, "/app/users/reactivate", email)
    again, answer = _sign_in(app, email, password)
    assert answer.status_code == 302 and _is_signed_in(again)


def test_a_new_password_ends_the_old_one_and_the_users_sessions(app):
    admin = signed_in(app, "admin")
    email, old = _user("viewer")
    viewer, _ = _sign_in(app, email, old)

    shown = _post(admin, "/app/users/password", email)
    assert shown.status_code == 200
    new = shown.get_data(as_text=True).split("shown once: ")[1].split(" ")[0]

    assert not _is_signed_in(viewer)
    assert _sign_in(app, email, old)[1].status_code == 401
    _, answer = _sign_in(app, email, new)
    assert answer.headers["Location"].startswith("/app/password")  # to be replaced at once


def test_the_last_active_admin_is_never_demoted_or_deactivated(app):
    admin = signed_in(app, "admin")
    other, _ = _user("admin", "second@example.com")
    _post(admin, "/app/users/deactivate", other)
    assert User.objects.get(email=other).deactivated_at is not None

    for refused in (
        lambda: users.set_role("admin@example.com", "viewer"),
        lambda: users.deactivate("admin@example.com", User.objects.get(email=other)),
    ):
        try:
            refused()
        except Conflict as error:
            assert "active admin" in error.message
        else:
            raise AssertionError("the last active admin was changed")
    page = _post(admin, "/app/users/deactivate", "admin@example.com")  # oneself
    assert page.status_code == 302
    assert User.objects.get(email="admin@example.com").deactivated_at is None
    assert _is_signed_in(admin)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app):
    ids = [User.objects.get(email=_user("admin", f"{n}@example.com")[0]).id for n in "ab"]
    demote = {"$set": {"role": "viewer"}}
    connection = mongoengine.get_connection()
    with connection.start_session() as one, connection.start_session() as other:
        one.start_transaction()
        other.start_transaction()
        store.change_keeping_an_admin(ids[0], demote, one)
        with pytest.raises(OperationFailure) as conflict:
            store.change_keeping_an_admin(ids[1], demote, other)
        assert conflict.value.has_error_label("TransientTransactionError")
        other.abort_transaction()
        one.commit_transaction()
    # The conflicting change, retried as the service retries it, finds b the last admin.
    with pytest.raises(Conflict):
        users.set_role("b@example.com", "viewer")
    assert [u.email for u in User.objects(role="admin", deactivated_at=None)] == ["b@example.com"]


def test_only_admins_manage_users(app):
    marketer = signed_in(app, "marketer")
    _user("viewer")
    for path in ("/app/users/deactivate", "/app/users/reactivate", "/app/users/password"):
        assert _post(marketer, path, "viewer@example.com").status_code == 403
    assert User.objects.get(email="viewer@example.com").deactivated_at is None


def test_the_cli_gives_a_locked_out_admin_a_way_back(app):
    email, _ = _user("admin")
    users.deactivate(email, User.objects.get(email=_user("admin", "b@example.com")[0]))
    result = app.test_cli_runner().invoke(args=["users", "reset-password", email])
    assert result.exit_code == 0, result.output
    password = result.output.splitlines()[0]
    assert users.authenticate(email, password).must_change_password


def test_a_role_changed_by_an_admin_holds_from_the_users_next_sign_in(app):
    admin = signed_in(app, "admin")
    email, password = _user("viewer")
    viewer, _ = _sign_in(app, email, password)
    data = {"email": email, "role": "marketer", "csrf_token": token(admin, "users")}

    assert admin.post("/app/users/role", data=data).status_code == 302

    assert User.objects.get(email=email).role == "marketer"
    assert not _is_signed_in(viewer)  # signed in with the old role
    again, _ = _sign_in(app, email, password)
    assert f"{email} · marketer" in again.get("/app/campaigns").get_data(as_text=True)
