"""Posting receipts as the vendor does: a JSON body signed with the shared secret."""

import json

from crm import config, signatures


def post_signed(client, path, body, secret=None, timestamp=None):
    raw = json.dumps(body).encode()
    secret = secret or config.load().receipt_signing_secret
    headers = signatures.sign(secret, raw, timestamp)
    return client.post(path, data=raw, content_type="application/json", headers=headers)
