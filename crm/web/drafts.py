"""Draft campaigns in the console: the composer opened on a draft saves over it (Send now
goes on to the confirmation), and a draft can be deleted (a box to tick first). Both as
the API does them (``crm.services.drafts``), so a campaign no longer a DRAFT is left as
it is."""

from bson import ObjectId
from flask import flash, redirect, request, url_for
from werkzeug.wrappers import Response

from crm.documents import CampaignStatus
from crm.schemas.campaign import CampaignPatchSchema
from crm.services import campaigns, drafts
from crm.services.errors import InvalidInput, InvalidTransition
from crm.web import composer_options
from crm.web.access import requires
from crm.web.blueprint import blp, flash_error
from crm.web.campaigns import composer
from crm.web.fields import field_errors, load


@blp.route("/campaigns/<objectid:campaign_id>/edit")
@requires("marketer")
def draft_editor(campaign_id: ObjectId):
    draft = campaigns.get(campaign_id)
    if draft.status != CampaignStatus.DRAFT:
        flash(f"Only a DRAFT can be edited; this campaign is {draft.status}.", "danger")
        return _campaign_page(campaign_id)
    return composer(composer_options.form_of(draft), {}, draft)


@blp.route("/campaigns/<objectid:campaign_id>/edit", methods=["POST"])
@requires("marketer")
def draft_save(campaign_id: ObjectId):
    """The whole form replaces the draft's fields; options it leaves out are cleared."""
    body, rows = composer_options.campaign_body(request.form)
    changes = {**composer_options.UNSET_OPTIONS, **body}
    try:
        drafts.edit(campaign_id, load(CampaignPatchSchema(), changes))
    except InvalidTransition as error:
        flash_error(error)
        return _campaign_page(campaign_id)
    except InvalidInput as error:
        flash(error.message, "danger")
        errors = composer_options.row_of(field_errors(error), rows)
        return composer(request.form.to_dict(), errors, campaigns.get(campaign_id)), 422
    flash("Draft saved.", "success")
    if request.form.get("action") == "send":
        return redirect(url_for("console.campaign_confirm", campaign_id=campaign_id, action="send"))
    return _campaign_page(campaign_id)


@blp.route("/campaigns/<objectid:campaign_id>/delete", methods=["POST"])
@requires("marketer")
def draft_delete(campaign_id: ObjectId):
    if request.form.get("confirm") != "yes":
        flash("Tick “Yes, delete this draft” to delete it.", "warning")
        return _campaign_page(campaign_id)
    try:
        drafts.delete(campaign_id)
    except InvalidTransition as error:
        flash_error(error)
        return _campaign_page(campaign_id)
    flash("Draft deleted.", "success")
    return redirect(url_for("console.campaign_list"))


def _campaign_page(campaign_id: ObjectId) -> Response:
    return redirect(url_for("console.campaign_page", campaign_id=campaign_id))
