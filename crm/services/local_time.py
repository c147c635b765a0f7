"""Wall-clock times in a recipient's time zone, as naive UTC instants (as MongoDB stores them).

DST is handled by zoneinfo, deliberately:
- a local time that does not exist on a day (clocks jump from 02:00 to 03:00, so 02:30)
  is taken with the offset in force before the jump: 02:30 becomes 03:30, as late as the
  gap is long (PEP 495, ``fold=0``);
- a local time that happens twice (clocks go back from 02:00 to 01:00, so 01:30) is its
  first occurrence, the earlier instant.
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
        """If ``instant`` falls in these quiet hours in ``where``, the instant they end (the
        next ``end`` o'clock there); otherwise None."""
        here = local(instant, where)
        if not self.contains(here.time().replace(tzinfo=None)):
            return None
        day = here.date() if here.time() < self.end else here.date() + timedelta(days=1)
        return at(day, self.end, where)
