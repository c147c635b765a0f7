"""Figures the console draws as charts, computed once for the page and its polling."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# A bar chart's height in SVG units: each bar is one unit wide, and the drawing is
# stretched to the page's width at a fixed height, its labels written around it in HTML.
HEIGHT = 100
GAP = 0.15


def funnel(campaign: dict[str, Any]) -> list[dict[str, Any]]:
    """A described campaign's funnel: its members, the messages the vendor took, those it
    delivered and those it failed, and those FAILED before reaching it (never sent); each
    with its share of the members."""
    stats = campaign["stats"]
    members = campaign["progress"]["total"]
    taken = stats["vendor_accepted"]
    failed_at_vendor = max(taken - stats["sent"] - stats["accepted"], 0)
    steps = [
        ("members", "Members", members),
        ("accepted", "Accepted by the vendor", taken),
        ("sent", "Sent", stats["sent"]),
        ("failed", "Failed at the vendor", failed_at_vendor),
        ("unsent", "Failed before the vendor (never sent)", stats["failed"] - failed_at_vendor),
    ]
    scale = max(members, 1)
    return [
        {"key": key, "label": label, "value": value, "percent": round(100 * value / scale, 1)}
        for key, label, value in steps
    ]


def status_badge(campaign: dict[str, Any]) -> dict[str, str]:
    """The status a described campaign is shown with: a COMPLETED one whose messages all,
    or mostly, failed says so, as an error."""
    status, stats = str(campaign["status"]), campaign["stats"]
    if status == "COMPLETED" and stats["failed"] and not stats["sent"]:
        return {"text": "COMPLETED — all failed", "tone": "danger"}
    if status == "COMPLETED" and stats["failed"] > stats["sent"]:
        return {"text": "COMPLETED — most failed", "tone": "danger"}
    return {"text": status, "tone": "secondary"}


@dataclass
class Bars:
    """A bar chart over time: one bar per row, stacked by ``series``, with the figures
    each bar stands for (its table alternative)."""

    title: str
    series: Sequence[tuple[str, str]]  # (key, label), bottom of the stack first
    rows: list[dict[str, Any]]  # {"label": str, key: number, ...}
    formatted: Callable[[Any], str] = lambda value: f"{value:,}"
    rects: list[dict[str, Any]] = field(default_factory=list)
    top: Any = 0

    def __post_init__(self) -> None:
        totals = [sum(row[key] for key, _ in self.series) for row in self.rows]
        self.top = max(totals, default=0)
        scale = HEIGHT / (float(self.top) or 1)
        for index, row in enumerate(self.rows):
            base = float(HEIGHT)
            for key, _ in self.series:
                height = float(row[key]) * scale
                if height > 0:
                    self.rects.append(
                        {
                            "key": key,
                            "x": round(index + GAP, 3),
                            "y": round(base - height, 3),
                            "width": 1 - 2 * GAP,
                            "height": round(height, 3),
                        }
                    )
                base -= height

    @property
    def total(self) -> Any:
        return sum(sum(row[key] for key, _ in self.series) for row in self.rows)

    @property
    def width(self) -> int:
        return len(self.rows)


def deliveries(timeline: dict[str, Any]) -> Bars:
    rows = [
        {
            "label": bucket["at"].strftime("%H:%M:%S"),
            "sent": bucket["sent"],
            "failed": bucket["failed"],
        }
        for bucket in timeline["buckets"]
    ]
    step = f" (per {timeline['step']})" if timeline["step"] else ""
    return Bars(f"Deliveries over time{step}", [("sent", "Sent"), ("failed", "Failed")], rows)


def daily(
    title: str, days: list[dict[str, Any]], key: str, label: str, money: bool = False
) -> Bars:
    rows = [{"label": day["day"].strftime("%Y-%m-%d"), key: day[key]} for day in days]
    if money:
        return Bars(title, [(key, label)], rows, lambda value: f"{value:,.2f}")
    return Bars(title, [(key, label)], rows)
