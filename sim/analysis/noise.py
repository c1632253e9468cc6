"""Monte Carlo noise: when an estimate can be told from zero, and how many runs would tell it.

Every number the pages show is an estimate from a finite number of model runs. A difference (or an
index) whose 95 % interval includes zero cannot be told from the noise of those runs; its interval
shrinks as ``1 / sqrt(n)``, so, were the estimate to stay where it is, about
``n * (half-width / |estimate|)^2`` runs would make the interval exclude zero.
"""

from __future__ import annotations

import math


def within_noise(low: float, high: float) -> bool:
    """Whether an interval includes zero (the estimate cannot be told from noise)."""
    return bool(low <= 0.0 <= high) or not (math.isfinite(low) and math.isfinite(high))


def runs_to_separate(estimate: float, halfwidth: float, n: int) -> int | None:
    """About how many runs (in the unit ``n`` counts) would bring the 95 % half-width below the
    estimate's size, were the estimate to stay where it is: ``n (halfwidth / |estimate|)^2``.
    None when the estimate is zero (no number of runs separates it) or not finite."""
    if not (math.isfinite(estimate) and math.isfinite(halfwidth)) or estimate == 0 or n <= 0:
        return None
    return max(int(math.ceil(n * (halfwidth / abs(estimate)) ** 2)), n + 1)
