"""Secrets that are no secret: the API and the worker refuse to start with an example
value or a short one, in one line naming the setting."""

from dataclasses import replace
from pathlib import Path

import pytest

from crm import config

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def _examples():
    lines = EXAMPLE.read_text().splitlines()
    return [line.split("=", 1) for line in lines if line.startswith("CRM_") and "SECRET" in line]


@pytest.mark.parametrize("process", ["api", "worker"])
def test_example_and_short_secrets_are_refused_at_startup(process):
    good = replace(
        config.load(),
        secret_key="a-console-session-key-of-43-characters-xxxxxx",
        receipt_signing_secret="a-receipt-signing-secret-long-enough",
        public_url="http://127.0.0.1:8000",
        vendor_url="http://127.0.0.1:9000",
    )
    config.require(good, process)
    given = [(name, value) for name, value in _examples()]
    given += [("CRM_UNSUBSCRIBE_SECRET", "too-short-15chr"), ("CRM_SECRET_KEY", "k")]
    assert {name for name, _ in given} >= {"CRM_SECRET_KEY", "CRM_RECEIPT_SIGNING_SECRET"}
    for name, value in given:
        field = name.removeprefix("CRM_").lower()
        if process == "worker" and field == "secret_key":
            continue  # the console's key: the API's alone
        with pytest.raises(SystemExit) as refused:
            config.require(replace(good, **{field: value}), process)
        message = str(refused.value)
        assert message.startswith(f"{name} is invalid:") and "\n" not in message, message
