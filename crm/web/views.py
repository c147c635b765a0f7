"""Every page of the console, on one blueprint."""

from crm.web import (
    access,
    audiences,
    campaigns,
    consent,
    contacts,
    controls,
    drafts,
    imports,
    oidc,
    results,
    signin,
    users,
)
from crm.web.blueprint import blp

access.guard(blp)

__all__ = [
    "audiences",
    "blp",
    "campaigns",
    "consent",
    "contacts",
    "controls",
    "drafts",
    "imports",
    "oidc",
    "results",
    "signin",
    "users",
]
