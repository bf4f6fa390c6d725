import math

import pytest

from coldbench.analysis.stats import fewest_for_interval, median_ci, summarize


@pytest.mark.parametrize("n, expected", [
    # order statistics of the 95 % interval for the median (Conover, Practical
    # Nonparametric Statistics, table A3): n=6 -> (1, 6), 10 -> (2, 9), 20 -> (6, 15)
    (6, (1, 6)), (10, (2, 9)), (20, (6, 15)), (100, (40, 61)),
])
def test_median_interval_uses_the_binomial_order_statistics(n, expected):
    assert median_ci(list(range(1, n + 1))) == expected


def test_median_interval_is_absent_below_six_samples():
    assert median_ci([1, 2, 3, 4, 5]) is None
    # P(X = 0) for X ~ Binomial(n, 1/2) is 1/2^n: at most 0.025 from n = 6, 0.005 from n = 8
    assert fewest_for_interval(0.95) == 6 and fewest_for_interval(0.99) == 8


def test_summary_of_known_values():
    s = summarize([3, 1, 2, 5, 4])
    assert (s.n, s.min, s.p50, s.max, s.mean) == (5, 1, 3, 5, 3)
    assert s.p90 == pytest.approx(4.6)       # linear interpolation: 4 + 0.6 * (5 - 4)
    assert s.p99 == pytest.approx(4.96)
    assert s.stdev == pytest.approx(math.sqrt(2.5))
    assert s.relative_spread == pytest.approx(math.sqrt(2.5) / 3)


def test_one_sample_has_no_stdev_and_none_is_no_summary():
    s = summarize([7.5])
    assert s.stdev is None and s.p50 == 7.5 and s.relative_spread is None
    assert summarize([]) is None
    assert summarize([None, float("nan")]) is None
