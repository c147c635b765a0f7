"""Creating under an id chosen before the request, once: the id a console form was given
when first shown, so sending the form again (a double click, Back, a reload) finds what
its first sending made instead of making another.

The insert is the one conditional write: the database refuses a second document with
the same ``_id``, so two requests at the same moment make one, and the later one gets
the first's back."""

from typing import TypeVar

from mongoengine import Document, NotUniqueError

D = TypeVar("D", bound=Document)


def insert(document: D) -> tuple[D, bool]:
    """Insert ``document`` (its id set), or find the one inserted under its id already:
    the document and whether this call made it. A unique key other than the id taken by
    another document raises NotUniqueError as an insert would."""
    try:
        return document.save(force_insert=True), True
    except NotUniqueError:
        made = type(document).objects(id=document.id).first()
        if made is None:
            raise
        return made, False
