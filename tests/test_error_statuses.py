"""One status per kind of domain error, whether the API or the console meets it; only the
API says where in the request a refused field was."""

import pytest

from crm.services import errors
from tests.helpers.http import assert_error, console_sign_in

KINDS = {kind.__name__: kind for kind in errors.STATUS_OF} | {
    "InvalidTransition": errors.InvalidTransition,
    "QueueUnavailable": errors.QueueUnavailable,
}


def _raise(kind: str):
    raise KINDS[kind]("Refused.", {"name": ["Too long."]})


@pytest.fixture
def probed(app):
    """The app with a view that raises each kind, in the API and in the console."""
    app.add_url_rule("/api/probe/<kind>", "probe", _raise, methods=["GET", "POST"])
    # An endpoint named ``console.…`` is the console's: its sign-in check and error page apply.
    app.add_url_rule("/app/probe/<kind>", "console.probe", _raise)
    return app


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_api_and_the_console_answer_a_domain_error_with_one_status(probed, client, kind):
    from crm.services import users

    api = client.get(f"/api/probe/{kind}")
    assert_error(api, errors.status_of(KINDS[kind]("")), "query", "name")

    _, password = users.create("ann@example.com", "marketer", temporary=False)
    console = probed.test_client()
    assert console_sign_in(console, "ann@example.com", password).status_code == 302
    page = console.get(f"/app/probe/{kind}")
    assert page.status_code == api.status_code
    assert "name: Too long." in page.get_data(as_text=True)


def test_a_refused_field_is_in_the_query_of_a_get_and_in_the_body_of_a_post(probed, client):
    assert client.get("/api/probe/InvalidInput").json["errors"] == {
        "query": {"name": ["Too long."]}
    }
    posted = client.post("/api/probe/InvalidInput", json={"name": "x" * 300})
    assert posted.json["errors"] == {"json": {"name": ["Too long."]}}
