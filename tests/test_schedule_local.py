"""Per-recipient local send times and quiet hours: each member's chunk is due at the
wall-clock time in their own zone (checked against a plain zoneinfo oracle, across DST
changes), and a chunk is never sent before it is due or inside its members' quiet hours."""

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from bson import ObjectId

from crm.clock import utcnow
from crm.documents import Campaign, ChunkState, CommunicationLog, SendChunk
from crm.services.sending import materialize, schedule, sweeps
from tests.helpers.factories import new_campaign
from tests.helpers.polling import eventually
from workers import scheduling, sending

ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Lord_Howe", None]
CAMPAIGN_ZONE = "America/Sao_Paulo"  # for the member with no zone of their own
DEFAULTS = schedule.Defaults("UTC", None, timedelta(minutes=5), timedelta(hours=1))


def wall_clock(day: date, wall: time, zone: str) -> datetime:
    """The oracle: the naive UTC instant that reads ``wall`` on ``day`` in ``zone``."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
    for minute in range(3 * 24 * 60):
        moment = start + timedelta(minutes=minute)
        local = moment.astimezone(ZoneInfo(zone))
        if local.date() == day and local.time() == wall:
            return moment.replace(tzinfo=None)
    raise AssertionError(f"{wall} never happens on {day} in {zone}")


def add_members(client):
    for i, zone in enumerate(ZONES):
        body = {"customer_id": f"m{i}", "name": f"M{i}", "email": f"m{i}@example.com"}
        if zone:
            body["timezone"] = zone
        assert client.post("/api/customers", json=body).status_code == 201


def start_and_fire(client, **fields) -> tuple[str, datetime]:
    """A campaign scheduled with ``fields`` and fired at its start; returns its id and start."""
    campaign_id = new_campaign(client)
    body = {"campaign_id": campaign_id, "schedule": {"timezone": CAMPAIGN_ZONE, **fields}}
    sent = client.post("/api/sendCampaign", json=body)
    assert sent.status_code == 202 and sent.json["status"] == "SCHEDULED", sent.json
    send_at = datetime.fromisoformat(sent.json["send_at"]).replace(tzinfo=None)
    assert schedule.fire_due(send_at, DEFAULTS, lambda _: None) == {"fired": 1}
    return campaign_id, send_at


def materialized(campaign_id) -> dict[str, tuple[datetime, int]]:
    """Materialise the campaign; each member's chunk due time and queue delay, by zone."""
    queued = {}

    def enqueue(chunk_id, delay_ms):
        queued[chunk_id] = delay_ms
        return f"message {chunk_id}"

    now = utcnow()
    materialize.materialize(Campaign.objects.get(id=campaign_id).id, 100, enqueue, 30)
    due_by_zone = {}
    for chunk in SendChunk.objects(campaign_id=campaign_id):
        for log in CommunicationLog.objects(id__in=chunk.log_ids):
            zone = ZONES[int(log.customer_id[1:])] or CAMPAIGN_ZONE
            due_by_zone[zone] = (chunk.not_before, queued[str(chunk.id)])
            expected_delay = (chunk.not_before - now).total_seconds() * 1000
            assert abs(queued[str(chunk.id)] - expected_delay) < 5_000
    return due_by_zone


@pytest.mark.parametrize(
    "day",
    [
        date(2027, 1, 15),
        date(2027, 3, 14),  # New York springs forward
        date(2027, 3, 28),  # Berlin springs forward
        date(2027, 4, 4),  # Lord Howe falls back (by 30 minutes)
        date(2027, 10, 3),  # Lord Howe springs forward; Sao Paulo has no DST since 2019
        date(2027, 11, 7),  # New York falls back
    ],
)
def test_each_member_is_due_at_ten_oclock_in_their_own_zone(client, day):
    add_members(client)
    campaign_id, send_at = start_and_fire(
        client, send_date=day.isoformat(), local_send_time="10:00"
    )

    due = materialized(campaign_id)

    expected = {
        zone or CAMPAIGN_ZONE: wall_clock(day, time(10), zone or CAMPAIGN_ZONE) for zone in ZONES
    }
    assert {zone: at for zone, (at, _) in due.items()} == expected
    assert send_at <= min(expected.values())  # the campaign starts before anyone is due
    assert SendChunk.objects(campaign_id=campaign_id).count() == len(set(expected.values()))


