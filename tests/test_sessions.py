"""Console sessions and sign-in: a session ends for good when its user signs out, is
deactivated or changes role or password, and after its idle and absolute timeouts;
sign-in answers the same for every account and slows guessing without locking anyone out."""

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import requests

from crm.documents import Campaign, User
from crm.services import users
from devstack.embedded import serve
from tests.helpers.console import form_fields, signed_in, token
from tests.helpers.http import console_sign_in, csrf_token

TOKENS = re.compile(r'(content|value)="[A-Za-z0-9_-]{43}"')


def _settings(app, **changes):
    app.config["CRM_SETTINGS"] = replace(app.config["CRM_SETTINGS"], **changes)


def _replayed(app, cookie):
    """A fresh browser holding only ``cookie``: whether it reaches a console page."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/app/campaigns").status_code == 200


def _post(client, path, **form):
    return client.post(path, data={**form, "csrf_token": token(client, "users")})


def test_a_cookie_replayed_after_sign_out_is_refused(app):
    marketer = signed_in(app, "marketer")
    cookie = marketer.get_cookie("session").value
    assert _replayed(app, cookie)

    assert _post(marketer, "/app/sign-out").status_code == 302

    assert not _replayed(app, cookie)


def test_a_cookie_from_before_a_change_undone_stays_refused(app):
    admin = signed_in(app, "admin")
    _, password = users.create("mo@example.com", "marketer", temporary=False)
    for change, undo in (
        (("/app/users/deactivate", {}), ("/app/users/reactivate", {})),
        (("/app/users/role", {"role": "viewer"}), ("/app/users/role", {"role": "marketer"})),
    ):
        marketer = app.test_client()
        assert console_sign_in(marketer, "mo@example.com", password).status_code == 302
        cookie = marketer.get_cookie("session").value

        for path, form in (change, undo):
            assert _post(admin, path, email="mo@example.com", **form).status_code == 302

        assert User.objects.get(email="mo@example.com").role == "marketer"
        assert not _replayed(app, cookie), change[0]


def test_a_session_ends_after_its_idle_and_its_absolute_timeout(app):
    _settings(app, session_idle_minutes=30, session_max_hours=12)
    marketer = signed_in(app, "marketer")
    now = time.time()
    with marketer.session_transaction() as session:
        signed = dict(session)
        assert all(abs(signed[key] - now) < 60 for key in ("signed_in_at", "seen_at"))
    for key, age, served in (
        ("seen_at", timedelta(minutes=29), True),
        ("seen_at", timedelta(minutes=31), False),
        ("signed_in_at", timedelta(hours=11, minutes=59), True),
        ("signed_in_at", timedelta(hours=12, minutes=1), False),
    ):
        with marketer.session_transaction() as session:
            session.update(signed)
            session[key] = now - age.total_seconds()
        answer = marketer.get("/app/campaigns")
        assert (answer.status_code == 200) == served, (key, age)


def _answers(client, email, address, times):
    """What ``times`` wrong sign-ins to ``email`` from ``address`` answer, e-mail aside."""
    seen = []
    for _ in range(times):
        answer = console_sign_in(client, email, "a wrong guess", address)
        page = TOKENS.sub("", answer.get_data(as_text=True).replace(email, ""))
        seen.append((answer.status_code, page))
    return seen


def test_unknown_and_existing_accounts_answer_alike_as_failures_mount(app):
    users.create("real@example.com", "admin", temporary=False)
    real = _answers(app.test_client(), "real@example.com", "10.1.0.1", 8)
    unknown = _answers(app.test_client(), "ghost@example.com", "10.1.0.2", 8)
    assert [status for status, _ in real] == [status for status, _ in unknown]
    assert real == unknown
    assert {status for status, _ in real} == {401, 429}  # slowed, past the limit


def test_guessing_from_elsewhere_never_refuses_the_right_password(app):
    _settings(app, sign_in_failures_per_account=5)
    _, password = users.create("boss@example.com", "admin", temporary=False)
    guesser = app.test_client()
    statuses = [status for status, _ in _answers(guesser, "boss@example.com", "10.2.0.9", 12)]
    assert statuses == [401] * 5 + [429] * 7
    # The guesser is slowed; the admin, from their own address, signs in at once.
    admin = app.test_client()
    signed = console_sign_in(admin, "boss@example.com", password, "10.2.0.10")
    assert signed.status_code == 302 and signed.headers["Location"] == "/app/"
    # Even from the guesser's address the right password is let through once the window
    # turns; within it, the answer is a 429 that says when to try again, never "locked".
    refused = console_sign_in(guesser, "boss@example.com", password, "10.2.0.9")
    assert refused.status_code == 429 and "try again in" in refused.get_data(as_text=True)


def test_a_burst_of_concurrent_sign_ins_checks_no_more_passwords_than_the_limit(app):
    _settings(app, sign_in_failures_per_account=5, sign_in_failures_per_address=1000)
    users.create("target@example.com", "admin", temporary=False)
    with serve(app) as url:
        browsers = []
        for _ in range(61):
            browser = requests.Session()
            form = browser.get(f"{url}/app/sign-in", timeout=10).text
            browsers.append((browser, csrf_token(form)))
        start = threading.Barrier(len(browsers))

        def attempt(browser_and_token):
            browser, token = browser_and_token
            start.wait()
            data = {"email": "target@example.com", "password": "guess", "csrf_token": token}
            return browser.post(f"{url}/app/sign-in", data=data, timeout=60).status_code

        with ThreadPoolExecutor(len(browsers)) as pool:
            statuses = list(pool.map(attempt, browsers))
    checked = statuses.count(401)  # a 401 is a password checked and found wrong
    assert checked <= 5 and checked + statuses.count(429) == 61, statuses
    assert User.objects.get(email="target@example.com").last_signed_in_at is None


def test_an_admins_temporary_password_is_in_the_answer_never_in_the_cookie(app):
    admin = signed_in(app, "admin")
    users_page = admin.get("/app/users", follow_redirects=True).get_data(as_text=True)
    form_key = form_fields(users_page, "add-user")["form_key"]
    created = _post(admin, "/app/users", email="new@example.com", role="viewer", form_key=form_key)
    reset = _post(admin, "/app/users/password", email="new@example.com")
    serializer = app.session_interface.get_signing_serializer(app)
    for answer in (created, reset):
        assert answer.status_code == 200
        password = answer.get_data(as_text=True).split("shown once: ")[1].split(" ")[0]
        cookie = json.dumps(serializer.loads(admin.get_cookie("session").value))
        assert password not in cookie
        listing = admin.get("/app/users", follow_redirects=True).get_data(as_text=True)
        assert "shown once" not in listing
    assert users.authenticate("new@example.com", password).must_change_password


def test_weak_new_passwords_are_refused_with_a_field_error(app):
    _, current = users.create("weak@example.com", "viewer", temporary=False)
    client = app.test_client()
    console_sign_in(client, "weak@example.com", current)
    before = User.objects.get(email="weak@example.com").password_hash
    for weak in (
        "aaaaaaaaaaaa",
        "password1234",
        "123456789012",
        "qwertyuiop12",
        "Weak@example.com",
    ):
        data = {"current_password": current, "new_password": weak, "confirmation": weak}
        answer = client.post("/app/password", data={**data, "csrf_token": token(client)})
        assert answer.status_code == 422, weak
        assert "new_password:" in answer.get_data(as_text=True), weak
    assert User.objects.get(email="weak@example.com").password_hash == before
    strong = "tram lantern oyster 42"
    data = {"current_password": current, "new_password": strong, "confirmation": strong}
    assert (
        client.post("/app/password", data={**data, "csrf_token": token(client)}).status_code == 302
    )


def test_a_session_ending_mid_compose_keeps_the_form_through_sign_in(app):
    _settings(app, session_idle_minutes=30)
    _, password = users.create("writer@example.com", "marketer", temporary=False)
    marketer = app.test_client()
    console_sign_in(marketer, "writer@example.com", password)
    composer = marketer.get("/app/campaigns/new").get_data(as_text=True)
    form = form_fields(composer, "composer") | {
        "name": "Spring sale",
        "message": "Hi {{ name }}, spring is here",
    }
    with marketer.session_transaction() as session:  # away longer than the idle timeout
        session["seen_at"] -= timedelta(minutes=31).total_seconds()

    kept = marketer.post("/app/campaigns", data=form)

    assert kept.status_code == 401 and Campaign.objects.count() == 0
    sign_in_page = kept.get_data(as_text=True)
    assert "Spring sale" in sign_in_page
    again = form_fields(sign_in_page, "sign-in")
    again |= {"email": "writer@example.com", "password": password}
    back = marketer.post("/app/sign-in", data=again)
    assert back.status_code == 200
    restored = form_fields(back.get_data(as_text=True), "composer")
    assert restored["name"] == "Spring sale"
    assert restored["message"] == "Hi {{ name }}, spring is here"
    assert Campaign.objects.count() == 0  # nothing saved until the marketer saves it


def test_a_non_ascii_form_token_is_a_400(app):
    marketer = signed_in(app, "marketer")
    for sent in ("é", "tök€n"):
        answer = marketer.post("/app/audiences", data={"name": "x", "csrf_token": sent})
        assert answer.status_code == 400, sent
    assert marketer.post("/app/audiences", headers={"X-CSRF-Token": "é"}).status_code == 400
