"""Scheduled campaigns fire once, at their time, on a clock the test controls; a missed
start follows its policy and is never sent silently late."""

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm import config
from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus
from crm.services.sending import schedule
from tests.helpers.database import database_contents
from tests.helpers.factories import add_customers, new_campaign
from tests.helpers.http import assert_error
from tests.helpers.ingestion import upload, wait_for
from tests.helpers.polling import wait_until_finished

DEFAULTS = schedule.Defaults(
    timezone="UTC", quiet_hours=None, grace=timedelta(minutes=5), max_late=timedelta(hours=1)
)


def iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat()


def scheduled(client, send_at: datetime, **schedule_fields) -> str:
    """A SCHEDULED campaign starting at ``send_at`` (naive UTC)."""
    add_customers(client, 3)
    campaign_id = new_campaign(client)
    body = {"campaign_id": campaign_id, "schedule": {"send_at": iso(send_at), **schedule_fields}}
    response = client.post("/api/sendCampaign", json=body)
    assert response.status_code == 202, response.json
    assert response.json["status"] == "SCHEDULED"
    assert response.json["send_at"] == iso(send_at).replace("+00:00", ".000000+00:00")
    return campaign_id


def status(campaign_id: str) -> CampaignStatus:
    return Campaign.objects.get(id=campaign_id).status