def test_a_local_time_inside_quiet_hours_waits_for_their_end(client):
    add_members(client)
    day = date(2027, 3, 14)
    campaign_id, _ = start_and_fire(
        client,
        send_date=day.isoformat(),
        local_send_time="22:00",
        quiet_hours={"start": "21:00", "end": "08:00"},
    )

    due = materialized(campaign_id)

    next_day = day + timedelta(days=1)
    expected = {
        zone or CAMPAIGN_ZONE: wall_clock(next_day, time(8), zone or CAMPAIGN_ZONE)
        for zone in ZONES
    }
    assert {zone: at for zone, (at, _) in due.items()} == expected


def test_a_held_up_chunk_waits_out_its_members_quiet_hours():
    chunk = {
        "not_before": None,
        "zones": ["Asia/Tokyo", "Europe/Berlin"],
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    }
    # 13:00 UTC: 22:00 in Tokyo (quiet until 08:00 there, 23:00 UTC), 14:00 in Berlin.
    assert schedule.hold_until(chunk, datetime(2027, 1, 15, 13)) == datetime(2027, 1, 15, 23)
    # 23:00 UTC: Tokyo is awake, Berlin (00:00) is quiet until 08:00 there, 07:00 UTC.
    assert schedule.hold_until(chunk, datetime(2027, 1, 15, 23)) == datetime(2027, 1, 16, 7)
    assert schedule.hold_until(chunk, datetime(2027, 1, 16, 7)) is None
    assert schedule.hold_until({"not_before": datetime(2027, 1, 1)}, datetime(2027, 1, 2)) is None


def vendor_deliveries(vendor, log_ids) -> int:
    return sum(
        requests.get(f"{vendor}/admin/deliveries/{log_id}", timeout=5).json()["deliveries"]
        for log_id in log_ids
    )


def test_a_chunk_handed_out_early_goes_back_to_wait_and_is_sent_when_due(client, live, vendor):
    # Given a fired campaign whose members are due next year, materialised by the workers
    add_members(client)
    campaign_id, _ = start_and_fire(client, send_date="2027-06-01", local_send_time="10:00")
    sending.materialize_campaign.send(campaign_id)  # fire_due was given a stand-in
    chunks = eventually(lambda: list(SendChunk.objects(campaign_id=campaign_id)) or None, 20)
    eventually(lambda: all(c.reload().message_id for c in chunks), 10)

    # They wait in the delay queue: the orphan sweep sees them there, the vendor gets nothing.
    assert sweeps.requeue_lost(timedelta(0), sending.in_queue, pytest.fail) == 0
    assert requests.get(f"{vendor}/admin/stats", timeout=5).json()["requests"] == 0

    # When one is handed out early (as after Redis lost its message), the worker puts it
    # back, delayed; made due in two seconds, it is sent then and not before.
    early = chunks[0]
    due = utcnow() + timedelta(seconds=2)
    SendChunk.objects(id=early.id).update(set__not_before=due, set__message_id=None)
    sending.enqueue_chunk(str(early.id))
    held = eventually(lambda: early.reload().attempts == 1 and early.message_id and early, 10)
    assert held.state == ChunkState.QUEUED and sending.in_queue([held.message_id])
    assert abs(held.not_before - due) < timedelta(milliseconds=50)  # what it waits for
    assert vendor_deliveries(vendor, held.log_ids) == 0

    while utcnow() < due - timedelta(milliseconds=200):
        assert vendor_deliveries(vendor, held.log_ids) == 0
        clock.sleep(0.1)
    eventually(lambda: vendor_deliveries(vendor, held.log_ids) == len(held.log_ids), 10, 0.05)
    assert utcnow() >= due
    others = [log_id for chunk in chunks[1:] for log_id in chunk.log_ids]
    assert vendor_deliveries(vendor, others) == 0


