"""What the published contract adds to the spec flask-smorest generates from the views:
an ``operationId`` for every operation, a worked example for every JSON request body
(the seed README's, so that Swagger UI's "Try it out" sends something sensible), and the
errors every operation can meet before its view runs (401, 429; 400 and 413 with a body).
"""

from typing import Any

import marshmallow as ma
from apispec import BasePlugin

from crm.schemas.base import MULTILINE

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_RESPONSES = {
    "BAD_REQUEST": "The body is not valid JSON.",
    "UNAUTHORIZED": "No valid API key (or, on receipt paths, no valid vendor signature).",
    "TOO_MANY_REQUESTS": "Too many failed authentications from this address; wait a minute.",
    "CONTENT_TOO_LARGE": "The body is larger than the configured limit.",
}
SEED_PATH = "/api/audience"

OPERATION_IDS = {
    "GET /api/customers": "listCustomers",
    "POST /api/customers": "upsertCustomer",
    "GET /api/customers/{customer_id}": "getCustomer",
    "PATCH /api/customers/{customer_id}": "updateCustomer",
    "POST /api/customers/bulk": "importCustomers",
    "GET /api/orders": "listOrders",
    "POST /api/orders": "recordOrder",
    "GET /api/orders/{order_id}": "getOrder",
    "POST /api/orders/bulk": "importOrders",
    "GET /api/ingestions/{ingestion_id}": "getIngestion",
    "GET /api/ingestions/{ingestion_id}/rejections": "getIngestionRejections",
    "POST /api/ingestions/{ingestion_id}/resume": "resumeIngestion",
    "GET /api/audiences": "listAudiences",
    "POST /api/audiences": "createAudience",
    "POST /api/audiences/preview": "previewAudience",
    "GET /api/audiences/fields": "listAudienceFields",
    "GET /api/audiences/{audience_id}": "getAudience",
    "PATCH /api/audiences/{audience_id}": "updateAudience",
    "DELETE /api/audiences/{audience_id}": "deleteAudience",
    "POST /api/audiences/{audience_id}/refresh": "refreshAudience",
    "GET /api/campaign": "listCampaigns",
    "POST /api/campaign": "createCampaign",
    "GET /api/campaign/{campaign_id}": "getCampaign",
    "PATCH /api/campaign/{campaign_id}": "updateCampaign",
    "DELETE /api/campaign/{campaign_id}": "deleteCampaign",
    "GET /api/campaign/{campaign_id}/logs": "listCampaignLogs",
    "POST /api/campaign/{campaign_id}/pause": "pauseCampaign",
    "POST /api/campaign/{campaign_id}/resume": "resumeCampaign",
    "POST /api/campaign/{campaign_id}/cancel": "cancelCampaign",
    "POST /api/campaign/{campaign_id}/unschedule": "unscheduleCampaign",
    "POST /api/campaign/{campaign_id}/recount": "recountCampaign",
    "GET /api/campaign/{campaign_id}/results": "getCampaignResults",
    "POST /api/sendCampaign": "sendCampaign",
    "POST /api/sendCampaign/deliveryReceipt": "applyDeliveryReceipt",
    "POST /api/sendCampaign/deliveryReceipts": "queueDeliveryReceipts",
    "POST /api/testMessages": "sendTestMessage",
    "GET /api/keys": "listApiKeys",
    "POST /api/keys": "createApiKey",
    "DELETE /api/keys/{key_id}": "revokeApiKey",
    "GET /api/suppressions": "listSuppressions",
    "POST /api/suppressions": "suppressAddress",
    "POST /api/suppressions/bulk": "suppressAddresses",
    "GET /api/suppressions/{address}": "getSuppression",
    "DELETE /api/suppressions/{address}": "unsuppressAddress",
}

