"""How much more often messaged customers converted than the holdout, with 95% intervals.

- Absolute lift: the difference of the two conversion rates, with Newcombe's hybrid score
  interval (his method 10: built from each rate's Wilson score interval). It stays inside
  [-1, 1] and behaves at rates near 0, where the plain normal (Wald) interval does not.
- Relative lift: the ratio of the rates minus one, with the Katz log interval of the
  ratio; undefined (None) while either group has no conversion.
"""

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Lift:
    absolute: float | None
    absolute_ci: tuple[float, float] | None
    relative: float | None
    relative_ci: tuple[float, float] | None


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def lift(converted: int, members: int, control_converted: int, control_members: int) -> Lift:
    """Lift of a group (``converted`` of ``members``) over the control group."""
    if not members or not control_members:
        return Lift(None, None, None, None)
    p1, p0 = converted / members, control_converted / control_members
    low1, high1 = wilson(converted, members)
    low0, high0 = wilson(control_converted, control_members)
    difference = p1 - p0
    absolute_ci = (
        difference - math.sqrt((p1 - low1) ** 2 + (high0 - p0) ** 2),
        difference + math.sqrt((high1 - p1) ** 2 + (p0 - low0) ** 2),
    )
    if not converted or not control_converted:
        return Lift(difference, absolute_ci, None, None)
    log_ratio = math.log(p1 / p0)
    spread = Z_95 * math.sqrt(
        1 / converted - 1 / members + 1 / control_converted - 1 / control_members
    )
    relative_ci = (math.exp(log_ratio - spread) - 1, math.exp(log_ratio + spread) - 1)
    return Lift(difference, absolute_ci, p1 / p0 - 1, relative_ci)
