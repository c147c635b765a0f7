from flask import g
from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from crm.api.blueprint import Blueprint
from crm.api.pagination import PAGE_HEADERS, respond
from crm.schemas.api_key import ApiKeySchema, NewApiKeySchema
from crm.schemas.pagination import NewestFirstQuerySchema
from crm.services import api_keys, pages

blp = Blueprint("api_keys", __name__, url_prefix="/api/keys", description="API keys")


@blp.route("")
class ApiKeys(MethodView):
    @blp.arguments(NewestFirstQuerySchema, location="query")
    @blp.response(200, ApiKeySchema(many=True), headers=PAGE_HEADERS)
    def get(self, query):
        """List API keys, newest first (never their secrets), a page at a time."""
        found = api_keys.listing()
        request, estimate = pages.Request.take(query), pages.unfiltered_estimate(found)
        return respond(pages.read(found, pages.NEWEST_CREATED, request, estimate))

    @blp.arguments(ApiKeySchema)
    @blp.response(201, NewApiKeySchema)
    def post(self, data):
        """Create an API key; the response is the only time the key is shown."""
        key, text = api_keys.create(data["name"], data["scope"])
        return {**{name: key[name] for name in key._fields}, "key": text}


@blp.route("/<objectid:key_id>", methods=["DELETE"])
@blp.response(200, ApiKeySchema)
@blp.alt_response(404, schema=ErrorSchema, description="No API key has that id.")
@blp.alt_response(409, schema=ErrorSchema, description="It is the last live admin key.")
def revoke(key_id):
    """Revoke an API key; requests using it are refused from now on.

    A key cannot revoke one of a wider scope (403), and the last live admin key cannot
    be revoked (409).
    """
    return api_keys.revoke(key_id, by=g.api_key)
