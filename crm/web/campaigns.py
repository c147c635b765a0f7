"""Campaigns: the list, the composer, the live page, its logs and CSV (its controls:
``crm.web.controls``)."""

from typing import Any

from bson import ObjectId
from flask import (
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from crm.documents import Campaign, CampaignStatus, MessageStatus
from crm.schemas.campaign import CampaignSchema
from crm.services import (
    audiences,
    campaigns,
    csv_cells,
    pages,
    templates,
    test_messages,
    timelines,
)
from crm.services.errors import DomainError, status_of
from crm.web import charts, composer_options, form_keys
from crm.web.access import requires
from crm.web.blueprint import blp, explain
from crm.web.charts import funnel, status_badge
from crm.web.fields import field_errors, load
from crm.web.results import winner_line

LOG_PAGE = 50
CSV_PAGE = 1000
blp.add_app_template_global(status_badge)


@blp.route("/campaigns")
def campaign_list():
    found = campaigns.with_stats(list(campaigns.newest_first().limit(100)))
    return render_template("campaigns.html", campaigns=found)


@blp.route("/campaigns/new")
@requires("marketer")
@form_keys.keyed
def campaign_composer():
    """A new composer, with its form's key (``crm.web.form_keys``): sending it again finds
    the campaign it made."""
    given = {"audience_id": request.args.get("audience_id", ""), "form_key": form_keys.shown()}
    return composer(given, {})


def composer(
    given: dict[str, str], errors: dict[str, list[str]], draft: Campaign | None = None
) -> str:
    """The composer with the inputs ``given``, for a new campaign or to edit ``draft``."""
    made = None if draft else _made_by(given.get("form_key", ""))
    return render_template(
        "composer.html",
        draft=draft,
        made=made,
        audiences=audiences.page(pages.Request(page_size=100)).items,
        audience_size=_size_now(given.get("audience_id", "")),
        variables=sorted(templates.VARIABLES - {"attributes"}),
        chosen=given.get("audience_id", ""),
        given=given,
        errors=errors,
        default_timezone=current_app.config["CRM_SETTINGS"].default_timezone,
    )


def _made_by(form_key: str) -> Campaign | None:
    key = form_keys.parse(form_key)
    return campaigns.find(key) if key else None


def _size_now(audience_id: str) -> int | None:
    """The audience's members as of now (None without one)."""
    if not ObjectId.is_valid(audience_id):
        return None
    try:
        return audiences.members_now(audience_id)
    except DomainError:
        return None


@blp.route("/campaigns/audience-size")
@requires("marketer")
def campaign_audience_size():
    """The chosen audience's members as of now (JSON, for the composer)."""
    return jsonify(size=_size_now(request.args.get("audience_id", "")))


@blp.route("/campaigns/preview", methods=["POST"])
@requires("marketer")
def campaign_preview():
    """The message rendered for the audience's first customers (JSON, for the composer)."""
    body = request.get_json(silent=True) or {}
    message = str(body.get("message", ""))
    try:
        templates.validate(message)
        members = audiences.first_members(str(body.get("audience_id", "")))
        rendered = [
            {"customer_id": member["customer_id"], "text": templates.render(message, member)}
            for member in members
        ]
    except DomainError as error:
        return jsonify(message=explain(error), errors=error.errors), status_of(error)
    return jsonify(rendered=rendered)


@blp.route("/campaigns/test-message", methods=["POST"])
@requires("marketer")
def campaign_test_message():
    """Send the composer's message to one customer, once per idempotency key (JSON)."""
    body = request.get_json(silent=True) or {}
    settings = current_app.config["CRM_SETTINGS"]
    vendor = test_messages.Vendor(
        settings.vendor_url, settings.public_url, settings.vendor_timeout_seconds
    )
    try:
        sent = test_messages.send(
            str(body.get("idempotency_key", "")),
            str(body.get("customer_id", "")).strip(),
            str(body.get("message", "")),
            vendor,
            g.user.email,
        )
    except DomainError as error:
        return jsonify(message=explain(error), errors=error.errors), status_of(error)
    return jsonify(
        idempotency_key=sent.key,
        customer_id=sent.customer_id,
        to=sent.to,
        body=sent.body,
        status=sent.status.value,
        reason=sent.reason,
    )


@blp.route("/campaigns", methods=["POST"])
@requires("marketer")
def campaign_save():
    """Create the campaign as ``POST /api/campaign`` does (its schema, then the service),
    once per form key; a refusal shows the composer again, each error next to its field.
    Send now goes on to the confirmation, which sends."""
    form_key = form_keys.posted()
    if form_key is None:
        flash(form_keys.OUT_OF_DATE, "warning")
        return composer({**request.form.to_dict(), "form_key": form_keys.fresh()}, {}), 422
    campaign, created = campaigns.find(form_key), False
    if campaign is None:
        body, rows = composer_options.campaign_body(request.form)
        try:
            campaign, created = campaigns.create_once(form_key, load(CampaignSchema(), body))
        except DomainError as error:
            flash(error.message, "danger")
            errors = composer_options.row_of(field_errors(error), rows)
            return composer(request.form.to_dict(), errors), 422
    if not created:
        flash("This form was sent already: here is the campaign it made.", "info")
    if request.form.get("action") == "send" and campaign.status == CampaignStatus.DRAFT:
        return redirect(url_for("console.campaign_confirm", campaign_id=campaign.id, action="send"))
    return redirect(url_for("console.campaign_page", campaign_id=campaign.id))


@blp.route("/campaigns/<objectid:campaign_id>")
def campaign_page(campaign_id: ObjectId):
    campaign = _described(campaign_id)
    status = _status_filter()
    after = request.args.get("after") or None
    logs = campaigns.logs(
        campaigns.get(campaign_id), pages.Request(page_size=LOG_PAGE, after=after), status
    )
    return render_template(
        "campaign.html",
        campaign=campaign,
        logs=logs,
        status=status.value if status else "",
        statuses=[s.value for s in MessageStatus],
        audience=audiences.get(campaign["audience_id"]),
        funnel=funnel(campaign),
        winner=winner_line(campaign.get("winner")),
        **_deliveries(campaign_id),
    )


@blp.route("/campaigns/<objectid:campaign_id>/deliveries")
def campaign_deliveries(campaign_id: ObjectId):
    """The deliveries chart alone (HTML), redrawn by the live page as messages settle."""
    return render_template("_deliveries.html", **_deliveries(campaign_id))


def _deliveries(campaign_id: ObjectId) -> dict[str, Any]:
    try:
        timeline = timelines.deliveries(campaigns.get(campaign_id))
    except DomainError as error:
        return {"deliveries": None, "deliveries_problem": explain(error)}
    return {"deliveries": charts.deliveries(timeline), "deliveries_problem": ""}


@blp.route("/campaigns/<objectid:campaign_id>/progress")
def campaign_progress(campaign_id: ObjectId):
    campaign = _described(campaign_id)
    return jsonify(
        status=campaign["status"].value,
        badge=status_badge(campaign),
        stats=campaign["stats"],
        progress=campaign["progress"],
        funnel=funnel(campaign),
    )


@blp.route("/campaigns/<objectid:campaign_id>/logs.csv")
@requires("marketer")
def campaign_logs_csv(campaign_id: ObjectId):
    """The campaign's logs (customer data: marketers and admins only), every one, a page of
    the logs at a time."""
    campaign = campaigns.get(campaign_id)
    status = _status_filter()

    def rows():
        after = None
        while True:
            page = campaigns.logs(campaign, pages.Request(page_size=CSV_PAGE, after=after), status)
            for log in page.items:
                yield [
                    log.id,
                    log.customer_id,
                    log.to,
                    log.status.value,
                    log.reason or "",
                    log.updated_at.isoformat(),
                ]
            if not page.has_next:
                return
            after = page.next_after

    header = ["log_id", "customer_id", "to", "status", "reason", "updated_at"]
    name = f"campaign-{campaign_id}-logs.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    body = stream_with_context(csv_cells.stream(header, rows()))
    return Response(body, mimetype="text/csv", headers=headers)


def _status_filter() -> MessageStatus | None:
    raw = request.args.get("status", "")
    return MessageStatus(raw) if raw in {s.value for s in MessageStatus} else None


def _described(campaign_id: ObjectId) -> dict[str, Any]:
    return campaigns.with_stats([campaigns.get(campaign_id)])[0]
