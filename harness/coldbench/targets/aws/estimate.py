"""What a run on AWS Lambda can cost at most, from the dated price table in
``coldbench/data/aws-prices-YYYY-MM.json``. Pure functions: no AWS call, no I/O but
reading the table.

The figure is an upper bound, the one ``--max-cost`` is held against: every invocation is
assumed to run to its timeout, every cold start to spend Lambda's whole 10-second Init
allowance (billed since August 2025), every warm sample to need a replacement cold start,
and every provisioned-concurrency allocation to live ``PROVISIONED_LIFETIME_S``. A real
run of the coldbench function costs a small fraction of it. The free tier is ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

PRICE_TABLE = "aws-prices-2026-11.json"

# Lambda ends an on-demand Init phase after 10 seconds (Lambda Developer Guide,
# "Understanding the Lambda execution environment lifecycle"); a SnapStart restore is
# bounded the same way here.
INIT_LIMIT_S = 10.0
# How long one provisioned-concurrency allocation is assumed to exist, at most: the
# harness waits up to PROVISIONED_READY_WAIT_S for it to become READY, measures, and
# removes it; the rest is the time it may wait for its turn.
PROVISIONED_READY_WAIT_S = 900.0
PROVISIONED_LIFETIME_S = 1200.0
# A SnapStart version lives until its sample is taken, at most this long (for the cache charge).
SNAPSHOT_LIFETIME_S = 3600.0


@dataclass(frozen=True)
class Prices:
    as_of: str
    region: str
    requests_per_million: float
    duration: dict[str, float]                 # per GB-second, by architecture
    provisioned_concurrency: dict[str, float]
    provisioned_duration: dict[str, float]
    provisioned_increment_s: float
    snapstart_cache: float                     # per GB-second
    snapstart_cache_minimum_s: float
    snapstart_restore: float                   # per GB restored
    snapstart_charged_runtimes: tuple[str, ...]
    sources: tuple[str, ...] = ()

    @property
    def per_request(self) -> float:
        return self.requests_per_million / 1_000_000


@cache
def prices(name: str = PRICE_TABLE) -> Prices:
    document = json.loads(resources.files("coldbench.data").joinpath(name).read_text())
    return Prices(
        as_of=document["as_of"], region=document["region"],
        requests_per_million=document["requests_per_million"],
        duration=document["duration_per_gb_second"],
        provisioned_concurrency=document["provisioned_concurrency_per_gb_second"],
        provisioned_duration=document["provisioned_duration_per_gb_second"],
        provisioned_increment_s=document["provisioned_billing_increment_seconds"],
        snapstart_cache=document["snapstart_cache_per_gb_second"],
        snapstart_cache_minimum_s=document["snapstart_cache_minimum_seconds"],
        snapstart_restore=document["snapstart_restore_per_gb"],
        snapstart_charged_runtimes=tuple(document["snapstart_charged_runtimes"]),
        sources=tuple(document["sources"]),
    )


@dataclass(frozen=True)
class Deployment:
    """One configuration as deployed: what the cost of its samples depends on."""

    lambda_runtime: str       # e.g. "python3.12"
    memory_mb: int
    architecture: str         # "x86_64" or "arm64"
    snapstart: bool = False

    @property
    def gb(self) -> float:
        return self.memory_mb / 1024     # Lambda's GB-second: 1,024 MB for one second


@dataclass(frozen=True)
class Plan:
    cold: int
    warm: int
    provisioned: int
    timeout_s: float


@dataclass
class Estimate:
    """The most a plan can cost, by item (USD)."""

    invocations: int = 0                  # as planned
    max_invocations: int = 0              # with a replacement cold start for every warm sample
    requests_usd: float = 0.0
    duration_gb_s: float = 0.0
    duration_usd: float = 0.0
    provisioned_allocations: int = 0
    provisioned_gb_s: float = 0.0
    provisioned_usd: float = 0.0
    snapstart_versions: int = 0
    snapstart_usd: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return self.requests_usd + self.duration_usd + self.provisioned_usd + self.snapstart_usd


def round_up(seconds: float, increment: float) -> float:
    return math.ceil(seconds / increment) * increment


def estimate(deployments: list[Deployment], plan: Plan, region: str,
             table: Prices | None = None) -> Estimate:
    """The upper bound of what measuring ``plan`` on every deployment costs."""
    table = table or prices()
    result = Estimate()
    if region != table.region:
        result.notes.append(f"prices are those of {table.region} ({table.as_of}); "
                            f"{region} may differ")
    for d in deployments:
        arch = d.architecture
        cold_starts = plan.cold + plan.warm           # a dead warm environment is replaced
        result.invocations += plan.cold + plan.warm + plan.provisioned
        requests = cold_starts + plan.warm + plan.provisioned
        result.max_invocations += requests
        result.requests_usd += requests * table.per_request

        on_demand_s = cold_starts * (INIT_LIMIT_S + plan.timeout_s) + plan.warm * plan.timeout_s
        gb_s = on_demand_s * d.gb
        result.duration_gb_s += gb_s
        result.duration_usd += gb_s * table.duration[arch]

        if plan.provisioned:
            lifetime = round_up(PROVISIONED_LIFETIME_S, table.provisioned_increment_s)
            allocated = plan.provisioned * lifetime * d.gb
            invoked = plan.provisioned * plan.timeout_s * d.gb
            result.provisioned_allocations += plan.provisioned
            result.provisioned_gb_s += allocated
            result.provisioned_usd += (allocated * table.provisioned_concurrency[arch]
                                       + invoked * table.provisioned_duration[arch])

        if d.snapstart:
            versions = cold_starts                    # one published version per cold sample
            result.snapstart_versions += versions
            # publishing runs Init once to take the snapshot
            publish_gb_s = versions * INIT_LIMIT_S * d.gb
            result.duration_gb_s += publish_gb_s
            result.duration_usd += publish_gb_s * table.duration[arch]
            if d.lambda_runtime.startswith(table.snapstart_charged_runtimes):
                cached_s = max(SNAPSHOT_LIFETIME_S, table.snapstart_cache_minimum_s)
                result.snapstart_usd += (versions * cached_s * d.gb * table.snapstart_cache
                                         + cold_starts * d.gb * table.snapstart_restore)
    return result


def usd(amount: float) -> str:
    """Dollars with two significant digits below $1 (``$0.0027``), cents above (``$1.23``)."""
    if amount >= 1:
        return f"${amount:,.2f}"
    if amount == 0:
        return "$0"
    return f"${amount:.{max(2, 1 - math.floor(math.log10(amount)))}f}"


def describe(e: Estimate, table: Prices | None = None) -> list[str]:
    """The estimate as lines of text, item by item, with the table's date."""
    table = table or prices()
    lines = [f"invocations: {e.invocations} planned, at most {e.max_invocations} "
             f"(a failed warm environment is replaced by a cold start): "
             f"at most {usd(e.requests_usd)} in requests",
             f"duration: at most {e.duration_gb_s:,.1f} GB-s (every invocation running to its "
             f"timeout, every init to Lambda's 10 s limit): at most {usd(e.duration_usd)}"]
    if e.provisioned_allocations:
        lines.append(f"provisioned concurrency: {e.provisioned_allocations} allocations, "
                     f"billed from creation to removal in 5-minute steps, each assumed to "
                     f"live {PROVISIONED_LIFETIME_S / 60:.0f} min: at most "
                     f"{usd(e.provisioned_usd)}")
    if e.snapstart_versions:
        lines.append(f"SnapStart: {e.snapstart_versions} published versions (snapshot cache "
                     f"and restores; Java has no SnapStart charge): at most "
                     f"{usd(e.snapstart_usd)}")
    lines.append(f"total: at most {usd(e.total_usd)} (prices of {table.region}, "
                 f"{table.as_of}; free tier not counted)")
    return lines + [f"note: {note}" for note in e.notes]
