"""Scheduled campaigns, and when each member of a campaign is due.

::

    start ──▶ a start in the future: DRAFT → SCHEDULED, the schedule kept in MongoDB
              (plus a delayed queue message, the fast path) │ otherwise control.start
    fire (that message, or the sweep finding due campaigns by index, whichever is first):
        SCHEDULED → SENDING, conditional on the send_at it read, so it fires once;
        later than the grace: the missed_schedule policy, and never later than max_late
    materialise: each page's members grouped by the instant they are due (their local
        send time, the end of their quiet hours) ─▶ a chunk per group, with not_before,
        queued with that delay
    delivery: a chunk handed out before not_before, or while its members' quiet hours
        last, goes back to the queue delayed (``hold_until``); one handed out past its
        send_by (its due time and the campaign's late limit: a worker outage, say) is
        SKIPPED local_time_passed, never sent late

All functions take ``now``, so they run on any clock.
"""

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bson import ObjectId

from crm.config import Settings
from crm.documents import Audience, Campaign, CampaignStatus, ChunkState, MessageStatus
from crm.services import local_time
from crm.services.errors import InvalidInput, InvalidTransition
from crm.services.sending import control, queue
from crm.store import campaigns, chunks

log = logging.getLogger(__name__)

# The first time zone to reach a given wall-clock time is UTC+14 (Pacific/Kiritimati),
# the last UTC-12: a local send time is 26 hours wide.
EARLIEST_OFFSET = timedelta(hours=14)
LOCAL_SPAN = timedelta(hours=26)
# A start this little in the past is taken as "now" (clocks and round trips).
PAST_TOLERANCE = timedelta(seconds=60)
# A chunk whose delayed queue message is still waiting this long after its time is
# handed out afresh (a worker holds only so many delayed messages; the rest wait in Redis).
OVERDUE = timedelta(seconds=30)
PAGE = 100

# (campaign id, the send_at it fires for as ISO text, delay in ms)
EnqueueFire = Callable[[str, str, int], object]


@dataclass(frozen=True)
class Defaults:
    """The settings a schedule falls back on and is judged by."""

    timezone: str
    quiet_hours: dict[str, str] | None
    grace: timedelta
    max_late: timedelta

    @classmethod
    def of(cls, settings: Settings) -> "Defaults":
        quiet = None
        if settings.quiet_hours:
            start, end = settings.quiet_hours.replace(" ", "").split("-")
            quiet = {"start": start, "end": end}
        return cls(
            settings.default_timezone,
            quiet,
            timedelta(seconds=settings.schedule_grace_seconds),
            timedelta(seconds=settings.schedule_max_late_seconds),
        )


def start(
    campaign_id: ObjectId,
    given: dict[str, Any] | None,
    defaults: Defaults,
    now: datetime,
    enqueue_materialize: control.Enqueue,
    enqueue_fire: EnqueueFire,
) -> Campaign:
    """Send a DRAFT: at once, or at its start time (``given`` replaces its schedule)."""
    campaign = control._get(campaign_id)
    if given is None:
        given = _as_given(campaign.schedule.to_mongo().to_dict() if campaign.schedule else {})
    schedule = resolve(given, defaults)
    check_not_past(schedule, now)
    send_at = schedule.get("send_at")
    if send_at is None or send_at <= now:
        return control.start(campaign_id, enqueue_materialize, schedule=schedule)
    if not Audience.objects(id=campaign.audience_id).only("id").first():
        raise InvalidTransition("The campaign's audience was deleted; it cannot be sent.")
    control._move(campaign_id, [CampaignStatus.DRAFT], CampaignStatus.SCHEDULED, schedule=schedule)
    try:
        enqueue_fire(str(campaign_id), _iso(send_at), delay_ms(send_at, now))
    except Exception:
        log.warning("campaign_id=%s schedule left to the sweep (queue unreachable)", campaign_id)
    return control._get(campaign_id)


