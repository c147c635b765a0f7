"""A message template's cost is bounded before it runs: costly operators and loops are
refused with the line they are on, in every place a template is checked or rendered, and
the API keeps answering meanwhile. Ordinary logic on numbers works everywhere."""

import os
import sys
import threading
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from crm.documents import Audience, Campaign, CommunicationLog, TestMessage
from crm.services import customers, templates
from devstack import embedded
from devstack.embedded import serve
from tests.helpers.console import signed_in, token
from tests.helpers.factories import EVERYONE, new_campaign
from tests.helpers.http import assert_error
from tests.helpers.polling import wait_until_finished
from tests.helpers.vendors import stats

SEVEN_LOOPS = "".join(f"{{% for x{n} in name %}}" for n in range(7)) + "." + "{% endfor %}" * 7
COSTLY = {
    "{{ 9**4000000 }}": 1,
    "Hi {{ name }},\n{{ 9**16000000 }}": 2,
    "{{ name * 100000000 }}": 1,
    "Dear {{ name }}\n\n" + SEVEN_LOOPS: 3,
    "{{ '%0100000000d' % 1 }}": 1,
    "{{ name | center(100000000) }}": 1,
    "{{ name.ljust(100000000) }}": 1,
    "{{ 'ab' ~ name * 60000 }}": 1,
    "{% for a in name * 100 %}{% for b in name * 100 %}{% endfor %}{% endfor %}": 1,
}
NUMBERS = "{% if total_spends > 10000 %}Big{% else %}Small{% endif %} {{ total_spends * 2 }}"


def costly_line(errors, field="message"):
    (problem,) = errors["json"][field]
    return int(problem.split(":")[0].removeprefix("Line "))


@pytest.fixture
def audience_id(app):
    return str(Audience(rules=EVERYONE).save().id)


@pytest.fixture
def spender(app):
    customers.upsert(
        {
            "customer_id": "c-big",
            "name": "Asha",
            "email": "a@example.com",
            "total_spends": Decimal("12000.00"),
        }
    )


@pytest.mark.parametrize(("message", "line"), COSTLY.items())
def test_a_costly_template_is_refused_on_create_with_its_line(client, audience_id, message, line):
    response = client.post("/api/campaign", json={"audience_id": audience_id, "message": message})
    assert costly_line(assert_error(response, 422, "json", "message")) == line
    assert Campaign.objects.count() == 0


def test_a_costly_variant_or_edit_is_refused_and_the_draft_kept(client, audience_id):
    body = {"audience_id": audience_id, "message": "Hi {{ name }}"}
    draft = client.post("/api/campaign", json=body).json["id"]
    variants = [{"message": "Hi"}, {"message": "{{ name * 100000000 }}"}]
    refused = client.patch(f"/api/campaign/{draft}", json={"variants": variants})
    assert "1" in assert_error(refused, 422, "json", "variants")["json"]["variants"]
    refused = client.patch(f"/api/campaign/{draft}", json={"message": "{{ 9**4000000 }}"})
    assert_error(refused, 422, "json", "message")
    assert Campaign.objects.get(id=draft).message == "Hi {{ name }}"


def test_a_variant_without_its_message_is_a_422(client, audience_id):
    body = {"audience_id": audience_id, "message": "Hi {{ name }}"}
    draft = client.post("/api/campaign", json=body).json["id"]
    refused = client.patch(f"/api/campaign/{draft}", json={"variants": [{"weight": 2}]})
    assert "message" in assert_error(refused, 422, "json", "variants")["json"]["variants"]["0"]
    assert Campaign.objects.get(id=draft).variants == []


