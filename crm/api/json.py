from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128, ObjectId
from flask.json.provider import DefaultJSONProvider

from crm.schemas.fields import utc_iso


class CrmJSONProvider(DefaultJSONProvider):
    """Money leaves as a JSON number, ObjectIds as strings, instants with their UTC offset."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Decimal128):
            o = o.to_decimal()
        if isinstance(o, Decimal):
            return float(o)
        if isinstance(o, datetime):
            return utc_iso(o)
        if isinstance(o, ObjectId):
            return str(o)
        return DefaultJSONProvider.default(o)
