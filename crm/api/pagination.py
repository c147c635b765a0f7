"""How a list page leaves the API: its items as the body, where to go next in headers.

- ``Link: <…?after=CURSOR&page_size=N…>; rel="next"`` (RFC 8288), absent on the last page:
  the next page's URL, with the list's filters kept.
- ``X-Pagination``: JSON with ``page_size``, ``next_after`` (the same cursor), ``page``,
  ``previous_page`` and ``next_page`` for numbered pages, and ``total`` with ``total_is``
  when the total was counted (``count=true``) or is cheap to estimate.
"""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import request

from crm.schemas.pagination import MAX_SKIPPED, PageMetadataSchema
from crm.services.pages import Page

PAGE_HEADERS = {
    "X-Pagination": {
        "description": "Paging metadata as JSON text: page_size, next_after (the cursor "
        "for the next page, absent on the last), page/previous_page/next_page for "
        "numbered pages, and total with total_is (exact when count=true, estimated "
        "otherwise) where a total is known.",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next page\'s URL: `<…?after=…>; rel="next"`; absent on the last.',
        "schema": {"type": "string"},
    },
}


def respond(
    page: Page, present: Callable[[list[Any]], list[Any]] | None = None
) -> tuple[list[Any], int, dict[str, str]]:
    """The view's return value: the items (through ``present``) and the paging headers."""
    items = present(page.items) if present else page.items
    return items, 200, headers(page)


def headers(page: Page) -> dict[str, str]:
    asked = page.request
    metadata: dict[str, Any] = {"page_size": asked.page_size}
    if asked.after is None:
        metadata["page"] = asked.page
        if asked.page > 1:
            metadata["previous_page"] = asked.page - 1
        if page.has_next and (asked.page + 1) * asked.page_size <= MAX_SKIPPED:
            metadata["next_page"] = asked.page + 1
    if page.next_after is not None:
        metadata["next_after"] = page.next_after
    if page.total is not None:
        metadata.update(total=page.total, total_is=page.total_is)
    found = {"X-Pagination": json.dumps(PageMetadataSchema().dump(metadata))}
    if page.next_after is not None:
        found["Link"] = f'<{_next_url(page.next_after)}>; rel="next"'
    return found


def _next_url(cursor: str) -> str:
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "after")]
    return f"{request.path}?{urlencode([*kept, ('after', cursor)])}"
