"""Arithmetic in a template, each operator checked for the size of what it makes before
it runs: a power, a product or a sum too large, a string repeated or formatted past the
length of a message, is refused rather than computed."""

import re
from decimal import Decimal
from typing import Any

from crm.services.templates.budget import MAX_CHARS, MAX_INT_BITS, TooCostly, check_size, size

SEQUENCES = (str, bytes, list, tuple)
# A % conversion: %(name)-08.3f and the like.
CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
LONGEST_NUMBER = 400  # characters a float or Decimal prints as, at most, with %f


def checked(operator: str, left: Any, right: Any) -> tuple[Any, Any]:
    """The operands to compute ``left <operator> right`` with; TooCostly if too large."""
    left, right = _decimal_with_float(left, right)
    if operator == "**":
        _check_power(left, right)
    elif operator == "*":
        _check_product(left, right)
    elif operator == "+" and isinstance(left, SEQUENCES) and isinstance(right, SEQUENCES):
        check_size([left, right], "the sum")
    elif operator == "%" and isinstance(left, str):
        check_format(left, right)
    return left, right


def _decimal_with_float(left: Any, right: Any) -> tuple[Any, Any]:
    """Amounts are Decimals; a float beside one (``total_spends * 1.1``) is taken as the
    Decimal it prints as, as Python will not mix them."""
    if isinstance(left, Decimal) and isinstance(right, float):
        return left, Decimal(repr(right))
    if isinstance(left, float) and isinstance(right, Decimal):
        return Decimal(repr(left)), right
    return left, right


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        bits = base.bit_length() * exponent
        if bits > MAX_INT_BITS:
            raise TooCostly(f"** would make a number of {bits:,} bits; at most {MAX_INT_BITS:,}")


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS:
            raise TooCostly(f"* would make a number of {bits:,} bits; at most {MAX_INT_BITS:,}")
        return
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, SEQUENCES) and isinstance(times, int):
            length = size(sequence) * max(times, 0)
            if length > MAX_CHARS:
                raise TooCostly(f"* would repeat to {length:,} characters; at most {MAX_CHARS:,}")


def check_format(text: str, arguments: Any) -> None:
    """``text % arguments`` (and the ``format`` filter): refused if its widths, precisions
    and arguments could print past MAX_CHARS."""
    estimate = len(text)
    for width, precision in CONVERSION.findall(text):
        if "*" in (width, precision):
            raise TooCostly("a * width or precision in % formatting is not allowed")
        if len(width) > 6 or len(precision) > 6:
            raise TooCostly(f"a % width or precision is over {MAX_CHARS:,}")
        estimate += int(width or 0) + int(precision or 0) + LONGEST_NUMBER
    if isinstance(arguments, dict):
        estimate += size(list(arguments.values()))
    else:
        estimate += size(list(arguments) if isinstance(arguments, tuple) else [arguments])
    if estimate > MAX_CHARS:
        raise TooCostly(f"% formatting could make {estimate:,} characters; at most {MAX_CHARS:,}")