def check_not_past(schedule: dict[str, Any], now: datetime) -> None:
    """A start in the past is refused (422), naming the field that set it."""
    send_at = schedule.get("send_at")
    if send_at is None:
        return
    if schedule.get("local_send_time"):
        # Accepted while some zone has the time ahead; members whose time has passed by
        # more than the campaign allows are skipped when it starts (``skip_passed``).
        if send_at + LOCAL_SPAN < now - PAST_TOLERANCE:
            raise InvalidInput(
                "The local send time has passed in every time zone; give a later date.",
                {"schedule": {"send_date": [f"Passed everywhere (now {_iso(now)})."]}},
            )
    elif send_at < now - PAST_TOLERANCE:
        raise InvalidInput(
            "The campaign's start is in the past; give a later one, or none to send now.",
            {"schedule": {"send_at": [f"{_iso(send_at)} has passed (now {_iso(now)})."]}},
        )


def unschedule(campaign_id: ObjectId) -> Campaign:
    """SCHEDULED → DRAFT, keeping its schedule to edit or send again."""
    control._move(campaign_id, [CampaignStatus.SCHEDULED], CampaignStatus.DRAFT)
    return control._get(campaign_id)


def resolve(given: dict[str, Any], defaults: Defaults | None) -> dict[str, Any]:
    """A schedule as the API gave it, its start computed, as the campaign stores it; with
    ``defaults`` (when it is started), the settings' defaults filled in. Quiet hours given
    as null are stored as none (equal start and end), so no default replaces them."""
    schedule = {name: value for name, value in given.items() if value is not None}
    schedule.setdefault("missed_schedule", "send")
    if "quiet_hours" in given and given["quiet_hours"] is None:
        schedule["quiet_hours"] = {"start": "00:00", "end": "00:00"}
    if defaults is not None:
        schedule.setdefault("timezone", defaults.timezone)
        if "quiet_hours" not in schedule and defaults.quiet_hours:
            schedule["quiet_hours"] = dict(defaults.quiet_hours)
        if schedule.get("local_send_time"):
            late = defaults.grace if schedule["missed_schedule"] == "skip" else defaults.max_late
            schedule["late_limit_seconds"] = late.total_seconds()
    send_at = schedule.get("send_at")
    if isinstance(send_at, datetime) and send_at.tzinfo is not None:
        schedule["send_at"] = send_at.astimezone(UTC).replace(tzinfo=None)
    if schedule.get("local_send_time"):
        day = schedule["send_date"].date()
        wall = local_time.clock(schedule["local_send_time"])
        schedule["send_at"] = local_time.at(day, wall, local_time.zone("UTC")) - EARLIEST_OFFSET
    return schedule


