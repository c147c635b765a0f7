"""The one place settings are read: ``CRM_*`` environment variables over local defaults.

``MONGODB_URI`` and ``REDIS_URL`` are also accepted unprefixed, the names most
hosting platforms and docker images already set.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str = "mongodb://127.0.0.1:27017/minicrm"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Where workers reach the vendor, and where the vendor sends receipts back.
    vendor_url: str = "http://127.0.0.1:9000"
    public_url: str = "http://127.0.0.1:8000"
    vendor_timeout_seconds: float = 10.0
    # Messages per send chunk: one queue message, one lease, one vendor request. 1,000 is
    # the most a batch request of the usual e-mail/SMS vendors (and the simulator) takes.
    send_chunk_size: int = 1000
    # How long a worker holds a chunk it sends before the sweep may hand it out again;
    # longer than one vendor request (vendor_timeout_seconds) with room to spare.
    send_lease_seconds: float = 120.0
    # A vendor answering 429/5xx or nothing delays messages; only after failing this long
    # are they FAILED (vendor_unavailable).
    vendor_outage_budget_seconds: float = 900.0
    # Messages a second to the vendor for campaigns without their own limit; 0: none.
    send_rate_per_second: int = 0
    # Sweeps (0 turns them off): messages with no receipt after receipt_timeout_seconds
    # are looked up at the vendor; a queued chunk whose queue message has been gone for
    # orphan_after_seconds is queued again, and so is a materialisation idle that long.
    sweep_interval_seconds: float = 30.0
    receipt_timeout_seconds: float = 900.0
    orphan_after_seconds: float = 300.0
    max_content_length: int = 1_000_000
    # Delivery receipts must carry an HMAC-SHA256 signature made with this secret
    # (shared with the vendor); unsigned seed-style receipts only when explicitly off.
    receipt_signing_secret: str = ""
    receipt_signatures_required: bool = True
    # Origins allowed to call the API from a browser (comma-separated); none by default.
    cors_origins: str = ""
    # Failed authentications a client address may make per minute before getting 429s.
    auth_failures_per_minute: int = 20
    # Bulk imports: the largest upload (streamed, never held in memory), records per
    # queue message, and how long an order may wait for its customer before rejection.
    max_upload_bytes: int = 50_000_000
    ingest_chunk_size: int = 2000
    ingest_park_seconds: float = 86400.0
    # Logs: "text" or "json" (one JSON object a line).
    log_format: str = "text"
    # When set, GET /metrics needs ``Authorization: Bearer <token>``; open otherwise.
    metrics_token: str = ""


_ALIASES = {"mongodb_uri": "MONGODB_URI", "redis_url": "REDIS_URL"}


def _parse(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if default is None and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from ``environ`` (default: the process environment), then ``overrides``."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in fields(Settings):
        default = field.default
        for name in (f"CRM_{field.name.upper()}", _ALIASES.get(field.name)):
            if name and environ.get(name):
                values[field.name] = _parse(environ[name], default)
                break
    return replace(Settings(**values), **overrides)


def given(environ: Mapping[str, str] | None = None) -> set[str]:
    """The settings the environment sets explicitly (the rest take their defaults)."""
    environ = os.environ if environ is None else environ
    return {
        field.name
        for field in fields(Settings)
        if environ.get(f"CRM_{field.name.upper()}") or environ.get(_ALIASES.get(field.name, ""))
    }


def prometheus_multiproc_dir() -> str | None:
    """prometheus_client's own variable: where each process of a multi-process server
    keeps its metrics (set by ``gunicorn.conf.py``); unset in a single process."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
