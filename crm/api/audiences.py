from collections.abc import Callable

from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from crm.api.blueprint import Blueprint
from crm.api.pagination import PAGE_HEADERS, respond
from crm.schemas.audience import (
    AudienceSchema,
    AudienceUpdateSchema,
    CatalogSchema,
    PreviewSchema,
    RuleTreeSchema,
)
from crm.schemas.pagination import NewestFirstQuerySchema
from crm.services import audiences, pages

blp = Blueprint("audiences", __name__, url_prefix="/api", description="Audiences (segments)")
NOT_FOUND = {"schema": ErrorSchema, "description": "No audience has that id."}


def route(path: str) -> Callable[[type[MethodView]], type[MethodView]]:
    """Serve ``path`` under /api/audiences and, as the seed's clients call it, /api/audience."""

    def register(view: type[MethodView]) -> type[MethodView]:
        blp.route(f"/audiences{path}")(view)
        blp.route(f"/audience{path}", tags=["audiences (seed paths)"])(view)
        return view

    return register


@route("")
class Audiences(MethodView):
    @blp.arguments(NewestFirstQuerySchema, location="query")
    @blp.response(200, AudienceSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query):
        """List audiences, newest first, each with its last computed size (a page at a time)."""
        return respond(audiences.page(pages.Request.take(query)))

    @blp.arguments(AudienceSchema)
    @blp.response(201, AudienceSchema)
    def post(self, data):
        """Save an audience; its size is counted now."""
        return audiences.create(data)


@route("/preview")
class Preview(MethodView):
    @blp.arguments(RuleTreeSchema)
    @blp.response(200, PreviewSchema)
    def post(self, data):
        """Count the customers a rule tree matches, with a sample, without saving it."""
        return audiences.preview(data["rules"])


@route("/fields")
class Fields(MethodView):
    @blp.response(200, CatalogSchema)
    def get(self):
        """The fields rules may use, their operators, and the custom attribute keys in use."""
        return audiences.catalog()


@route("/<objectid:audience_id>")
class AudienceById(MethodView):
    @blp.response(200, AudienceSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, audience_id):
        """Get one audience."""
        return audiences.get(audience_id)

    @blp.arguments(AudienceUpdateSchema)
    @blp.response(200, AudienceSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def patch(self, data, audience_id):
        """Rename it or change its rules; changed rules are counted again."""
        return audiences.update(audience_id, data)

    @blp.response(204)
    @blp.alt_response(404, **NOT_FOUND)
    @blp.alt_response(409, schema=ErrorSchema, description="A campaign is sending to it.")
    def delete(self, audience_id):
        """Delete an audience no campaign is sending to."""
        audiences.delete(audience_id)


@route("/<objectid:audience_id>/refresh")
class Refresh(MethodView):
    @blp.response(200, AudienceSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def post(self, audience_id):
        """Count the audience's members again, as of now."""
        return audiences.refresh(audience_id)
