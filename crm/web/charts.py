"""Figures the console draws as charts, computed once for the page and its polling."""

from typing import Any


def funnel(campaign: dict[str, Any]) -> list[dict[str, Any]]:
    """A described campaign's funnel: its members, those the vendor accepted (sent, failed or
    awaiting a receipt), and the sent and failed; each with its share of the members."""
    stats = campaign["stats"]
    members = campaign["progress"]["total"]
    steps = [
        ("members", "Members", members),
        ("accepted", "Accepted by the vendor", stats["accepted"] + stats["sent"] + stats["failed"]),
        ("sent", "Sent", stats["sent"]),
        ("failed", "Failed", stats["failed"]),
    ]
    scale = max(members, 1)
    return [
        {"key": key, "label": label, "value": value, "percent": round(100 * value / scale, 1)}
        for key, label, value in steps
    ]
