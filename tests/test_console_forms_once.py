"""Every console form that creates or sends does so once per form: sent twice (a double
click, Back then submit, a resent POST), at once or one after the other, the database
holds one of what it made."""

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import requests

from crm.documents import Audience, Ingestion, IngestionChunk, Suppression, TestMessage, User
from crm.services import customers, users
from devstack.embedded import serve
from tests.helpers.console import form_fields, signed_in, token
from tests.helpers.http import csrf_token
from tests.helpers.vendors import stats

RULES = json.dumps({"logic": "AND", "rules": [{"field": "visit_count", "operator": "exists"}]})
CSV = "customer_id,name,email\nf-1,Fay,f1@example.com\nf-2,Gus,f2@example.com\n"


def _page(client, path):
    """The page at ``path`` as a browser lands on it (after its redirect to its form key)."""
    answer = client.get(path, follow_redirects=True)
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True), answer.request.full_path


def _twice_at_once(url, cookies, path, data, files=None):
    """``data`` posted to ``path`` by two requests at the same moment; their statuses."""
    start = threading.Barrier(2)

    def post(_):
        with requests.Session() as browser:
            browser.cookies.update(cookies)
            start.wait()
            sent = {name: (n, io.BytesIO(body), t) for name, (n, body, t) in (files or {}).items()}
            answer = browser.post(
                f"{url}{path}", data=data, files=sent, allow_redirects=False, timeout=30
            )
            return answer.status_code

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(post, range(2)))


def _signed_in_over_http(url, role):
    _, password = users.create(f"{role}@example.com", role, temporary=False)
    browser = requests.Session()
    form = browser.get(f"{url}/app/sign-in", timeout=10).text
    data = {"email": f"{role}@example.com", "password": password, "csrf_token": csrf_token(form)}
    assert browser.post(f"{url}/app/sign-in", data=data, timeout=10).ok
    return browser


def test_an_audience_form_saved_twice_at_once_makes_one_audience(app):
    customers.upsert({"customer_id": "a-1", "name": "Ann", "email": "a1@example.com"})
    with serve(app) as url:
        browser = _signed_in_over_http(url, "marketer")
        builder = browser.get(f"{url}/app/audiences/new", timeout=10)
        form = form_fields(builder.text, "audience-form") | {"name": "Twice", "rules": RULES}

        statuses = _twice_at_once(url, browser.cookies, "/app/audiences", form)

    assert statuses == [302, 302]
    assert [(a.name, a.size) for a in Audience.objects] == [("Twice", 1)]
    assert "?form=" in builder.url  # the form's key is in its address, for Back


def test_an_audience_form_saved_again_after_back_finds_the_audience_it_made(app):
    marketer = signed_in(app, "marketer")
    builder, address = _page(marketer, "/app/audiences/new")
    form = form_fields(builder, "audience-form") | {"name": "Back", "rules": RULES}
    assert marketer.post("/app/audiences", data=form).status_code == 302

    # Back shows the same address, so the same form key, again.
    again, back = _page(marketer, address)
    assert back == address
    answer = marketer.post("/app/audiences", data=form_fields(again, "audience-form") | form)

    assert answer.status_code == 302
    assert [a.name for a in Audience.objects] == ["Back"]
    listing = marketer.get(answer.headers["Location"]).get_data(as_text=True)
    assert "This form was saved already" in listing
    # A new audience is a new form, with a key of its own.
    other = form_fields(_page(marketer, "/app/audiences/new")[0], "audience-form")
    assert other["form_key"] != form["form_key"]
    assert marketer.post("/app/audiences", data=other | {"rules": RULES}).status_code == 302
    assert Audience.objects.count() == 2


def test_an_import_started_twice_at_once_makes_one_job_and_queues_its_rows_once(app, broker):
    with serve(app) as url:
        browser = _signed_in_over_http(url, "marketer")
        imports = browser.get(f"{url}/app/imports", timeout=10)
        form = form_fields(imports.text, "import-form") | {"kind": "customers"}
        file = {"file": ("twice.csv", CSV.encode(), "text/csv")}

        statuses = _twice_at_once(url, browser.cookies, "/app/imports", form, file)

    assert statuses == [302, 302]
    job = Ingestion.objects.get()
    assert (job.received, job.chunks) == (2, 1)
    assert IngestionChunk.objects(ingestion_id=job.id).count() == 1
    assert broker.client.hlen("dramatiq:ingestion.msgs") == 1  # its one chunk, queued once


def test_an_import_started_again_after_back_is_the_import_it_started(app):
    marketer = signed_in(app, "marketer")
    imports, address = _page(marketer, "/app/imports")
    form = form_fields(imports, "import-form") | {"kind": "customers"}

    def start():
        upload = {"file": (io.BytesIO(CSV.encode()), "again.csv", "text/csv")}
        return marketer.post("/app/imports", data=form | upload)

    first = start()
    assert _page(marketer, address)[1] == address  # Back: the same form key
    second = start()

    assert first.status_code == second.status_code == 302
    job = Ingestion.objects.get()
    assert first.headers["Location"] == second.headers["Location"] == f"/app/imports/{job.id}"
    shown = marketer.get(second.headers["Location"]).get_data(as_text=True)
    assert "This form started its import already" in shown


def test_a_user_added_twice_by_one_form_is_added_once_and_said_so(app):
    admin = signed_in(app, "admin")
    page, _ = _page(admin, "/app/users")
    form = {"csrf_token": csrf_token(page)} | form_fields(page, "add-user")
    form |= {"email": "new@example.com", "role": "viewer"}

    first = admin.post("/app/users", data=form)
    second = admin.post("/app/users", data=form)

    assert first.status_code == 200 and "shown once" in first.get_data(as_text=True)
    assert User.objects(email="new@example.com").count() == 1
    assert second.status_code == 302  # not an error: the user this form added
    said = admin.get(second.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "This form added new@example.com already" in said
    assert "exists" not in said
    # The page after adding offers a new form, to add another user.
    after = form_fields(first.get_data(as_text=True), "add-user")
    assert after["form_key"] != form["form_key"]


def test_a_suppression_added_twice_is_one_entry(app):
    marketer = signed_in(app, "marketer")
    form = form_fields(_page(marketer, "/app/suppressions")[0], "suppression-form")
    form |= {"address": "Twice@Example.com", "reason": "complaint"}

    answers = [marketer.post("/app/suppressions", data=form) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [302, 302]
    assert [(s.address, s.reason) for s in Suppression.objects] == [
        ("twice@example.com", "complaint")
    ]


@pytest.fixture
def served(app, vendor):
    """The app on a port (for the vendor's receipts), knowing where the vendor is."""
    customers.upsert({"customer_id": "t-1", "name": "Tia", "email": "t1@example.com"})
    with serve(app) as url:
        app.config["CRM_SETTINGS"] = replace(
            app.config["CRM_SETTINGS"], vendor_url=vendor, public_url=url
        )
        yield vendor


def test_a_test_message_sent_twice_under_one_key_reaches_the_vendor_once(app, served, http):
    marketer = signed_in(app, "marketer")
    body = {"idempotency_key": "a1b2c3d4e5f6", "customer_id": "t-1", "message": "Hi {{ name }}"}
    headers = {"X-CSRF-Token": token(marketer)}

    answers = [
        marketer.post("/app/campaigns/test-message", json=body, headers=headers) for _ in range(2)
    ]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].json == answers[1].json and answers[0].json["status"] == "ACCEPTED"
    assert TestMessage.objects.count() == 1
    assert stats(http, served)["messages"] == 1