def test_a_chunk_still_in_the_delay_queue_after_its_time_is_handed_out_afresh(app, broker):
    campaign = Campaign(audience_id=ObjectId(), message="Hi", status="SENDING").save()
    now = utcnow()

    def chunk(seq, due, delay_ms):
        made = SendChunk(campaign_id=campaign.id, seq=seq, log_ids=[ObjectId()], not_before=due)
        made.save()
        made.update(message_id=sending.enqueue_chunk(str(made.id), delay_ms))
        return made.reload()

    # No worker runs: each message stays where it was put.
    stuck = chunk(0, now - timedelta(minutes=5), 60_000)  # due, yet its message waits
    waiting = chunk(1, now + timedelta(minutes=5), 60_000)  # not yet due
    queued = chunk(2, now - timedelta(minutes=5), 0)  # due, in the queue proper
    released = []

    def enqueue(chunk_id, delay_ms):
        released.append((chunk_id, delay_ms))
        return "fresh"

    assert schedule.release_overdue(now, scheduling.in_delay_queue, enqueue) == 1
    assert released == [(str(stuck.id), 0)] and stuck.reload().message_id == "fresh"
    assert [c.message_id for c in (waiting, queued)] == [
        c.reload().message_id for c in (waiting, queued)
    ]


def test_a_local_time_passed_only_in_some_zones_is_sent_to_the_others(client):
    # Given 10:00-like wall time on a day whose time passed three hours ago in Tokyo,
    # and so longer ago in Lord Howe, but is hours ahead in Berlin, New York, Sao Paulo.
    add_members(client)
    in_tokyo = (
        (utcnow() - timedelta(hours=3)).replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    )
    day, wall = in_tokyo.date(), in_tokyo.time().replace(second=0, microsecond=0)
    given = {"send_date": day.isoformat(), "local_send_time": wall.strftime("%H:%M")}

    # When it is sent, it is accepted and starts at once.
    body = {"campaign_id": new_campaign(client), "schedule": {"timezone": CAMPAIGN_ZONE, **given}}
    sent = client.post("/api/sendCampaign", json=body)
    assert sent.status_code == 202 and sent.json["status"] == "SENDING", sent.json
    materialize.materialize(ObjectId(body["campaign_id"]), 100, lambda *_: "queued", 30)

    # Then the members whose time passed over an hour ago are skipped, not sent hours late,
    # and the others wait for their own wall clock.
    logs = CommunicationLog.objects(campaign_id=body["campaign_id"])
    zone_of = {log.id: ZONES[int(log.customer_id[1:])] or CAMPAIGN_ZONE for log in logs}
    skipped = {zone_of[log.id] for log in logs if log.status == "SKIPPED"}
    assert skipped == {"Asia/Tokyo", "Australia/Lord_Howe"}
    assert {log.reason for log in logs if log.status == "SKIPPED"} == {"local_time_passed"}
    for chunk in SendChunk.objects(campaign_id=body["campaign_id"]):
        for log_id in chunk.log_ids:
            assert chunk.not_before == wall_clock(day, wall, zone_of[log_id]) > utcnow()


def test_a_local_time_passed_in_every_zone_is_refused(client):
    two_days_ago = (utcnow() - timedelta(days=2)).date().isoformat()
    body = {
        "campaign_id": new_campaign(client),
        "schedule": {"send_date": two_days_ago, "local_send_time": "10:00"},
    }
    refused = client.post("/api/sendCampaign", json=body)
    assert refused.status_code == 422
    assert "send_date" in refused.json["errors"]["json"]["schedule"]
    assert Campaign.objects.get(id=body["campaign_id"]).status == "DRAFT"


def test_a_local_time_campaign_started_late_goes_on_for_the_zones_still_ahead(client):
    campaign_id = new_campaign(client)
    body = {
        "campaign_id": campaign_id,
        "schedule": {"send_date": "2027-01-15", "local_send_time": "10:00"},
    }
    sent = client.post("/api/sendCampaign", json=body)
    send_at = datetime.fromisoformat(sent.json["send_at"]).replace(tzinfo=None)

    # Its workers were down for the first three hours of its 26.
    assert schedule.fire_due(send_at + timedelta(hours=3), DEFAULTS, lambda _: None) == {
        "fired_late": 1
    }

    campaign = Campaign.objects.get(id=campaign_id)
    assert campaign.status == "SENDING" and "local_time_passed" in campaign.schedule.missed
