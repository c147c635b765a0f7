"""The one-click unsubscribe link a message carries (``{{ unsubscribe_url }}``), for the
recipient's browser and mail client rather than API clients: no API key, and not in the
OpenAPI document.

``GET`` only shows a page with a button, because mail scanners and link previews fetch
links nobody clicked; the button, or a mail client's RFC 8058 one-click ``POST`` (body
``List-Unsubscribe=One-Click``), opts the customer out. A link this server did not sign
is a 404 and changes nothing; a repeat changes nothing more.
"""

import logging

from flask import Blueprint, render_template_string, request

from crm.services import consent
from crm.services.errors import NotFound

log = logging.getLogger(__name__)

blp = Blueprint("unsubscribe", __name__, url_prefix=consent.LINK_PATH)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1><p>{{ text }}</p>
{% if ask %}<form method="post" action="{{ action }}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>{% endif %}
</main></body></html>"""

ROUTE = "/<campaign_id>/<customer_id>/<signature>"


@blp.route(ROUTE, methods=["GET"])
def confirm(campaign_id: str, customer_id: str, signature: str):
    if not consent.link_is_genuine(campaign_id, customer_id, signature):
        return _invalid()
    return _page("Unsubscribe?", "You will get no more campaign messages from us.", ask=True)


@blp.route(ROUTE, methods=["POST"])
def unsubscribe(campaign_id: str, customer_id: str, signature: str):
    try:
        consent.unsubscribe(campaign_id, customer_id, signature)
    except NotFound:
        return _invalid()
    log.info("campaign_id=%s customer_id=%s unsubscribed", campaign_id, customer_id)
    return _page("Unsubscribed", "You will get no more campaign messages from us.")


def _invalid():
    return _page("Link not valid", "This unsubscribe link is not valid; nothing changed."), 404


def _page(title: str, text: str, ask: bool = False) -> str:
    return render_template_string(PAGE, title=title, text=text, ask=ask, action=request.path)
