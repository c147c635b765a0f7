"""The simulator's settings, read from the same ``CRM_*`` variables the stack sets."""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any


def _flag(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    # Share of accepted messages whose outcome is SENT; the rest are FAILED.
    success_rate: float = 0.9
    seed: int | None = None
    # An outcome happens, and its receipt is due, up to this long after acceptance.
    receipt_delay_ms: int = 200
    # How long due receipts gather before going out in one callback request.
    receipt_linger_ms: int = 100
    max_batch: int = 1000
    # Receipts are signed with it, as the CRM expects unless it accepts unsigned ones.
    signing_secret: str = ""
    signing_required: bool = True
    # Off, as most SMS/email gateways: each submission of a key is delivered again.
    deduplicate: bool = False


_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "success_rate": ("CRM_VENDOR_SUCCESS_RATE", float),
    "seed": ("CRM_VENDOR_SEED", int),
    "receipt_delay_ms": ("CRM_VENDOR_RECEIPT_DELAY_MS", int),
    "receipt_linger_ms": ("CRM_VENDOR_RECEIPT_LINGER_MS", int),
    "max_batch": ("CRM_VENDOR_MAX_BATCH", int),
    "signing_secret": ("CRM_RECEIPT_SIGNING_SECRET", str),
    "signing_required": ("CRM_RECEIPT_SIGNATURES_REQUIRED", _flag),
    "deduplicate": ("CRM_VENDOR_DEDUPLICATE", _flag),
}


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``environ`` (default: the process environment), then ``overrides``."""
    environ = os.environ if environ is None else environ
    values = {
        field: parse(environ[name])
        for field, (name, parse) in _VARIABLES.items()
        if environ.get(name)
    }
    return replace(Settings(**values), **overrides)


def require(settings: Settings) -> None:
    """Refuse to start without a signing secret the CRM would insist on (one line)."""
    if settings.signing_required and not settings.signing_secret:
        raise SystemExit(
            "CRM_RECEIPT_SIGNING_SECRET is not set: the vendor signs receipts with it "
            "(the same value as the API's)"
        )
