"""Every operation's real responses match the published contract, timestamps with their
offset: the seed flow, built from the documented examples, over a sending pipeline."""

import json
from dataclasses import replace

from bson import ObjectId

from crm import config, signatures
from crm.api.openapi import EXAMPLES
from tests.helpers.contract import Contract
from tests.helpers.factories import add_customers
from tests.helpers.polling import eventually

CSV = b"customer_id,name,email,city\nbulk1,Bulk One,bulk1@example.com,Pune\n"
ORDERS_CSV = b"order_id,customer_id,order_amount,order_date\nbo1,bulk1,12.5,2024-01-02\n"


def signed(body):
    raw = json.dumps(body).encode()
    headers = signatures.sign(config.load().receipt_signing_secret, raw)
    return {"data": raw, "content_type": "application/json", "headers": headers}


def test_every_operation_answers_as_documented(client, live, vendor):
    api = Contract(client)
    call = api.call

    # Keys
    key = call("POST", "/api/keys", 201, json=EXAMPLES["createApiKey"]).json
    call("GET", "/api/keys", 200)
    call("DELETE", f"/api/keys/{key['id']}", 200)

    # Customers and orders, from the documented examples
    call("POST", "/api/customers", 201, json=EXAMPLES["upsertCustomer"])
    call("POST", "/api/customers", 200, json={**EXAMPLES["upsertCustomer"], "phone": None})
    add_customers(client, 20)
    call("GET", "/api/customers?page_size=50", 200)
    call("GET", "/api/customers/cust010", 200)
    call("GET", "/api/customers/nobody", 404)
    call("PATCH", "/api/customers/cust010", 200, json=EXAMPLES["updateCustomer"])
    call("PATCH", "/api/customers/cust010", 200, json={"opted_out": False})
    call("PATCH", "/api/customers/nobody", 404, json=EXAMPLES["updateCustomer"])

    # The suppression list
    call("POST", "/api/suppressions", 201, json=EXAMPLES["suppressAddress"])
    call("POST", "/api/suppressions/bulk", 200, json=EXAMPLES["suppressAddresses"])
    call("GET", "/api/suppressions", 200)
    call("GET", "/api/suppressions/bounced@example.com", 200)
    call("DELETE", "/api/suppressions/complained@example.com", 204)
    call("GET", "/api/suppressions/complained@example.com", 404)
    call("POST", "/api/orders", 201, json=EXAMPLES["recordOrder"])
    call("GET", "/api/orders", 200)
    call("GET", "/api/orders/order001", 200)
    call("POST", "/api/orders", 422, json={**EXAMPLES["recordOrder"], "order_amount": -1})

    # Bulk imports
    job = call("POST", "/api/customers/bulk", 202, data=CSV, content_type="text/csv").json
    call("POST", "/api/orders/bulk", 202, data=ORDERS_CSV, content_type="text/csv")
    call("GET", f"/api/ingestions/{job['id']}", 200)
    call("GET", f"/api/ingestions/{job['id']}/rejections", 200)
    call("POST", f"/api/ingestions/{job['id']}/resume", 409)  # not FAILED
    call("POST", f"/api/ingestions/{ObjectId()}/resume", 404)

    # Audiences, under both the plural paths and the seed's singular ones
    for base in ("/api/audiences", "/api/audience"):
        audience = call("POST", base, 201, json=EXAMPLES["createAudience"]).json
        call("POST", f"{base}/preview", 200, json=EXAMPLES["previewAudience"])
        call("GET", f"{base}/fields", 200)
        call("GET", base, 200)
        call("GET", f"{base}/{audience['id']}", 200)
        call("PATCH", f"{base}/{audience['id']}", 200, json=EXAMPLES["updateAudience"])
        call("POST", f"{base}/{audience['id']}/refresh", 200)
        call("DELETE", f"{base}/{audience['id']}", 204)
    everyone = {"logic": "AND", "rules": [{"field": "visit_count", "operator": ">=", "value": 0}]}
    audience_id = call("POST", "/api/audiences", 201, json=everyone).json["id"]

    # A slow campaign to pause, resume and cancel
    slow = {**EXAMPLES["createCampaign"], "audience_id": audience_id, "rate_limit_per_second": 1}
    slow_id = call("POST", "/api/campaign", 201, json=slow).json["id"]
    call("POST", "/api/sendCampaign", 202, json={"campaign_id": slow_id})
    call("POST", f"/api/campaign/{slow_id}/pause", 200)
    call("POST", f"/api/campaign/{slow_id}/resume", 200)
    call("POST", f"/api/campaign/{slow_id}/cancel", 200)
    call("POST", f"/api/campaign/{slow_id}/cancel", 409)
    call("PATCH", f"/api/campaign/{slow_id}", 409, json=EXAMPLES["updateCampaign"])
    call("DELETE", f"/api/campaign/{slow_id}", 409)

    # A draft edited, then deleted
    draft_id = call("POST", "/api/campaign", 201, json=slow).json["id"]
    call("PATCH", f"/api/campaign/{draft_id}", 200, json=EXAMPLES["updateCampaign"])
    call("PATCH", f"/api/campaign/{draft_id}", 422, json={"message": "Hi {{ password }}"})
    call("DELETE", f"/api/campaign/{draft_id}", 204)
    call("DELETE", f"/api/campaign/{draft_id}", 404)

    # A scheduled campaign, taken back to a draft
    later = {
        "send_at": "2099-01-01T09:00:00+01:00",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    }
    later_id = call("POST", "/api/campaign", 201, json={**slow, "schedule": later}).json["id"]
    call("POST", "/api/sendCampaign", 202, json={"campaign_id": later_id})
    call("GET", f"/api/campaign/{later_id}", 200)
    call("POST", f"/api/campaign/{later_id}/unschedule", 200)
    call("POST", f"/api/campaign/{later_id}/unschedule", 409)

    # A campaign sent to the end, then its logs, receipts, recount and results
    body = {
        "audience_id": audience_id,
        "message": "Hi {{name}}",
        "holdout_percent": 30,
        "variants": [{"message": "Hi {{name}}"}, {"message": "Hello", "weight": 2}],
    }
    campaign_id = call("POST", "/api/campaign", 201, json=body).json["id"]
    call("POST", "/api/sendCampaign", 202, json={"campaign_id": campaign_id})
    eventually(lambda: client.get(f"/api/campaign/{campaign_id}").json["status"] == "COMPLETED", 60)
    call("GET", f"/api/campaign/{campaign_id}", 200)
    call("GET", "/api/campaign", 200)
    log = call("GET", f"/api/campaign/{campaign_id}/logs", 200).json[0]
    receipt = {"communication_log_id": log["id"], "status": "SENT"}
    call("POST", "/api/sendCampaign/deliveryReceipt", 200, **signed(receipt))
    call("POST", "/api/sendCampaign/deliveryReceipts", 202, **signed({"receipts": [receipt]}))
    call("POST", f"/api/campaign/{campaign_id}/recount", 200)
    call("GET", f"/api/campaign/{campaign_id}/results", 200)

    # A test message: sent once, its key not to be reused for another text
    app = client.application
    app.config["CRM_SETTINGS"] = replace(
        app.config["CRM_SETTINGS"], vendor_url=vendor, public_url=live
    )
    call("POST", "/api/testMessages", 200, json=EXAMPLES["sendTestMessage"])
    call("POST", "/api/testMessages", 409, json={**EXAMPLES["sendTestMessage"], "message": "Hi"})

    # Errors every operation may meet before its view runs
    call("POST", "/api/orders", 400, data="{not json", content_type="application/json")
    big = {**EXAMPLES["upsertCustomer"], "name": "x" * 2_000_000}
    call("POST", "/api/customers", 413, json=big)
    anonymous = client.application.test_client()
    api.check("GET", "/api/customers", anonymous.get("/api/customers"))

    assert api.seen >= {name for name in api.operation_ids() if not name.endswith("SeedPath")}