def test_the_sweep_fires_a_campaign_once_at_its_time(client):
    send_at = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    campaign_id = scheduled(client, send_at)
    started = []

    # Before its time, nothing happens however often the sweep runs.
    assert schedule.fire_due(send_at - timedelta(seconds=1), DEFAULTS, started.append) == {}
    assert status(campaign_id) == CampaignStatus.SCHEDULED and started == []

    # At its time, two sweepers at once (their clocks a second apart) start it once.
    barrier = threading.Barrier(2)
    outcomes = []

    def sweep(now):
        barrier.wait()
        outcomes.append(schedule.fire_due(now, DEFAULTS, started.append))

    moments = [send_at, send_at + timedelta(seconds=1)]
    threads = [threading.Thread(target=sweep, args=(now,)) for now in moments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert started == [campaign_id]
    assert sum(outcome["fired"] for outcome in outcomes) == 1
    campaign = Campaign.objects.get(id=campaign_id)
    assert campaign.status == CampaignStatus.SENDING and campaign.started_at in moments
    assert campaign.schedule.fired_at == campaign.started_at
    assert schedule.fire_due(send_at + timedelta(hours=2), DEFAULTS, started.append) == {}


def test_the_fast_path_fires_only_the_schedule_it_was_sent_for(client):
    send_at = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    campaign_id = scheduled(client, send_at)
    started, refired = [], []

    def fire(at, when):
        return schedule.fire_one(
            Campaign.objects.get(id=campaign_id).id,
            when,
            at,
            DEFAULTS,
            started.append,
            lambda *message: refired.append(message),
        )

    # Early (its delay ran short): sent again for the rest of the wait.
    assert fire(send_at - timedelta(seconds=2), iso(send_at)) is None
    assert refired == [(campaign_id, iso(send_at), 2000)]
    # A message for an older schedule of the campaign does nothing.
    assert fire(send_at, iso(send_at - timedelta(minutes=1))) is None
    assert started == [] and status(campaign_id) == CampaignStatus.SCHEDULED
    assert fire(send_at, iso(send_at)) == "fired"
    assert fire(send_at, iso(send_at)) is None
    assert started == [campaign_id]


@pytest.mark.parametrize(
    ("policy", "late", "outcome", "target"),
    [
        ("send", timedelta(minutes=4), "fired", CampaignStatus.SENDING),
        ("skip", timedelta(minutes=4), "fired", CampaignStatus.SENDING),
        ("send", timedelta(minutes=30), "fired_late", CampaignStatus.SENDING),
        ("skip", timedelta(minutes=30), "skipped", CampaignStatus.CANCELLED),
        ("send", timedelta(hours=3), "skipped", CampaignStatus.CANCELLED),
    ],
)
def test_a_missed_start_follows_its_policy_and_says_why(client, policy, late, outcome, target):
    send_at = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    campaign_id = scheduled(client, send_at, missed_schedule=policy)
    started = []

    assert schedule.fire_due(send_at + late, DEFAULTS, started.append) == {outcome: 1}

    campaign = client.get(f"/api/campaign/{campaign_id}").json
    assert campaign["status"] == target
    assert campaign["schedule"]["late_seconds"] == late.total_seconds()
    assert started == ([campaign_id] if target == CampaignStatus.SENDING else [])
    missed = campaign["schedule"]["missed"]
    if outcome == "fired":
        assert missed is None
    else:
        why = {"fired_late": "Sent ", "skipped": "Skipped: " if policy == "skip" else "Not sent: "}
        assert missed.startswith(why[outcome]), missed
    if outcome == "skipped":
        assert campaign["stats"]["total"] == 0 and campaign["completed_at"]


def test_a_scheduled_campaign_can_be_unscheduled_or_cancelled_but_not_paused(client):
    send_at = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    campaign_id = scheduled(client, send_at)
    assert_error(client.post(f"/api/campaign/{campaign_id}/pause"), 409)

    draft = client.post(f"/api/campaign/{campaign_id}/unschedule")
    assert draft.status_code == 200 and draft.json["status"] == "DRAFT"
    assert draft.json["schedule"]["send_at"].startswith(iso(send_at)[:19])
    assert schedule.fire_due(send_at, DEFAULTS, pytest.fail) == {}
    assert_error(client.post(f"/api/campaign/{campaign_id}/unschedule"), 409)

    # Sent again as it is, it is scheduled again; cancelled, it never starts.
    again = client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    assert again.json["status"] == "SCHEDULED"
    assert client.post(f"/api/campaign/{campaign_id}/cancel").json["status"] == "CANCELLED"
    assert schedule.fire_due(send_at, DEFAULTS, pytest.fail) == {}


def test_a_schedule_is_created_with_the_campaign_and_shown(client):
    send_at = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    campaign_id = new_campaign(
        client,
        schedule={
            "send_at": iso(send_at),
            "timezone": "Europe/Berlin",
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "missed_schedule": "skip",
        },
    )
    shown = client.get(f"/api/campaign/{campaign_id}").json
    assert shown["status"] == "DRAFT"
    assert shown["schedule"]["send_at"].startswith(iso(send_at)[:19])
    assert shown["schedule"]["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert shown["schedule"]["missed_schedule"] == "skip"

    sent = client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    assert sent.json["status"] == "SCHEDULED"


def test_local_send_time_starts_when_the_first_zone_reaches_it(client):
    campaign_id = new_campaign(client)
    body = {
        "campaign_id": campaign_id,
        "schedule": {"send_date": "2027-03-14", "local_send_time": "10:00"},
    }
    response = client.post("/api/sendCampaign", json=body)
    assert response.status_code == 202 and response.json["status"] == "SCHEDULED"
    # 10:00 at UTC+14 (Kiritimati) is 20:00 UTC the day before.
    assert response.json["send_at"] == "2027-03-13T20:00:00.000000+00:00"


def test_without_a_start_a_campaign_sends_at_once_with_the_default_quiet_hours(client, app):
    settings = app.config["CRM_SETTINGS"]
    app.config["CRM_SETTINGS"] = settings.__class__(
        **{**settings.__dict__, "quiet_hours": "22:00-07:00", "default_timezone": "Asia/Tokyo"}
    )
    add_customers(client, 1)
    campaign_id = new_campaign(client)
    response = client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    assert response.json["status"] == "SENDING" and response.json["send_at"] is None
    shown = client.get(f"/api/campaign/{campaign_id}").json["schedule"]
    assert shown["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert shown["timezone"] == "Asia/Tokyo"


PAST = iso(datetime(2020, 1, 1))
BAD_SCHEDULES = [
    ({"send_at": PAST}, "send_at"),
    ({"send_at": "2030-01-01T10:00:00"}, "send_at"),  # no offset: which 10:00?
    ({"send_date": "2020-01-01", "local_send_time": "10:00"}, "send_date"),
    ({"local_send_time": "10:00"}, "send_date"),
    ({"send_date": "2030-01-01"}, "local_send_time"),
    ({"send_date": "2030-01-01", "local_send_time": "25:00"}, "local_send_time"),
    ({"send_date": "2030-01-01", "local_send_time": "9:00"}, "local_send_time"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"quiet_hours": {"start": "21:00"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "21:00", "end": "8am"}}, "quiet_hours"),
    ({"missed_schedule": "later"}, "missed_schedule"),
    (
        {
            "send_at": "2030-01-01T10:00:00+00:00",
            "send_date": "2030-01-01",
            "local_send_time": "10:00",
        },
        "send_at",
    ),
]


@pytest.mark.parametrize(("bad", "field"), BAD_SCHEDULES)
def test_a_bad_schedule_is_a_422_naming_its_field_and_changes_nothing(client, bad, field):
    campaign_id = new_campaign(client)
    before = database_contents()

    sent = client.post("/api/sendCampaign", json={"campaign_id": campaign_id, "schedule": bad})
    errors = assert_error(sent, 422, "json", "schedule")
    assert field in errors["json"]["schedule"], errors
    created = client.post(
        "/api/campaign",
        json={
            "audience_id": str(Campaign.objects.get(id=campaign_id).audience_id),
            "message": "Hi",
            "schedule": bad,
        },
    )
    assert field in assert_error(created, 422, "json", "schedule")["json"]["schedule"]

    assert database_contents() == before


def test_a_customer_time_zone_is_checked_and_kept(client):
    body = {"customer_id": "c1", "name": "A", "email": "a@example.com", "timezone": "Asia/Tokyo"}
    assert client.post("/api/customers", json=body).json["timezone"] == "Asia/Tokyo"
    before = database_contents()
    bad = client.post("/api/customers", json={**body, "timezone": "Asia/Atlantis"})
    assert "timezone" in assert_error(bad, 422, "json", "timezone")["json"]
    assert database_contents() == before


def test_an_import_takes_a_timezone_column(client, worker):
    csv = (
        "customer_id,name,email,timezone\n"
        "t1,Ana,ana@example.com,America/Sao_Paulo\n"
        "t2,Bo,bo@example.com,Atlantis/Capital\n"
        "t3,Cy,cy@example.com,\n"
    )
    job = wait_for(client, upload(client, "customers", csv, "text/csv"))
    assert job["counts"]["rejected"] == 1
    assert [(r["row"], [e["field"] for e in r["errors"]]) for r in job["rejections"]] == [
        (3, ["timezone"])
    ]
    assert client.get("/api/customers/t1").json["timezone"] == "America/Sao_Paulo"
    assert client.get("/api/customers/t3").json.get("timezone") is None


@pytest.mark.parametrize(
    ("setting", "value"),
    [("default_timezone", "Mars/Base"), ("quiet_hours", "9pm-8am"), ("quiet_hours", "21:00")],
)
def test_a_process_refuses_a_bad_schedule_setting_in_one_line(setting, value):
    settings = replace(config.load(), **{setting: value}, secret_key="a-console-session-key")
    with pytest.raises(SystemExit) as stopped:
        config.require(settings, "api")
    assert str(stopped.value).startswith(f"CRM_{setting.upper()} is invalid: expected")


def test_the_queue_fires_a_campaign_on_time_without_the_sweep(client, live):
    # The sweeps are off in tests: only the delayed queue message can start it.
    send_at = (utcnow() + timedelta(seconds=3)).replace(microsecond=0)
    campaign_id = scheduled(client, send_at)

    campaign = wait_until_finished(client, campaign_id, 30)

    fired_at = datetime.fromisoformat(campaign["schedule"]["fired_at"]).replace(tzinfo=None)
    assert send_at <= fired_at < send_at + timedelta(seconds=1)
    assert campaign["stats"]["sent"] + campaign["stats"]["failed"] == 3
