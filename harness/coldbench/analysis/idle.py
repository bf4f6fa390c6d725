"""Cold starts after idle time (``--idle``), from the summaries of the idle configurations
(``ConfigSummary.idle_s``): per configuration and interval, how likely a call after that
much idle time finds no environment, and what keep-warm pings at that interval buy and
cost. Pure functions of the summaries and a price table.

The probability counts valid samples only: n = the cold ones (their REPORT had an Init
Duration) + the warm ones; failed samples and those whose function's own ``cold`` flag
disagreed with the REPORT are left out (and warned about as for any configuration).
"""

from __future__ import annotations

from dataclasses import dataclass

from coldbench import phases
from coldbench.analysis.summary import ConfigSummary
from coldbench.model import ConfigKey
from coldbench.model import DEFAULT_ARCHITECTURE
from coldbench.prices import HOURS_PER_MONTH, Prices


@dataclass(frozen=True)
class AfterIdle:
    """What the samples of one configuration after one idle interval found."""

    config: ConfigSummary
    cold: int                         # valid samples that started an environment
    n: int                            # valid samples

    @property
    def idle_s(self) -> float:
        return self.config.idle_s

    @property
    def probability(self) -> float | None:
        """The share of calls after this much idle time that waited for a cold start."""
        return self.cold / self.n if self.n else None

    @property
    def base(self) -> ConfigKey:
        """The configuration the interval was measured on, without the interval."""
        return ConfigKey(self.config.function, self.config.runtime, self.config.memory_mb,
                         self.config.variant.but(idle_s=None))


def after_idle(configs: list[ConfigSummary]) -> list[AfterIdle]:
    """One result per idle configuration, by configuration then interval."""
    found = []
    for config in configs:
        if config.idle_s is None:
            continue
        counts = {mode: (m.figure.n if m.figure else 0) for mode, m in config.modes.items()}
        cold = counts.get("cold", 0)
        found.append(AfterIdle(config, cold, cold + counts.get("warm", 0)))
    return sorted(found, key=lambda r: (r.base.order, r.idle_s))


def ping_cost(result: AfterIdle, prices: Prices) -> tuple[float, float, bool]:
    """Keep-warm pings at the result's interval, for one environment for a month: how many,
    what they cost (requests, and each billed as the configuration's warm Duration p50),
    and whether that Duration was measured (else each is billed Lambda's least, 1 ms, and
    the cost is a floor)."""
    warm = result.config.modes.get("warm")
    measured = warm is not None and warm.figure is not None
    pings, monthly = pings_per_month(result.idle_s, warm.figure.p50 if measured else None,
                                     result.config.memory_mb, result.config.architecture,
                                     prices)
    return pings, monthly, measured


def pings_per_month(interval_s: float, warm_ms: float | None, memory_mb: int,
                    architecture: str | None, prices: Prices) -> tuple[float, float]:
    """Keep-warm pings every ``interval_s`` for one environment for a month: how many, and
    what they cost: a request each, billed as ``warm_ms`` (a warm invocation's Duration;
    None: Lambda's least, 1 ms) at ``memory_mb``."""
    pings = HOURS_PER_MONTH * 3600 / interval_s
    billed = phases.billed_ms(warm_ms if warm_ms is not None else 1.0)
    arch = architecture if architecture in prices.gb_second else DEFAULT_ARCHITECTURE
    return pings, pings * prices.invocation_usd(billed, memory_mb, arch)


def longest(results: list[AfterIdle]) -> dict[ConfigKey, AfterIdle]:
    """Per configuration measured (``AfterIdle.base``), the result of its longest interval:
    what calls see without keep-warm pings."""
    found: dict[ConfigKey, AfterIdle] = {}
    for result in results:
        if result.base not in found or result.idle_s > found[result.base].idle_s:
            found[result.base] = result
    return found
