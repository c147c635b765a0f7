"""A campaign's results: conversions and revenue attributed to it, and its lift over the
holdout with 95% intervals, overall and per variant (``crm.services.attribution``)."""

from typing import Any

from bson import ObjectId
from flask import render_template

from crm.services import attribution, campaigns
from crm.web.blueprint import blp


def percent(rate: float | None, digits: int = 1) -> str:
    return "—" if rate is None else f"{100 * rate:.{digits}f}%"


def points(interval: dict[str, float] | None) -> str:
    """A 95% interval of a difference of rates, in percentage points."""
    if interval is None:
        return "—"
    return f"{100 * interval['low']:+.1f} to {100 * interval['high']:+.1f} pts"


def rate_bars(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's bars: the window conversion rate of the messaged and the holdout."""
    rates = [
        ("messaged", "Messaged", report["messaged"]),
        ("holdout", "Holdout", report["holdout"]),
    ]
    return [
        {
            "key": key,
            "label": label,
            "members": group["members"],
            "conversions": group["window_conversions"],
            "rate": group["window_conversion_rate"],
            "width": round(100 * (group["window_conversion_rate"] or 0), 1),
        }
        for key, label, group in rates
    ]


METRIC_NAMES = {"conversion_rate": "conversion rate", "delivered_rate": "delivered rate"}


def winner_line(winner: dict[str, Any] | None) -> str | None:
    """What an automatic winner chose and on which figures, or when it will choose."""
    if not winner:
        return None
    metric = METRIC_NAMES[winner["metric"]]
    share = f"the {winner['test_percent']}% test share"
    if winner.get("chosen"):
        figures = "; ".join(
            f"{row['name']} {percent(row.get('rate'))} ({row['successes']} of {row['members']})"
            for row in winner.get("figures", [])
        )
        return (
            f"Variant {winner['chosen']} won on {metric} in {share} "
            f"({figures}), chosen {_utc(winner['decided_at'])}; the rest were sent it."
        )
    if winner.get("decide_at"):
        when = _utc(winner["decide_at"])
    else:
        when = f"{winner['decide_after_minutes']} min after the start"
    return (
        f"The variants go to {share}; the one with the best {metric} is chosen {when} "
        "and sent to the rest."
    )


def _utc(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@blp.route("/campaigns/<objectid:campaign_id>/results")
def campaign_results(campaign_id: ObjectId):
    [campaign] = campaigns.with_stats([campaigns.get(campaign_id)])
    report = attribution.report(campaign_id)
    return render_template(
        "results.html",
        campaign=campaign,
        winner=winner_line(campaign.get("winner")),
        report=report,
        bars=rate_bars(report),
        percent=percent,
        points=points,
    )
