import marshmallow as ma

from crm.schemas.base import BaseSchema

# The most documents a numbered page may skip; deeper pages go by cursor (``after``).
MAX_SKIPPED = 10_000

MAX_PAGE_SIZE = 100


class ListQuerySchema(BaseSchema):
    """The paging arguments every list takes; a list's filters are added by subclasses."""

    page_size = ma.fields.Integer(
        load_default=10,
        validate=ma.validate.Range(1, MAX_PAGE_SIZE),
        metadata={"description": "Items per page."},
    )
    after = ma.fields.String(
        validate=[ma.validate.Length(1, 512), ma.validate.Regexp(r"^[A-Za-z0-9_-]+$")],
        metadata={
            "description": "Read the page after this cursor: the previous page's "
            '`next_after` (X-Pagination), as the `Link: rel="next"` header carries it. '
            "Cost does not grow with depth."
        },
    )
    page = ma.fields.Integer(
        validate=ma.validate.Range(min=1),
        metadata={
            "description": f"A page number (default 1), while page * page_size <= "
            f"{MAX_SKIPPED:,}; deeper, use `after`."
        },
    )
    count = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Count the exact total (X-Pagination `total`, `total_is: exact`), "
            "within the query time limit; otherwise the total is an estimate where one "
            "is cheap, or absent."
        },
    )

    @ma.validates_schema
    def bounded(self, data, **kwargs):
        if data.get("after") is not None and "page" in data:
            raise ma.ValidationError("Give either `page` or `after`, not both.", "page")
        if data.get("page", 1) * data["page_size"] > MAX_SKIPPED:
            raise ma.ValidationError(
                f"page * page_size may be at most {MAX_SKIPPED:,}; for deeper pages pass "
                "the `after` cursor of the page before (X-Pagination's next_after, or the "
                "Link header's next URL).",
                "page",
            )


class NewestFirstQuerySchema(ListQuerySchema):
    """A list without filters."""


class PageMetadataSchema(ma.Schema):
    """The X-Pagination header's JSON."""

    page_size = ma.fields.Integer()
    page = ma.fields.Integer(metadata={"description": "With numbered pages only."})
    previous_page = ma.fields.Integer()
    next_page = ma.fields.Integer(
        metadata={"description": "While the next page is within the numbered-page bound."}
    )
    next_after = ma.fields.String(
        metadata={"description": "Pass as `after` for the next page; absent on the last."}
    )
    total = ma.fields.Integer(
        metadata={"description": "Items in the list, when counted or cheaply estimated."}
    )
    total_is = ma.fields.String(
        validate=ma.validate.OneOf(["exact", "estimated"]),
        metadata={"description": "`exact` (with count=true) or `estimated`."},
    )
