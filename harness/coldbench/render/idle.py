"""Cold starts after idle time (``analysis.idle``) as lines: per configuration and
interval, the chance of a cold start, and what keep-warm pings would buy and cost."""

from __future__ import annotations

from coldbench.analysis.idle import AfterIdle, longest, ping_cost
from coldbench.model import interval_text
from coldbench.prices import Prices, usd

__all__ = ["keep_warm_lines", "share"]


def share(result: AfterIdle) -> str:
    """"3 of 10 (30%)": the calls after the interval that were cold."""
    if not result.n:
        return "0 of 0"
    return f"{result.cold} of {result.n} ({result.probability:.0%})"


def keep_warm_lines(results: list[AfterIdle], prices: Prices) -> list[str]:
    """A line per configuration and interval: the chance of a cold start after that much
    idle time, the cold start it means, and what pings at that interval would cost, beside
    the longest interval measured (what calls would see without the pings)."""
    lines = []
    without = longest(results)
    for result in results:
        every = interval_text(result.idle_s)
        cold = result.config.modes.get("cold")
        text = f"{result.base}, idle {every}: cold after idle {share(result)}"
        if cold is not None and cold.figure is not None:
            text += f", cold start p50 {cold.figure.p50:,.1f} ms"
        if result.n:
            text += (f"; keep-warm pings every {every} would keep calls at "
                     f"{result.probability:.0%} cold")
            other = without[result.base]
            if other is not result and other.n:
                text += (f" instead of {other.probability:.0%} after "
                         f"{interval_text(other.idle_s)}")
            pings, monthly, measured = ping_cost(result, prices)
            text += (f", for {pings:,.0f} pings ({'at least ' if not measured else ''}"
                     f"{usd(monthly)}) a month per environment kept warm")
        lines.append(text)
    return lines
