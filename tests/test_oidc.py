"""Console sign-in through an OpenID Connect provider: the app on a real port, a local
provider on another (tests/helpers/oidc_provider.py), a browser-like requests session
following the redirects between them."""

import re
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from crm import config, create_app
from crm.documents import User
from crm.services import users
from devstack.embedded import free_port, serve
from tests.helpers.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider

EMAIL = "mo@example.com"


@pytest.fixture(scope="module")
def provider_server():
    provider = Provider()
    with serve(provider.app()) as url:
        yield provider, url


@pytest.fixture
def provider(provider_server):
    provider, _ = provider_server
    provider.reset(EMAIL)
    return provider


@pytest.fixture
def settings(settings, provider_server):
    _, url = provider_server
    return replace(
        settings, oidc_issuer=url, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET
    )


@pytest.fixture
def console(app):
    with serve(app) as url:
        yield url


def _signed_out(browser: requests.Session, console: str) -> bool:
    return browser.get(f"{console}/app/").url.startswith(f"{console}/app/sign-in")


def test_a_provider_sign_in_lands_in_the_console_with_the_users_role(console, provider):
    users.create(EMAIL, "viewer", temporary=False)
    browser = requests.Session()
    page = browser.get(f"{console}/app/sign-in?next=/app/campaigns").text
    assert "Sign in with single sign-on" in page

    landed = browser.get(f"{console}/app/sign-in/oidc?next=/app/campaigns", timeout=10)

    assert landed.status_code == 200 and landed.url == f"{console}/app/campaigns"
    assert f"{EMAIL} · viewer" in landed.text
    assert browser.get(f"{console}/app/users").status_code == 403  # the role holds
    token = re.search(r'name="csrf-token" content="([^"]+)"', landed.text).group(1)
    signed_out = browser.post(f"{console}/app/sign-out", data={"csrf_token": token})
    assert signed_out.url == f"{console}/app/sign-in"  # the session's CSRF token works
    assert User.objects.get(email=EMAIL).last_signed_in_at is not None


def test_a_generated_password_is_voided_by_a_provider_sign_in(console, provider):
    _, generated = users.create(EMAIL, "admin")
    browser = requests.Session()
    landed = browser.get(f"{console}/app/sign-in/oidc", timeout=10)
    assert landed.url == f"{console}/app/" and f"{EMAIL} · admin" in landed.text
    assert users.authenticate(EMAIL, generated) is None
    assert not User.objects.get(email=EMAIL).must_change_password


REFUSALS = {
    "tampered signature": ({}, 401, "could not be verified"),
    "another audience": ({"aud": "another-client"}, 401, "could not be verified"),
    "another nonce": ({"nonce": "not-the-one-sent"}, 401, "could not be verified"),
    "expired": ({"exp": int(time.time()) - 600}, 401, "could not be verified"),
    "another issuer": ({"iss": "https://elsewhere.example"}, 401, "could not be verified"),
    "unverified e-mail": ({"email_verified": False}, 403, "has not verified"),
    "unknown e-mail": ({"email": "stranger@example.com"}, 403, "No console user has"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_bad_provider_answer_is_refused_and_signs_nobody_in(console, provider, case):
    users.create(EMAIL, "admin", temporary=False)
    change, status, message = REFUSALS[case]
    provider.change, provider.tamper_signature = change, case == "tampered signature"
    browser = requests.Session()

    refused = browser.get(f"{console}/app/sign-in/oidc", timeout=10)

    assert refused.status_code == status, refused.text
    assert refused.url.startswith(f"{console}/app/sign-in/oidc/callback?")
    assert message in refused.text
    assert _signed_out(browser, console)
    assert User.objects.count() == 1  # nothing created for an unknown address
    assert User.objects.get(email=EMAIL).last_signed_in_at is None


def test_a_callback_with_another_state_is_refused(console, provider):
    users.create(EMAIL, "admin", temporary=False)
    browser = requests.Session()
    at_provider = browser.get(f"{console}/app/sign-in/oidc", allow_redirects=False)
    back = browser.get(at_provider.headers["Location"], allow_redirects=False)
    callback = urlsplit(back.headers["Location"])
    code = parse_qs(callback.query)["code"][0]

    forged = urlencode({"code": code, "state": "a-state-this-browser-never-sent"})
    refused = browser.get(f"{console}{callback.path}?{forged}")

    assert refused.status_code == 401 and "could not be verified" in refused.text
    assert _signed_out(browser, console)


def test_refused_provider_sign_ins_count_toward_the_address_throttle(app, console, provider):
    app.config["CRM_SETTINGS"] = replace(app.config["CRM_SETTINGS"], sign_in_failures_per_address=1)
    users.create(EMAIL, "admin", temporary=False)
    browser = requests.Session()
    provider.change = {"aud": "another-client"}
    assert browser.get(f"{console}/app/sign-in/oidc").status_code == 401

    provider.change = {}
    refused = browser.get(f"{console}/app/sign-in/oidc")

    assert refused.status_code == 429 and "from this address" in refused.text
    assert _signed_out(browser, console)


def test_half_a_providers_settings_stops_the_api_naming_what_is_missing():
    half = config.Settings(
        secret_key="a-console-session-key",
        receipt_signing_secret="a-receipt-signing-secret",
        oidc_issuer="https://a.test",
    )
    with pytest.raises(SystemExit, match="CRM_OIDC_CLIENT_ID is not set"):
        config.require(half, "api")
    whole = replace(half, oidc_client_id="c", oidc_client_secret="x")
    config.require(whole, "api")
    with pytest.raises(SystemExit, match="CRM_OIDC_ISSUER is invalid"):
        config.require(replace(whole, oidc_issuer="accounts.google.com"), "api")


def test_a_provider_that_does_not_answer_is_a_502_page(settings, broker):
    silent = replace(settings, oidc_issuer=f"http://127.0.0.1:{free_port()}")
    response = create_app(silent).test_client().get("/app/sign-in/oidc")
    assert response.status_code == 502
    assert "did not answer" in response.get_data(as_text=True)


def test_a_deactivated_user_is_refused_by_the_provider_path_too(console, provider):
    users.create(EMAIL, "marketer", temporary=False)
    users.create("admin@example.com", "admin", temporary=False)
    users.deactivate(EMAIL, User.objects.get(email="admin@example.com"))
    browser = requests.Session()

    refused = browser.get(f"{console}/app/sign-in/oidc", timeout=10)

    assert refused.status_code == 403 and "deactivated" in refused.text
    assert _signed_out(browser, console)
