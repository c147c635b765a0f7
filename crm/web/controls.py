"""A campaign's controls in the console. Send and Cancel are confirmed first, on a page
that names how many customers they concern, counted as of that moment; pause, resume and
unschedule act at once. Every control is a conditional change of status, so a form sent
twice acts once."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import ObjectId
from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus
from crm.queue import handles
from crm.services import audiences, campaigns
from crm.services.errors import DomainError, InvalidTransition
from crm.services.sending import control, schedule
from crm.web.access import requires
from crm.web.blueprint import blp, explain, flash_error

CONTROLS: dict[str, Callable[[ObjectId], Any]] = {
    "send": lambda campaign_id: handles.start_campaign(
        campaign_id, None, current_app.config["CRM_SETTINGS"]
    ),
    "pause": control.pause,
    "resume": lambda campaign_id: control.resume(campaign_id, handles.RESUME_CAMPAIGN.send),
    "cancel": lambda campaign_id: control.cancel(campaign_id, handles.CANCEL_CAMPAIGN.send),
    "unschedule": schedule.unschedule,
}
CONFIRMED = ("send", "cancel")
SENDABLE = (CampaignStatus.DRAFT,)
CANCELLABLE = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
)


@blp.route("/campaigns/<objectid:campaign_id>/confirm/<any(send,cancel):action>")
@requires("marketer")
def campaign_confirm(campaign_id: ObjectId, action: str):
    """What Send or Cancel would do, and how many customers it concerns now."""
    campaign = campaigns.get(campaign_id)
    allowed = SENDABLE if action == "send" else CANCELLABLE
    if campaign.status not in allowed:
        flash(f"This campaign is {campaign.status}: it cannot be {_done(action)}.", "warning")
        return _campaign_page(campaign_id)
    try:
        count = _recipients(campaign, action)
    except DomainError as error:
        flash_error(error)
        return _campaign_page(campaign_id)
    return render_template(
        "confirm.html",
        campaign=campaign,
        action=action,
        count=count,
        starts_at=_future_start(campaign) if action == "send" else None,
    )


@blp.route(
    "/campaigns/<objectid:campaign_id>/<any(send,pause,resume,cancel,unschedule):action>",
    methods=["POST"],
)
@requires("marketer")
def campaign_control(campaign_id: ObjectId, action: str):
    if action in CONFIRMED and request.form.get("confirm") != "yes":
        return _confirmation(campaign_id, action)
    if action == "send" and _audience_changed(campaign_id):
        return _confirmation(campaign_id, action)
    try:
        CONTROLS[action](campaign_id)
    except InvalidTransition as error:
        flash(f"{explain(error)} Nothing was {_done(action)} again.", "warning")
    except DomainError as error:
        flash_error(error)
    else:
        flash(f"Campaign {action}: done.", "success")
    return _campaign_page(campaign_id)


def _recipients(campaign: Campaign, action: str) -> int:
    """For Send, the audience's members now; for Cancel, the messages not yet handed to
    the vendor (every member, before it starts)."""
    if action == "send" or campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        return audiences.members_now(campaign.audience_id)
    [described] = campaigns.with_stats([campaign])
    stats, progress = described["stats"], described["progress"]
    total = (
        progress["total"]
        if campaign.materialized
        else max(audiences.members_now(campaign.audience_id), progress["total"])
    )
    return max(total - progress["done"] - stats["accepted"], 0)


def _audience_changed(campaign_id: ObjectId) -> bool:
    """Whether the count the confirmation showed is no longer the audience's: it is
    shown again with the new one."""
    shown = request.form.get("count", "")
    campaign = campaigns.get(campaign_id)
    if not shown.isdigit() or campaign.status != CampaignStatus.DRAFT:
        return False
    try:
        now = audiences.members_now(campaign.audience_id)
    except DomainError:
        return False  # sending says why
    if now == int(shown):
        return False
    flash(f"The audience has changed: {now:,} customers now, not {int(shown):,}.", "warning")
    return True


def _future_start(campaign: Campaign) -> datetime | None:
    start = campaign.schedule.send_at if campaign.schedule else None
    return start if start and start > utcnow() else None


def _done(action: str) -> str:
    return {"send": "sent", "cancel": "cancelled"}.get(action, f"{action}d")


def _confirmation(campaign_id: ObjectId, action: str) -> Response:
    return redirect(url_for("console.campaign_confirm", campaign_id=campaign_id, action=action))


def _campaign_page(campaign_id: ObjectId) -> Response:
    return redirect(url_for("console.campaign_page", campaign_id=campaign_id))