SEED_RULES = {
    "rules": [
        {"field": "total_spends", "operator": ">", "value": 1000},
        {"field": "visit_count", "operator": ">=", "value": 4},
    ],
    "logic": "AND",
}
AUDIENCE_ID = "6663a2d1e42db195d2b07154"
EXAMPLES: dict[str, Any] = {
    "upsertCustomer": {
        "customer_id": "cust010",
        "name": "Shubh",
        "email": "shubh@ipu.ac.in",
        "total_spends": 120000,
        "last_visit_date": "2023-06-12",
        "visit_count": 7,
    },
    "recordOrder": {
        "order_id": "order001",
        "customer_id": "cust010",
        "order_amount": 200,
        "order_date": "2023-01-10",
    },
    "createAudience": {"name": "Big spenders who visit", **SEED_RULES},
    "previewAudience": SEED_RULES,
    "updateAudience": {"name": "Loyal big spenders"},
    "createCampaign": {
        "audience_id": AUDIENCE_ID,
        "name": "June thank-you",
        "message": "Hi {{name}}, here's 10% off on your next order!",
    },
    "updateCampaign": {
        "name": "June thank-you (final)",
        "message": "Hi {{name}}, here's 15% off on your next order!",
        "schedule": {"send_at": "2099-06-20T09:00:00+01:00"},
    },
    "sendCampaign": {"campaign_id": "6663a475e42db195d2b07162"},
    "applyDeliveryReceipt": {"communication_log_id": "6663a475e42db195d2b07163", "status": "SENT"},
    "queueDeliveryReceipts": {
        "receipts": [
            {"communication_log_id": "6663a475e42db195d2b07163", "status": "SENT"},
            {
                "communication_log_id": "6663a475e42db195d2b07164",
                "status": "FAILED",
                "reason": "unreachable",
            },
        ]
    },
    "createApiKey": {"name": "reporting"},
    "updateCustomer": {"opted_out": True},
    "suppressAddress": {"address": "bounced@example.com", "reason": "bounced"},
    "suppressAddresses": {
        "addresses": ["bounced@example.com", "Complained@Example.com"],
        "reason": "imported from the mail provider",
    },
    "sendTestMessage": {
        "idempotency_key": "2f6c1e0a9b7d4c3e",
        "customer_id": "cust010",
        "message": "Hi {{name}}, here's 10% off on your next order!",
    },
}
EXAMPLES["importCustomers"] = [EXAMPLES["upsertCustomer"]]
EXAMPLES["importOrders"] = [EXAMPLES["recordOrder"]]


def operation_id(method: str, path: str) -> str:
    """The id of ``METHOD path``; the seed's singular audience paths end in ``SeedPath``."""
    if path == SEED_PATH or path.startswith(SEED_PATH + "/"):
        plural = f"{method.upper()} /api/audiences{path[len(SEED_PATH) :]}"
        return OPERATION_IDS[plural] + "SeedPath"
    return OPERATION_IDS[f"{method.upper()} {path}"]


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


class ContractPlugin(BasePlugin):
    def operation_helper(self, path=None, operations=None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            name = operation_id(method, path)
            operation["operationId"] = name
            responses = operation.setdefault("responses", {})
            if path.startswith("/api/"):
                responses.setdefault("401", _response("UNAUTHORIZED"))
                responses.setdefault("429", _response("TOO_MANY_REQUESTS"))
            content = operation.get("requestBody", {}).get("content", {})
            if content:
                responses.setdefault("413", _response("CONTENT_TOO_LARGE"))
            if "application/json" in content:
                responses.setdefault("400", _response("BAD_REQUEST"))
                base_name = name.removesuffix("SeedPath")
                if base_name in EXAMPLES:
                    content["application/json"]["example"] = EXAMPLES[base_name]


def components() -> dict[str, Any]:
    """The shared error responses the plugin refers to."""
    return {
        "responses": {
            name: {"description": text, "content": {"application/json": {"schema": ERROR}}}
            for name, text in ERROR_RESPONSES.items()
        }
    }


# Text the API refuses (``crm/schemas/storable.py``), said in the document: no control
# characters, and in multiline text none but tab, newline and carriage return.
TEXT = r"^[^\x00-\x1f\x7f-\x9f]*$"
MULTILINE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def text_pattern(self: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict:
    """An apispec attribute function: a ``pattern`` for every text field that has none."""
    if not isinstance(field, ma.fields.String) or "pattern" in ret or field.dump_only:
        return {}
    return {"pattern": MULTILINE_TEXT if field.metadata.get(MULTILINE) else TEXT}
