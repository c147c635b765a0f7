import pytest
from bson import ObjectId
from jinja2.exceptions import SecurityError

from crm.documents import Audience
from crm.services import templates
from tests.helpers.factories import EVERYONE
from tests.helpers.http import assert_error


@pytest.fixture
def audience_id(app):
    return str(Audience(rules=EVERYONE).save().id)


def create(client, **body):
    return client.post("/api/campaign", json=body)


def test_seed_campaign_is_created_as_draft(client, audience_id):
    response = create(client, audience_id=audience_id, message="This is a campaign message.")
    assert response.status_code == 201
    assert response.json["status"] == "DRAFT"
    assert set(response.json["stats"].values()) == {0}
    assert client.get(f"/api/campaign/{response.json['id']}").json["message"] == (
        "This is a campaign message."
    )


@pytest.mark.parametrize(
    "message",
    ["Hi {{ name", "Hi {{ password }}", "{{ cycler.__init__.__globals__ }}", "{% for %}", ""],
)
def test_bad_template_is_422_on_message(client, audience_id, message):
    assert_error(create(client, audience_id=audience_id, message=message), 422, "json", "message")


def test_unknown_audience_is_422(client, app):
    response = create(client, audience_id=str(ObjectId()), message="Hi")
    assert_error(response, 422, "json", "audience_id")


def test_sending_unknown_campaign_is_404(client, app):
    assert (
        client.post("/api/sendCampaign", json={"campaign_id": str(ObjectId())}).status_code == 404
    )


def test_template_renders_customer_fields_and_attributes():
    source = "Hi {{ name }} from {{ attributes.city | default('your town') }}, {{ visit_count }}"
    assert (
        templates.render(source, {"name": "Asha", "visit_count": 3}) == "Hi Asha from your town, 3"
    )
    assert templates.render(source, {"name": "B", "attributes": {"city": "Pune"}}).startswith(
        "Hi B from Pune"
    )


def test_sandbox_hides_python_internals():
    templates.validate("{{ name.__class__ }}")  # parses; the sandbox renders nothing for it
    assert "class" not in templates.render("{{ name.__class__ }}", {"name": "x"})
    with pytest.raises(templates.RenderFailed) as refused:
        templates.render("{{ name.__class__.__mro__[1].__subclasses__() }}", {"name": "x"})
    assert isinstance(refused.value.__cause__, SecurityError)