def _as_given(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored schedule as the API would give it again (what it recorded left out)."""
    recorded = ("fired_at", "late_seconds", "missed", "late_limit_seconds")
    return {name: value for name, value in stored.items() if name not in recorded}


# Firing ────────────────────────────────────────────────────────────────────────────


def fire_due(now: datetime, defaults: Defaults, enqueue_materialize: control.Enqueue) -> Counter:
    """Fire every SCHEDULED campaign whose start has come; returns what became of them."""
    outcomes: Counter[str] = Counter()
    while due := campaigns.due_scheduled(now, PAGE):
        fired = [fire(campaign, now, defaults, enqueue_materialize) for campaign in due]
        outcomes.update(outcome for outcome in fired if outcome)
        if len(due) < PAGE:
            break
    return outcomes


def fire_one(
    campaign_id: ObjectId,
    send_at: str,
    now: datetime,
    defaults: Defaults,
    enqueue_materialize: control.Enqueue,
    enqueue_fire: EnqueueFire,
) -> str | None:
    """The fast path: fire the campaign if it is still scheduled for ``send_at``."""
    campaign = campaigns.find(campaign_id, {"status": 1, "schedule": 1})
    if campaign is None or campaign["status"] != CampaignStatus.SCHEDULED:
        return None
    due = campaign["schedule"]["send_at"]
    if _iso(due) != send_at:
        return None  # rescheduled: another message (and the sweep) serve the new time
    if due > now:
        enqueue_fire(str(campaign_id), send_at, delay_ms(due, now))
        return None
    return fire(campaign, now, defaults, enqueue_materialize)


def fire(
    campaign: dict[str, Any],
    now: datetime,
    defaults: Defaults,
    enqueue_materialize: control.Enqueue,
) -> str | None:
    """SCHEDULED → SENDING, or → CANCELLED when missed and its policy (or the limit on
    lateness) says so; conditional on the start it was read with. Returns the outcome,
    or None if someone else fired it first."""
    schedule = campaign["schedule"]
    send_at = schedule["send_at"]
    late = max(now - send_at, timedelta(0))
    outcome, missed = "fired", None
    if late > defaults.grace:
        grace = f"more than the {_span(defaults.grace)} of grace"
        if schedule.get("local_send_time"):
            # Its members are due over 26 hours: each one late beyond the limit is skipped.
            outcome = "fired_late"
            missed = (
                f"Started {_span(late)} late, {grace}: members whose local time had passed "
                "by more than the campaign allows are skipped (local_time_passed)."
            )
        elif schedule.get("missed_schedule") == "skip":
            outcome = "skipped"
            missed = f"Skipped: it could start only {_span(late)} late, {grace} (policy skip)."
        elif late > defaults.max_late:
            outcome = "skipped"
            missed = (
                f"Not sent: it could start only {_span(late)} late, more than the "
                f"{_span(defaults.max_late)} a missed campaign may be sent late."
            )
        else:
            outcome = "fired_late"
            missed = f"Sent {_span(late)} late, {grace}: it was missed (policy send)."
    fields: dict[str, Any] = {
        "schedule.fired_at": now,
        "schedule.late_seconds": late.total_seconds(),
        "schedule.missed": missed,
    }
    target = CampaignStatus.CANCELLED if outcome == "skipped" else CampaignStatus.SENDING
    fields["completed_at" if outcome == "skipped" else "started_at"] = now
    only_if = {"schedule.send_at": send_at}
    if not campaigns.move_status(
        campaign["_id"], [CampaignStatus.SCHEDULED], target, only_if, **fields
    ):
        return None
    log_at = log.info if outcome == "fired" else log.warning
    log_at(
        "campaign_id=%s schedule %s, %.0f s after its time",
        campaign["_id"],
        outcome,
        late.total_seconds(),
    )
    if target == CampaignStatus.SENDING:
        try:
            enqueue_materialize(str(campaign["_id"]))
        except Exception:  # the sweep restarts a materialisation that never began
            log.warning("campaign_id=%s materialisation left to the sweep", campaign["_id"])
    return outcome


# Members' due times ─────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Timing:
    """When a campaign's members are due, each in their own time zone."""

    zone: str
    send_day: date | None
    send_time: Any
    quiet: local_time.QuietHours | None
    quiet_raw: dict[str, str] | None
    late_limit: timedelta | None = None

    @classmethod
    def of(cls, campaign: Campaign) -> "Timing":
        schedule = campaign.schedule
        if schedule is None:
            return cls("UTC", None, None, None, None)
        local = schedule.local_send_time
        quiet = schedule.quiet_hours
        hours = local_time.QuietHours.parse(quiet.start, quiet.end) if quiet else None
        limit = schedule.late_limit_seconds
        return cls(
            schedule.timezone or "UTC",
            schedule.send_date.date() if local else None,
            local_time.clock(local) if local else None,
            hours,
            {"start": quiet.start, "end": quiet.end} if hours and quiet else None,
            timedelta(seconds=limit) if local and limit is not None else None,
        )

    def passed(self, zone_name: str | None, now: datetime) -> bool:
        """Whether a member in ``zone_name`` could now get it only later than allowed."""
        if self.send_day is None or self.late_limit is None:
            return False
        where = local_time.zone(zone_name or self.zone, self.zone)
        return local_time.at(self.send_day, self.send_time, where) < now - self.late_limit

    def due(self, zone_name: str | None, now: datetime) -> tuple[datetime, str]:
        """When a member in ``zone_name`` (None: the campaign's zone) is due, and the
        zone it was reckoned in."""
        name = zone_name or self.zone
        where = local_time.zone(name, self.zone)
        due = now
        if self.send_day is not None:
            due = max(now, local_time.at(self.send_day, self.send_time, where))
        if self.quiet is not None:
            due = self.quiet.end_after(due, where) or due
        return due, where.key


def skip_passed(
    campaign: Campaign, page: list[dict[str, Any]], entries: list[dict[str, Any]], now: datetime
) -> None:
    """Make SKIPPED (``local_time_passed``) the logs (``entries``, one per customer of
    ``page``) of members whose local send time passed longer ago than the campaign allows:
    its date was given while the time was still ahead only in some zones, or it started
    late. Never hours late, as with a missed start."""
    timing = Timing.of(campaign)
    skipped = str(MessageStatus.SKIPPED)
    for customer, entry in zip(page, entries, strict=True):
        if entry["status"] != skipped and timing.passed(customer.get("timezone"), now):
            entry.update(status=skipped, reason="local_time_passed", message="")


def groups(
    campaign: Campaign, members: Iterable[tuple[dict[str, Any], ObjectId]], now: datetime
) -> list[tuple[list[ObjectId], dict[str, Any]]]:
    """``(customer, log id)`` pairs grouped by the instant they are due, earliest first:
    each group's log ids and the timing fields of its chunk."""
    timing = Timing.of(campaign)
    if timing.send_day is None and timing.quiet is None:
        ids = [log_id for _, log_id in members]
        return [(ids, {})] if ids else []
    by_due: dict[datetime, tuple[list[ObjectId], set[str]]] = {}
    for customer, log_id in members:
        due, zone = timing.due(customer.get("timezone"), now)
        ids, zones = by_due.setdefault(due, ([], set()))
        ids.append(log_id)
        zones.add(zone)
    made = []
    for due in sorted(by_due):
        ids, zones = by_due[due]
        fields: dict[str, Any] = {"not_before": due if due > now else None}
        if timing.late_limit is not None:
            fields["send_by"] = due + timing.late_limit
        if timing.quiet_raw:
            fields.update(zones=sorted(zones), quiet_hours=timing.quiet_raw)
        made.append((ids, fields))
    return made


def hold_until(chunk: dict[str, Any], now: datetime) -> datetime | None:
    """When a chunk handed out at ``now`` may be sent, if not now: its ``not_before``, or
    the end of the quiet hours one of its members' zones is in."""
    until = chunk.get("not_before")
    quiet = chunk.get("quiet_hours")
    if quiet:
        hours = local_time.QuietHours.parse(quiet["start"], quiet["end"])
        for name in chunk.get("zones") or ():
            end = hours.end_after(now, local_time.zone(name)) if hours else None
            if end is not None and (until is None or end > until):
                until = end
    return until if until is not None and until > now else None


def release_overdue(
    now: datetime,
    in_delay_queue: Callable[[list[str]], set[str]],
    enqueue_chunk: queue.EnqueueChunk,
) -> int:
    """Hand out afresh the QUEUED chunks due more than ``OVERDUE`` ago whose queue message
    is still in the delay queue; returns how many. The old message, when it comes, finds
    the chunk taken or sent."""
    query = {"state": str(ChunkState.QUEUED), "not_before": {"$lte": now - OVERDUE}}
    released, after = 0, None
    while page := chunks.find({**query, **({"_id": {"$gt": after}} if after else {})}, PAGE):
        after = page[-1]["_id"]
        waiting = in_delay_queue([c["message_id"] for c in page if c.get("message_id")])
        for chunk in page:
            if chunk.get("message_id") in waiting and chunks.requeue(chunk):
                queue.hand_out(chunk["_id"], enqueue_chunk)
                released += 1
    if released:
        log.warning("%d chunks past their time were still in the delay queue; handed out", released)
    return released


def delay_ms(until: datetime, now: datetime) -> int:
    """A queue delay that never lands before ``until``."""
    return max(0, math.ceil((until - now).total_seconds() * 1000))


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat()


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
