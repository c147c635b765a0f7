"""Every page of the console, on one blueprint."""

from crm.web import audiences, campaigns, contacts, signin, users
from crm.web.blueprint import blp

__all__ = ["audiences", "blp", "campaigns", "contacts", "signin", "users"]
