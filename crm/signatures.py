"""Signed webhooks, as Stripe and Twilio do them: HMAC-SHA256 over ``timestamp.body``.

The vendor sends ``X-Signature-Timestamp`` (Unix seconds) and ``X-Signature``
(``sha256=<hex>``); the receiver recomputes it with the shared secret, compares in
constant time, and refuses timestamps too far from its clock so a captured request
cannot be replayed later.
"""

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Signature-Timestamp"
SIGNATURE_HEADER = "X-Signature"
MAX_AGE_SECONDS = 300
# Unix seconds stay 10 digits until the year 2286; anything longer is not a timestamp.
MAX_TIMESTAMP_DIGITS = 12


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers that sign ``body``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"sha256={_mac(secret, timestamp, body)}",
    }


def verify(secret: str, body: bytes, timestamp: str | None, signature: str | None) -> str | None:
    """None when the signature is good and fresh; otherwise why it is not."""
    if not timestamp or not signature:
        return "missing signature headers"
    if not _is_unix_seconds(timestamp) or abs(int(time.time()) - int(timestamp)) > MAX_AGE_SECONDS:
        return "stale or malformed timestamp"
    expected = f"sha256={_mac(secret, int(timestamp), body)}"
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "bad signature"
    return None


def _is_unix_seconds(text: str) -> bool:
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    return text.isascii() and text.isdigit() and len(text) <= MAX_TIMESTAMP_DIGITS


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
