from bson import ObjectId
from bson.errors import InvalidId
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from crm.schemas.fields import ID_PATTERN


class ObjectIdConverter(BaseConverter):
    """``<objectid:name>`` in a route: a malformed id is a 404, like any unknown path."""

    def to_python(self, value: str) -> ObjectId:
        try:
            return ObjectId(value)
        except InvalidId:
            raise NotFound(
                f"{value!r} is not a valid id: expected 24 hexadecimal digits."
            ) from None

    def to_url(self, value: ObjectId) -> str:
        return str(value)


class ExternalIdConverter(BaseConverter):
    """``<external_id:name>``: a client-chosen id such as ``cust010``; others are 404s."""

    regex = ID_PATTERN.removeprefix("^").removesuffix("$")
