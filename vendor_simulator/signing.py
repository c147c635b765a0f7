"""Receipt signatures as the CRM checks them: HMAC-SHA256 over ``<timestamp>.<body>``."""

import hashlib
import hmac
import time


def signature_headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {"X-Signature-Timestamp": timestamp, "X-Signature": f"sha256={mac.hexdigest()}"}
