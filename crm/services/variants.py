"""A campaign's message variants (A/B test): checked like its message, named in order."""

from typing import Any

from crm.documents.campaign import Variant
from crm.services import templates
from crm.services.errors import InvalidInput

NAMES = "ABCD"


def named(variants: list[dict[str, Any]]) -> list[Variant]:
    """The variants as stored, A first; InvalidInput names the first bad template."""
    for index, variant in enumerate(variants):
        try:
            templates.validate(variant["message"])
        except InvalidInput as error:
            problems = error.errors["json"]["message"]
            raise InvalidInput(
                f"Variant {NAMES[index]}: {error.message}",
                {"json": {"variants": {str(index): {"message": problems}}}},
            ) from None
    return [Variant(name=NAMES[i], **variant) for i, variant in enumerate(variants)]
