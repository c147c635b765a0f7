"""The composer's options (schedule, holdout, variants and their automatic winner,
frequency cap) read from its form
into the body ``POST /api/campaign`` takes, so the API's schema checks them and its
field-level errors come back under the inputs' names; and a saved draft's fields written
back into the form's inputs, to edit it."""

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from crm.documents import Campaign
from crm.documents.schedule import CampaignSchedule
from crm.schemas.schedule import zone_names

VARIANT_ROWS = (1, 2, 3)  # B, C and D; A is the composer's message
VARIANT = re.compile(r"^variants\.(\d+)\.")
# What a draft saved from the composer has when its form leaves an option out.
UNSET_OPTIONS: dict[str, Any] = {
    "holdout_percent": 0,
    "variants": [],
    "frequency_cap": None,
    "ignore_frequency_cap": False,
    "schedule": None,
}


def campaign_body(form: MultiDict) -> tuple[dict[str, Any], list[int]]:
    """The API body for ``form``, and the form row of each variant sent (variants left
    empty are not sent, so error paths are mapped back to rows with ``row_of``)."""
    body: dict[str, Any] = {
        "name": form.get("name") or None,
        "audience_id": form.get("audience_id", ""),
        "message": form.get("message", ""),
    }
    if form.get("holdout_percent", "").strip():
        body["holdout_percent"] = form["holdout_percent"].strip()
    rows = [row for row in VARIANT_ROWS if form.get(f"variants.{row}.message", "").strip()]
    if rows:
        body["variants"] = [_variant(form, 0, body["message"])] + [
            _variant(form, row, form[f"variants.{row}.message"]) for row in rows
        ]
    if form.get("winner.metric"):
        body["winner"] = {
            "test_percent": _integer(form.get("winner.test_percent", "")),
            "decide_after_minutes": _integer(form.get("winner.decide_after_minutes", "")),
            "metric": form["winner.metric"],
        }
    cap = form.get("cap", "default")
    if cap == "own":
        body["frequency_cap"] = {
            "messages": _integer(form.get("frequency_cap.messages", "")),
            "days": _integer(form.get("frequency_cap.days", "")),
        }
    elif cap == "ignore":
        body["ignore_frequency_cap"] = True
    schedule = _schedule(form)
    if schedule:
        body["schedule"] = schedule
    return body, [0, *rows]


def row_of(errors: dict[str, list[str]], rows: list[int]) -> dict[str, list[str]]:
    """``errors`` with each ``variants.<i>.`` path renamed to its form row."""

    def renamed(path: str) -> str:
        found = VARIANT.match(path)
        if not found or int(found[1]) >= len(rows):
            return path
        return f"variants.{rows[int(found[1])]}.{path[found.end() :]}"

    return {renamed(path): problems for path, problems in errors.items()}


def _variant(form: MultiDict, row: int, message: str) -> dict[str, Any]:
    weight = form.get(f"variants.{row}.weight", "").strip()
    return {"message": message, **({"weight": _integer(weight)} if weight else {})}


def _integer(raw: str) -> int | str:
    """A whole number if ``raw`` is one; else ``raw``, for the schema to refuse."""
    return int(raw) if re.fullmatch(r"\s*-?\d{1,9}\s*", raw) else raw


def _schedule(form: MultiDict) -> dict[str, Any]:
    when = form.get("when", "now")
    zone = form.get("schedule.timezone", "").strip()
    schedule: dict[str, Any] = {}
    if when == "at":
        schedule["send_at"] = _aware(form.get("schedule.send_at", ""), zone)
    elif when == "local":
        schedule["send_date"] = form.get("schedule.send_date") or None
        schedule["local_send_time"] = form.get("schedule.local_send_time") or None
    start = form.get("schedule.quiet_hours.start", "")
    end = form.get("schedule.quiet_hours.end", "")
    if start or end:
        schedule["quiet_hours"] = {"start": start, "end": end}
    if schedule and zone:
        schedule["timezone"] = zone
    if when in ("at", "local"):
        schedule["missed_schedule"] = form.get("schedule.missed_schedule", "send")
    return schedule


def _aware(local: str, zone: str) -> str:
    """A ``datetime-local`` value read in ``zone`` (UTC without one), with its offset;
    what cannot be read is passed on as given, for the schema to refuse."""
    try:
        naive = datetime.fromisoformat(local)
    except ValueError:
        return local
    if naive.tzinfo is not None:
        return local
    if zone and zone not in zone_names():
        return naive.isoformat()  # the schema refuses the zone by name
    return naive.replace(tzinfo=ZoneInfo(zone or "UTC")).isoformat()


def form_of(campaign: Campaign) -> dict[str, str]:
    """The composer's inputs for a saved campaign: ``campaign_body`` reads them back into
    the same campaign (a start time to the minute)."""
    given = {
        "name": campaign.name or "",
        "audience_id": str(campaign.audience_id),
        "message": campaign.message,
    }
    if campaign.holdout_percent:
        given["holdout_percent"] = str(campaign.holdout_percent).removesuffix(".0")
    for row, variant in enumerate(campaign.variants):
        given[f"variants.{row}.weight"] = str(variant.weight)
        if row:
            given[f"variants.{row}.message"] = variant.message
    if campaign.frequency_cap:
        given["cap"] = "own"
        given["frequency_cap.messages"] = str(campaign.frequency_cap.messages)
        given["frequency_cap.days"] = str(campaign.frequency_cap.days)
    elif campaign.ignore_frequency_cap:
        given["cap"] = "ignore"
    if campaign.schedule:
        given.update(_schedule_form(campaign.schedule))
    return given


def _schedule_form(schedule: CampaignSchedule) -> dict[str, str]:
    zone = schedule.timezone or ""
    given = {"schedule.timezone": zone, "schedule.missed_schedule": schedule.missed_schedule}
    if schedule.local_send_time:
        given["when"] = "local"
        given["schedule.send_date"] = schedule.send_date.date().isoformat()
        given["schedule.local_send_time"] = schedule.local_send_time
    elif schedule.send_at:
        local = schedule.send_at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone or "UTC"))
        given["when"] = "at"
        given["schedule.send_at"] = local.replace(tzinfo=None).isoformat(timespec="minutes")
    if schedule.quiet_hours:
        given["schedule.quiet_hours.start"] = schedule.quiet_hours.start
        given["schedule.quiet_hours.end"] = schedule.quiet_hours.end
    return given
