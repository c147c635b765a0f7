"""Every numeric setting refused at startup in one line naming it, as the others are."""

import os
import subprocess
import sys

import pytest

START_API = "from crm import create_app; create_app()"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CRM_FREQUENCY_CAP_DAYS", "91"),
        ("CRM_FREQUENCY_CAP_DAYS", "weekly"),
        ("CRM_INGEST_CHUNK_SIZE", "0"),
        ("CRM_SEND_LEASE_SECONDS", "-5"),
        ("CRM_PORT", "70000"),
        ("CRM_QUERY_TIMEOUT_MS", "nan"),
    ],
)
def test_a_bad_number_stops_the_api_with_one_line_naming_it(name, value, tmp_path):
    env = {
        **os.environ,
        "CRM_SECRET_KEY": "a-session-key-of-some-length",
        "CRM_RECEIPT_SIGNING_SECRET": "a-receipt-signing-secret",
        "CRM_FREQUENCY_CAP_MESSAGES": "3",
        "CRM_VAR_DIR": str(tmp_path),
        name: value,
    }
    started = subprocess.run(
        [sys.executable, "-c", START_API], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 1
    assert started.stderr.splitlines() == [started.stderr.strip()], started.stderr
    assert started.stderr.startswith(f"{name} is invalid: expected"), started.stderr
