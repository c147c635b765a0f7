from decimal import Decimal
from typing import Any

from bson import Decimal128, ObjectId
from flask.json.provider import DefaultJSONProvider


class CrmJSONProvider(DefaultJSONProvider):
    """Money leaves as a JSON number and ObjectIds as strings."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Decimal128):
            o = o.to_decimal()
        if isinstance(o, Decimal):
            return float(o)
        if isinstance(o, ObjectId):
            return str(o)
        return DefaultJSONProvider.default(o)
