"""Audience segments: rule trees over customers, validated against an allow-list.

A tree is a group ``{"logic": "AND" | "OR" | "NOT", "rules": [...]}`` whose rules are
groups or leaves ``{"field", "operator", "value"}``; NOT matches customers matching none
of its rules. ``fields`` holds the allow-list, ``validation`` the checks, ``compiler``
the translation to one MongoDB filter and ``columns`` what a preview shows of each
sampled customer; the words (``summarize``) live beside the stored tree, in
``crm.documents.rule_summary``.
"""

from datetime import datetime
from typing import Any

from crm.documents.rule_summary import summarize
from crm.services.segments import compiler
from crm.services.segments.columns import ALWAYS, columns
from crm.services.segments.fields import describe, indexed_fields
from crm.services.segments.validation import MAX_DEPTH, MAX_NODES, validate

__all__ = [
    "ALWAYS",
    "MAX_DEPTH",
    "MAX_NODES",
    "columns",
    "describe",
    "indexed_fields",
    "summarize",
    "to_filter",
    "validate",
]


def to_filter(rules: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The MongoDB filter on ``customers`` selecting the tree's members as of ``now`` (naive UTC).

    The tree is validated again first (it is cheap), so a stored tree that bypassed the
    API raises InvalidInput rather than matching everyone.
    """
    return compiler.compile_tree(validate(rules), now)
