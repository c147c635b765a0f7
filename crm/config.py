"""The one place settings are read: ``CRM_*`` environment variables over local defaults.

``MONGODB_URI`` and ``REDIS_URL`` are also accepted unprefixed, the names most
hosting platforms and docker images already set. A setting the environment leaves unset
is taken from ``<CRM_VAR_DIR>/stack.env`` when ``make run`` has written one, so that the
flask CLI in a second terminal finds the servers the local stack started.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str = "mongodb://127.0.0.1:27017/minicrm"
    # How long a MongoDB command waits for a reachable server before failing (503).
    mongodb_timeout_ms: int = 2500
    # The longest a query a user triggers may run (list pages, counts, audience previews,
    # saves and refreshes): past it the request is a 422 asking to narrow the query.
    query_timeout_ms: int = 5000
    # The longest a campaign's results may take (one aggregation over all its logs).
    results_timeout_ms: int = 60_000
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Where workers reach the vendor, and where the vendor sends receipts back: no
    # default can be right for both a laptop and a deployment, so workers require both.
    vendor_url: str = ""
    public_url: str = ""
    vendor_timeout_seconds: float = 10.0
    # Messages per send chunk: one queue message, one lease, one vendor request. 1,000 is
    # the most a batch request of the usual e-mail/SMS vendors (and the simulator) takes.
    send_chunk_size: int = 1000
    # How long a worker holds a chunk it sends before it may be handed out again. The
    # worker renews the lease while it works (every quarter lease), so a slow vendor
    # never costs a live worker its chunk and a dead worker's chunk is free within a lease.
    send_lease_seconds: float = 15.0
    # A worker process silent this long is dead: the queue messages it had taken are
    # given back to the queue (each live process beats every few seconds).
    worker_dead_after_seconds: float = 15.0
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
    # Scheduled campaigns (crm/services/sending/schedule.py): one that fires this late is
    # still on time; a later one follows its missed_schedule policy, and none is sent
    # later than schedule_max_late_seconds. Members without a time zone use
    # default_timezone; quiet_hours ("21:00-08:00", recipient-local) applies to campaigns
    # without their own; empty: none.
    schedule_grace_seconds: float = 300.0
    schedule_max_late_seconds: float = 3600.0
    default_timezone: str = "UTC"
    quiet_hours: str = ""
    max_content_length: int = 1_000_000
    # Delivery receipts must carry an HMAC-SHA256 signature made with this secret
    # (shared with the vendor); unsigned seed-style receipts only when explicitly off.
    receipt_signing_secret: str = ""
    receipt_signatures_required: bool = True
    # Signs the console's session cookies (/app); required when serving.
    secret_key: str = ""
    # Origins allowed to call the API from a browser (comma-separated); none by default.
    cors_origins: str = ""
    # Failed authentications a client address may make per minute before its failing
    # attempts get 429s (a valid key is always let through).
    auth_failures_per_minute: int = 20
    # Console sign-in is slowed, never locked: failed sign-ins to one account from one
    # client address, and from one address across all accounts, in a quarter of an hour;
    # past either, that address's sign-ins are refused (429) until the quarter ends, unseen
    # passwords unchecked. Known and unknown accounts are counted alike.
    sign_in_failures_per_account: int = 5
    sign_in_failures_per_address: int = 30
    # A console session ends after this long without a request, and this long after its
    # sign-in whatever its use; and at once when its user signs out (everywhere), is
    # deactivated, or has their role or password changed.
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    # Console sign-in through an OpenID Connect provider (Google, …): on when the issuer,
    # client id and secret are all set; the label is the sign-in page's button.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_label: str = "Sign in with single sign-on"
    # Reverse proxies in front of the API whose X-Forwarded-* headers are trusted.
    trusted_proxy_hops: int = 0
    # Bulk imports: the largest upload (streamed, never held in memory), records per
    # queue message and the most bytes of records one holds (a chunk is one document,
    # at most 16 MiB), and how long an order may wait for its customer before rejection.
    max_upload_bytes: int = 50_000_000
    ingest_chunk_size: int = 2000
    ingest_chunk_bytes: int = 4 * 1024 * 1024
    ingest_park_seconds: float = 86400.0
    # The longest one import transaction may run: a chunk that cannot be applied within it
    # is split and its halves applied in turn. Below MongoDB's transaction lifetime limit
    # (transactionLifetimeLimitSeconds, 60 by default), which would abort it anyway.
    ingest_transaction_seconds: float = 30.0
    # Frequency cap: at most this many messages per customer in any frequency_cap_days
    # days, across campaigns (0: no cap). A campaign may set its own or ignore it.
    frequency_cap_messages: int = 0
    frequency_cap_days: int = 7
    # Unsubscribe links in messages: signed with this secret (default: one derived from
    # receipt_signing_secret), pointing at link_base_url (default: public_url), the API's
    # address as recipients see it.
    unsubscribe_secret: str = ""
    link_base_url: str = ""
    # Logs: "text" or "json" (one JSON object a line).
    log_format: str = "text"
    # GET /metrics needs ``Authorization: Bearer <metrics_token>``; without a token it is
    # refused (403), unless metrics_open serves it to anyone who can reach the API.
    metrics_token: str = ""
    metrics_open: bool = False
    # ``make run``: where its files live, and the addresses it serves on.
    var_dir: str = "var"
    host: str = "127.0.0.1"
    port: int = 8000
    vendor_host: str = "127.0.0.1"
    vendor_port: int = 9000
    embedded_mongo_port: int = 27027
    embedded_redis_port: int = 6389


class MissingSetting(SystemExit):
    """A process started without a setting it cannot work without; exits with one line."""

    def __init__(self, field: str, why: str):
        super().__init__(f"{env_name(field)} is not set: {why}")


class InvalidSetting(SystemExit):
    """A process started with a setting it cannot use; exits with one line."""

    def __init__(self, field: str, why: str):
        super().__init__(f"{env_name(field)} is invalid: {why}")


QUIET_HOURS = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]")


def env_name(field: str) -> str:
    return f"CRM_{field.upper()}"


STACK_FILE = "stack.env"


_ALIASES = {"mongodb_uri": "MONGODB_URI", "redis_url": "REDIS_URL"}


# Numeric settings that must be above zero (the others may be zero, never negative),
# and those with an upper bound too.
POSITIVE = {
    "mongodb_timeout_ms",
    "query_timeout_ms",
    "results_timeout_ms",
    "vendor_timeout_seconds",
    "send_chunk_size",
    "send_lease_seconds",
    "max_content_length",
    "max_upload_bytes",
    "ingest_chunk_size",
    "ingest_chunk_bytes",
    "ingest_transaction_seconds",
    "frequency_cap_days",
}
PORTS = {"port", "vendor_port", "embedded_mongo_port", "embedded_redis_port"}


def _parse(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int | float):
        return _number(name, raw, type(default))
    if default is None and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


def _number(name: str, raw: str, kind: type) -> int | float:
    """``raw`` as a number in the setting's range; InvalidSetting (one line) if it is not."""
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw.strip())
    except ValueError:
        raise InvalidSetting(name, f"expected {what}, got {raw[:40]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidSetting(name, f"expected {what}, got {raw[:40]!r}")
    if name in PORTS and not 1 <= value <= 65535:
        raise InvalidSetting(name, f"expected a port from 1 to 65535, got {raw[:40]!r}")
    if name in POSITIVE and value <= 0:
        raise InvalidSetting(name, f"expected {what} above 0, got {raw[:40]!r}")
    if value < 0:
        raise InvalidSetting(name, f"expected {what} of 0 or more, got {raw[:40]!r}")
    return value


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from ``environ`` (default: the process environment, then the local
    stack's file for what it leaves unset), then ``overrides``."""
    values: dict[str, Any] = {}
    if environ is None:
        environ = os.environ
        values = _values(stack_file_values(Path(environ.get("CRM_VAR_DIR") or "var")))
    values.update(_values(environ))
    return replace(Settings(**values), **overrides)


def _values(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in fields(Settings):
        for name in (env_name(field.name), _ALIASES.get(field.name)):
            if name and environ.get(name):
                values[field.name] = _parse(field.name, environ[name], field.default)
                break
    return values


def stack_file_values(var_dir: Path, name: str = STACK_FILE) -> dict[str, str]:
    """``NAME=value`` lines of a file ``make run`` keeps (by default the one it keeps while
    it runs); empty without one."""
    try:
        text = (var_dir / name).read_text()
    except FileNotFoundError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def require(settings: Settings, process: str) -> None:
    """Refuse to start ``process`` ("api", "worker" or "vendor") without what it needs."""
    signing = process in ("api", "vendor") and settings.receipt_signatures_required
    if signing and not settings.receipt_signing_secret:
        raise MissingSetting(
            "receipt_signing_secret",
            "the API and the vendor sign receipts with it (the same value for both)",
        )
    if process == "api" and not settings.secret_key:
        raise MissingSetting("secret_key", "the console at /app signs its session cookies with it")
    if process in ("api", "worker"):
        _check_secrets(settings)
    if process == "api":
        _check_oidc_settings(settings)
    if process in ("api", "worker"):
        _check_schedule_settings(settings)
    if process == "worker":
        if not settings.public_url:
            raise MissingSetting("public_url", "the API's address, where the vendor sends receipts")
        if not settings.vendor_url:
            raise MissingSetting("vendor_url", "where workers send messages")


# The fewest characters a secret may have (``secrets.token_urlsafe(12)``, 96 bits), and
# values that are examples, not secrets (.env.example's among them): with one of them,
# anyone could forge session cookies, receipts and unsubscribe links.
MIN_SECRET_LENGTH = 16
PLACEHOLDERS = ("change-me", "change-me-too", "changeme", "secret", "your-secret-here")
SECRETS = ("secret_key", "receipt_signing_secret", "unsubscribe_secret")


def _check_secrets(settings: Settings) -> None:
    for name in SECRETS:
        value = getattr(settings, name)
        if not value:
            continue
        if value.strip().lower() in PLACEHOLDERS or value.startswith("change-me"):
            raise InvalidSetting(name, "an example value, not a secret; " + NEW_SECRET)
        if len(value) < MIN_SECRET_LENGTH:
            raise InvalidSetting(
                name, f"shorter than {MIN_SECRET_LENGTH} characters; " + NEW_SECRET
            )


NEW_SECRET = 'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


def oidc_configured(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret)


def _check_oidc_settings(settings: Settings) -> None:
    """Half a provider's settings is a mistake, not a switch: say which one is missing."""
    given = ("oidc_issuer", "oidc_client_id", "oidc_client_secret")
    if any(getattr(settings, name) for name in given):
        for name in given:
            if not getattr(settings, name):
                raise MissingSetting(name, "console sign-in through a provider needs all three")
    if settings.oidc_issuer and not settings.oidc_issuer.startswith(("https://", "http://")):
        raise InvalidSetting(
            "oidc_issuer", "expected the provider's URL, such as https://accounts.google.com"
        )


def _check_schedule_settings(settings: Settings) -> None:
    try:
        ZoneInfo(settings.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSetting(
            "default_timezone", "expected an IANA time zone name such as Europe/Berlin"
        ) from None
    if settings.quiet_hours and not QUIET_HOURS.fullmatch(settings.quiet_hours.replace(" ", "")):
        raise InvalidSetting("quiet_hours", "expected HH:MM-HH:MM, such as 21:00-08:00")


def given(environ: Mapping[str, str] | None = None) -> set[str]:
    """The settings the environment sets explicitly (the rest take their defaults)."""
    environ = os.environ if environ is None else environ
    return {
        field.name
        for field in fields(Settings)
        if environ.get(env_name(field.name)) or environ.get(_ALIASES.get(field.name, ""))
    }


def prometheus_multiproc_dir() -> str | None:
    """prometheus_client's own variable: where each process of a multi-process server
    keeps its metrics (set by ``gunicorn.conf.py``); unset in a single process."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