@pytest.mark.parametrize(
    "message",
    [
        "{{ name * 100000000 }}",
        "{{ name.__class__.__mro__[1].__subclasses__() }}",
        "{{ name.format_map(attributes) }}",
        "{{ (((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))) }}",
    ],
)
def test_the_console_preview_refuses_a_costly_or_unsafe_template(app, spender, message):
    marketer = signed_in(app, "marketer")
    audience_id = str(Audience(rules=EVERYONE).save().id)
    response = marketer.post(
        "/app/campaigns/preview",
        json={"audience_id": audience_id, "message": message},
        headers={"X-CSRF-Token": token(marketer)},
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert "Line 1" in response.json["message"]


def test_numbers_compare_and_multiply_in_the_console_preview(app, spender):
    marketer = signed_in(app, "marketer")
    audience_id = str(Audience(rules=EVERYONE).save().id)
    response = marketer.post(
        "/app/campaigns/preview",
        json={"audience_id": audience_id, "message": NUMBERS + " {{ total_spends * 1.5 }}"},
        headers={"X-CSRF-Token": token(marketer)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.json["rendered"][0]["text"] == "Big 24000.00 18000.000"


@pytest.fixture
def served(app, vendor, spender):
    with serve(app) as url:
        app.config["CRM_SETTINGS"] = replace(
            app.config["CRM_SETTINGS"], vendor_url=vendor, public_url=url
        )
        yield vendor


@pytest.mark.parametrize(
    "message",
    [
        "{{ name.__class__.__mro__[1].__subclasses__() }}",
        "{{ name * 100000000 }}",
        "{{ 9**4000000 }}",
        "Hi\n{{ total_spends ** 100000000 }}",
    ],
)
def test_a_test_message_with_a_costly_or_unsafe_template_is_a_422(client, served, http, message):
    body = {"idempotency_key": "key-0001", "customer_id": "c-big", "message": message}
    assert_error(client.post("/api/testMessages", json=body), 422, "json", "message")
    assert TestMessage.objects.count() == 0 and stats(http, served)["messages"] == 0


def test_a_test_message_with_numbers_is_sent(client, served):
    body = {"idempotency_key": "key-0001", "customer_id": "c-big", "message": NUMBERS}
    response = client.post("/api/testMessages", json=body)
    assert response.status_code == 200, response.json
    assert response.json["body"] == "Big 24000.00"


def sent(client, message):
    campaign_id = new_campaign(client, message)
    assert client.post("/api/sendCampaign", json={"campaign_id": campaign_id}).status_code == 202
    return campaign_id


def test_a_campaign_with_numbers_sends_each_member_their_figure(client, live, vendor):
    for n, spent in enumerate([500, 12000, 20000.5]):
        body = {"customer_id": f"c{n}", "name": f"N{n}", "email": f"c{n}@example.com"}
        assert client.post("/api/customers", json=body | {"total_spends": spent}).status_code == 201
    campaign = wait_until_finished(client, sent(client, NUMBERS))
    assert campaign["stats"]["sent"] == 3
    messages = {log.customer_id: log.message for log in CommunicationLog.objects}
    assert messages == {"c0": "Small 1000.00", "c1": "Big 24000.00", "c2": "Big 40001.00"}


def test_a_render_too_costly_for_one_member_fails_only_that_message(client, live):
    for n, visits in enumerate([3, 50_000]):
        body = {"customer_id": f"c{n}", "name": f"Nam{n}", "email": f"c{n}@example.com"}
        assert client.post("/api/customers", json=body | {"visit_count": visits}).status_code == 201
    campaign = wait_until_finished(client, sent(client, "{{ name * visit_count }}"))
    assert (campaign["stats"]["sent"], campaign["stats"]["failed"]) == (1, 1)
    failed = CommunicationLog.objects.get(status="FAILED")
    assert (failed.customer_id, failed.reason) == ("c1", "render_error")
    assert CommunicationLog.objects.get(status="SENT").message == "Nam0" * 3


@pytest.fixture
def gunicorn(settings, app, tmp_path):
    """The API served by gunicorn in a process of its own, one worker of four threads
    (sharing one interpreter lock, so one request holding it stalls the others)."""
    port = embedded.free_port()
    bin_dir = Path(sys.executable).parent
    command = [bin_dir / "gunicorn", "-w", "1", "--threads", "4", "-b", f"127.0.0.1:{port}"]
    env = {**os.environ, "CRM_MONGODB_URI": settings.mongodb_uri}
    server = embedded.spawn([*map(str, command), "wsgi:app"], tmp_path / "api.log", env)
    embedded.wait_for_port(port, server, what="the API")
    yield f"http://127.0.0.1:{port}"
    embedded.stop([server])


def test_the_api_answers_while_costly_templates_are_refused(gunicorn, api_key, audience_id):
    """Two of the costliest templates at once, and health probes answering within 1 s
    all the while."""
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"audience_id": audience_id, "message": "{{ 9**16000000 }}"}
    answers: list[requests.Response] = []

    def create():
        answers.append(requests.post(f"{gunicorn}/api/campaign", json=body, headers=headers))

    senders = [threading.Thread(target=create) for _ in range(2)]
    for sender in senders:
        sender.start()
    probes = [requests.get(f"{gunicorn}/health/live", timeout=1).status_code]
    while any(sender.is_alive() for sender in senders):
        probes.append(requests.get(f"{gunicorn}/health/live", timeout=1).status_code)
    for sender in senders:
        sender.join()
    assert set(probes) == {200}
    assert [answer.status_code for answer in answers] == [422, 422]


def test_a_render_past_its_time_budget_stops_with_its_line():
    slow = (
        "Hi\n{% for a in name * 25 %}{% for b in name * 25 %}"
        "{{ '' if (name * 25000) | upper | lower | upper | lower == a }}"
        "{% endfor %}{% endfor %}"
    )
    with pytest.raises(templates.RenderFailed) as refused:
        templates.render(slow, {"name": "Asha"})
    assert refused.value.errors["message"] == [
        "Line 2: the message took longer than 0.5 s to render"
    ]


def test_output_past_the_cap_stops_while_rendering():
    many = "{% for a in name * 100 %}{{ name * 900 }}{% endfor %}"
    with pytest.raises(templates.RenderFailed) as refused:
        templates.render(many, {"name": "Asha"})
    assert refused.value.errors["message"] == [
        "Line 1: the message would be longer than 100,000 characters"
    ]


def test_ordinary_templates_still_render():
    source = (
        "{{ name | upper }} {{ '%.1f' % visit_count }} {% for k, v in attributes | dictsort %}"
        "{{ k }}={{ v }}{{ ',' if not loop.last }}{% endfor %} {{ total_spends | round(1) }}"
        " {{ name.split()[0] }} {{ [name, email] | join(' / ') }}"
    )
    customer = {
        "name": "Asha Rao",
        "email": "a@example.com",
        "visit_count": 3,
        "total_spends": Decimal("12.25"),
        "attributes": {"city": "Pune", "tier": 2},
    }
    assert templates.render(source, customer) == (
        "ASHA RAO 3.0 city=Pune,tier=2 12.2 Asha Asha Rao / a@example.com"
    )
