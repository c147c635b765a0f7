"""Wall-clock times in a recipient's time zone, as naive UTC instants (as MongoDB stores them).

DST is handled by zoneinfo, deliberately:
- a local time that does not exist on a day (clocks jump from 02:00 to 03:00, so 02:30)
  is taken with the offset in force before the jump: 02:30 becomes 03:30, as late as the
  gap is long (PEP 495, ``fold=0``);
- a local time that happens twice (clocks go back from 02:00 to 01:00, so 01:30) is its
  first occurrence, the earlier instant;
- quiet hours end at the first instant whose wall-clock time is outside them, however the
  clocks move that night (``QuietHours.end_after``).
A time on any other day is exactly that wall-clock time, whatever the day's offset.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=1024)
def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The zone called ``name``; ``fallback`` for none, or for a name this machine's time zone
    database no longer knows (names are checked when stored)."""
    try:
        return ZoneInfo(name or fallback)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def clock(text: str) -> time:
    """``"HH:MM"`` as a time of day."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def at(day: date, wall: time, where: ZoneInfo) -> datetime:
    """The instant ``wall`` o'clock on ``day`` in ``where``, as naive UTC."""
    local = datetime.combine(day, wall, tzinfo=where)
    return local.astimezone(UTC).replace(tzinfo=None)


def local(instant: datetime, where: ZoneInfo) -> datetime:
    """The naive UTC ``instant`` as wall-clock time in ``where``."""
    return instant.replace(tzinfo=UTC).astimezone(where)


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` to ``end`` o'clock, local; past midnight when ``end`` < ``start``.
    Equal times mean no quiet hours."""

    start: time
    end: time

    @classmethod
    def parse(cls, start: str, end: str) -> "QuietHours | None":
        hours = cls(clock(start), clock(end))
        return None if hours.start == hours.end else hours

    def contains(self, wall: time) -> bool:
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def end_after(self, instant: datetime, where: ZoneInfo) -> datetime | None:
        """If ``instant`` falls in these quiet hours in ``where``, the first instant after
        it whose wall-clock time is outside them; otherwise None.

        The wall clock leaves quiet hours either by reaching ``end`` (on one of the days
        around, before or after a change of the clocks: PEP 495's ``fold``) or by a change
        of the clocks jumping past it; the earliest of those instants that is outside them
        is the end. On a night the clocks go back, quiet hours left once may begin again
        within the hour repeated, and hold until ``end`` comes round a second time."""
        here = local(instant, where)
        if not self.contains(here.time()):
            return None
        reached = [
            at_fold(here.date() + timedelta(days=days), self.end, where, fold)
            for days in (-1, 0, 1, 2)
            for fold in (0, 1)
        ]
        candidates = [
            *reached,
            *clock_changes(where, instant.replace(minute=0, second=0, microsecond=0)),
        ]
        return min(
            moment
            for moment in candidates
            if moment > instant and not self.contains(local(moment, where).time())
        )


def at_fold(day: date, wall: time, where: ZoneInfo, fold: int) -> datetime:
    """``at``, with ``fold=1`` for the second occurrence of a wall-clock time that happens
    twice (and, for one that never happens, the offset in force after the jump)."""
    local = datetime.combine(day, wall, tzinfo=where).replace(fold=fold)
    return local.astimezone(UTC).replace(tzinfo=None)


# Quiet hours last under a day; the clocks may move them by a few hours more.
_CHANGES_LOOKED_AHEAD = 30


@lru_cache(maxsize=4096)
def clock_changes(where: ZoneInfo, hour: datetime) -> list[datetime]:
    """The instants (naive UTC, to the second) at which ``where`` changes its offset within
    ``_CHANGES_LOOKED_AHEAD`` hours of the naive UTC ``hour``: one hour apart at most,
    each found by bisection between two hours whose offsets differ."""
    hours = [hour + timedelta(hours=n) for n in range(_CHANGES_LOOKED_AHEAD + 1)]
    offsets = [_offset(moment, where) for moment in hours]
    changes = []
    for n in range(_CHANGES_LOOKED_AHEAD):
        if offsets[n] == offsets[n + 1]:
            continue
        before, after = hours[n], hours[n + 1]  # offset(before) differs from offset(after)
        while after - before > timedelta(seconds=1):
            middle = before + (after - before) / 2
            middle = middle.replace(microsecond=0)
            if _offset(middle, where) == offsets[n]:
                before = middle
            else:
                after = middle
        changes.append(after)
    return changes


def _offset(instant: datetime, where: ZoneInfo) -> timedelta | None:
    return local(instant, where).utcoffset()
