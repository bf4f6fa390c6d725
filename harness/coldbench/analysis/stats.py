"""Statistics over raw samples: pure functions, no I/O.

Percentiles are numpy's default (linear interpolation between order statistics). The
confidence interval for the median is the nonparametric one from order statistics: with
X ~ Binomial(n, 1/2), [x(l), x(n-l+1)] covers the median with probability
1 - 2 P(X <= l-1) (as asv computes it). It needs n >= 6 at 95 %
(``fewest_for_interval``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

CONFIDENCE = 0.95
SPREAD_LIMIT = 0.10        # stdev above 10 % of the mean earns a warning


@dataclass(frozen=True)
class Summary:
    n: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float
    stdev: float | None              # sample standard deviation; None when n < 2
    ci_low: float | None             # confidence interval for the median
    ci_high: float | None

    @property
    def relative_spread(self) -> float | None:
        if self.stdev is None or self.mean == 0:
            return None
        return self.stdev / self.mean


def _binomial_half_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exactly (scipy's import alone costs a second)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n


def median_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Order-statistic interval for the median, or None when n is too small for it."""
    ordered = sorted(values)
    n = len(ordered)
    alpha = (1 - confidence) / 2
    # the largest l with P(X <= l - 1) <= alpha
    lower = 0
    while lower < n and _binomial_half_cdf(lower, n) <= alpha:
        lower += 1
    if lower < 1:
        return None
    return ordered[lower - 1], ordered[n - lower]


def fewest_for_interval(confidence: float = CONFIDENCE) -> int:
    """The fewest samples that give the median an interval at ``confidence`` (6 at 95 %)."""
    n = 1
    while median_ci(range(n), confidence) is None:
        n += 1
    return n


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary | None:
    """n, min, percentiles, mean, stdev and the median's interval; None for no values."""
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if data.size == 0:
        return None
    p50, p90, p99 = np.percentile(data, [50, 90, 99])
    interval = median_ci(data.tolist(), confidence)
    return Summary(
        n=int(data.size), min=float(data.min()), p50=float(p50), p90=float(p90),
        p99=float(p99), max=float(data.max()), mean=float(data.mean()),
        stdev=float(data.std(ddof=1)) if data.size >= 2 else None,
        ci_low=interval[0] if interval else None, ci_high=interval[1] if interval else None)
