"""What a run on AWS Lambda can cost at most, from the dated price table
(``coldbench.prices``) and Lambda's billing rule (``phases.billed_ms``). Pure functions: no
AWS call, no I/O but reading the table.

The figure is an upper bound, the one ``--max-cost`` is held against: every invocation is
assumed to run to its timeout, every cold start to spend Lambda's whole 10-second Init
allowance (billed as the table's date bills it), every warm sample to need a replacement
cold start, every provisioned-concurrency allocation to live ``PROVISIONED_LIFETIME_S``,
and every container image the run pushes to be stored in ECR for a whole month. Duration is
priced at the first tier's rate: a run's GB-seconds are far below the first tier's limit
(6 billion GB-s a month on x86_64), so the monthly tiers (``Prices.duration_usd``) never
lower its price. A real run of the coldbench function costs a small fraction of the bound.
The free tier is ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

from coldbench import phases
from coldbench import prices as price_tables
from coldbench.errors import UsageError
from coldbench.prices import (GB_BYTES, SNAPSTART_CACHE_MINIMUM_H, SNAPSTART_CHARGED_RUNTIMES,
                              Prices, snapstart_charged, usd)

PRICE_TABLE = list(price_tables.tables().values())[-1]     # the newest shipped

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
# Provisioned concurrency is billed in 5-minute steps (https://aws.amazon.com/lambda/pricing/);
# SnapStart's own rules are the price table's (``prices``).
PROVISIONED_INCREMENT_S = 300.0
SNAPSTART_CACHE_MINIMUM_S = SNAPSTART_CACHE_MINIMUM_H * 3600
# ECR bills storage per GB-month (https://aws.amazon.com/ecr/pricing/); an image the run
# pushes is deleted with the run, so a month is more than it is ever kept.
IMAGE_STORED_MONTHS = 1.0


def prices() -> Prices:
    """The table the bound is computed from."""
    return price_tables.load()


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
class Invocations:
    cold: int
    warm: int
    provisioned: int
    timeout_s: float
    burst: int = 0                                # cold starts at once, per configuration
    # idle samples per configuration (--idle: intervals x samples), each two invocations
    # of a function of its own, both cold at worst; SnapStart deployments take none
    idle: int = 0


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
    snapstart_cached_gb_s: float = 0.0    # snapshots cached, charged for Python and .NET
    snapstart_cache_usd: float = 0.0
    snapstart_restored_gb: float = 0.0    # snapshots restored, likewise
    snapstart_restore_usd: float = 0.0
    images: int = 0                       # container images pushed to ECR
    ecr_gb_months: float = 0.0
    ecr_usd: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def snapstart_usd(self) -> float:
        return self.snapstart_cache_usd + self.snapstart_restore_usd

    @property
    def total_usd(self) -> float:
        return (self.requests_usd + self.duration_usd + self.provisioned_usd
                + self.snapstart_usd + self.ecr_usd)


def round_up(seconds: float, increment: float) -> float:
    return math.ceil(seconds / increment) * increment


def _needs(table: Prices, what: str, value):
    if value is None or value == {}:
        raise UsageError(f"price table {table.name} has no {what} prices, which the cost "
                         "bound of this plan needs")
    return value


def estimate(deployments: list[Deployment], plan: Invocations, region: str,
             table: Prices | None = None, image_bytes: Iterable[int] = ()) -> Estimate:
    """The upper bound of what measuring ``plan`` on every deployment costs;
    ``image_bytes``: the size of each container image the run pushes to ECR (none: a run of
    zip packages, nothing stored)."""
    table = table or prices()
    result = Estimate()
    timeout_ms, init_limit_ms = plan.timeout_s * 1000, INIT_LIMIT_S * 1000
    if region != table.region:
        result.notes.append(f"prices are those of {table.region} ({table.as_of:%Y-%m}); "
                            f"{region} may differ")
    for d in deployments:
        arch = d.architecture
        # a dead warm environment is replaced; a burst is as many cold starts
        idle = 0 if d.snapstart else 2 * plan.idle
        cold_starts = plan.cold + plan.warm + plan.burst + idle
        result.invocations += plan.cold + plan.warm + plan.provisioned + plan.burst + idle
        requests = cold_starts + plan.warm + plan.provisioned
        result.max_invocations += requests
        result.requests_usd += requests * table.request

        # a cold start at its limits, billed as Lambda bills it (a restore where SnapStart)
        cold_ms = phases.billed_ms(timeout_ms, None if d.snapstart else init_limit_ms,
                                   init_limit_ms if d.snapstart else None,
                                   lambda_runtime=d.lambda_runtime, on=table.as_of)
        warm_ms = phases.billed_ms(timeout_ms, on=table.as_of)
        gb_s = (cold_starts * cold_ms + plan.warm * warm_ms) / 1000 * d.gb
        result.duration_gb_s += gb_s
        result.duration_usd += gb_s * table.gb_second[arch]

        if plan.provisioned:
            lifetime = round_up(PROVISIONED_LIFETIME_S, PROVISIONED_INCREMENT_S)
            allocated = plan.provisioned * lifetime * d.gb
            invoked = plan.provisioned * warm_ms / 1000 * d.gb
            result.provisioned_allocations += plan.provisioned
            result.provisioned_gb_s += allocated
            concurrency = _needs(table, "provisioned concurrency", table.provisioned_concurrency)
            duration = _needs(table, "provisioned duration", table.provisioned_gb_second)
            result.provisioned_usd += allocated * concurrency[arch] + invoked * duration[arch]

        if d.snapstart:
            versions = cold_starts                    # one published version per cold sample
            result.snapstart_versions += versions
            # publishing runs Init once to take the snapshot
            publish_gb_s = versions * INIT_LIMIT_S * d.gb
            result.duration_gb_s += publish_gb_s
            result.duration_usd += publish_gb_s * table.gb_second[arch]
            if snapstart_charged(d.lambda_runtime):
                cached_s = max(SNAPSHOT_LIFETIME_S, SNAPSTART_CACHE_MINIMUM_S)
                cache = _needs(table, "SnapStart cache", table.snapstart_cache_gb_second)
                restore = _needs(table, "SnapStart restore", table.snapstart_restore_gb)
                result.snapstart_cached_gb_s += versions * cached_s * d.gb
                result.snapstart_cache_usd += versions * cached_s * d.gb * cache
                result.snapstart_restored_gb += cold_starts * d.gb
                result.snapstart_restore_usd += cold_starts * d.gb * restore
    sizes = [size for size in image_bytes if size]
    if sizes:
        storage = _needs(table, "ECR storage", table.ecr_gb_month)
        result.images = len(sizes)
        result.ecr_gb_months = sum(sizes) / GB_BYTES * IMAGE_STORED_MONTHS
        result.ecr_usd = result.ecr_gb_months * storage
    return result


def _rate(amount: float) -> str:
    """A unit price as the table gives it, in full: $0.0000015046."""
    return "$" + f"{amount:.12f}".rstrip("0").rstrip(".")


def describe(e: Estimate, table: Prices | None = None) -> list[str]:
    """The estimate as lines of text, item by item, with the table's date."""
    table = table or prices()
    lines = [f"invocations: {e.invocations} planned, at most {e.max_invocations} "
             f"(a failed warm environment is replaced by a cold start): "
             f"at most {usd(e.requests_usd)} in requests",
             f"duration: at most {e.duration_gb_s:,.1f} GB-s (every invocation running to its "
             f"timeout, every init to Lambda's {INIT_LIMIT_S:.0f} s limit), at the first "
             f"tier's rate (a run is far below the monthly tiers): at most "
             f"{usd(e.duration_usd)}"]
    if e.provisioned_allocations:
        lines.append(f"provisioned concurrency: {e.provisioned_allocations} allocations, "
                     f"billed from creation to removal in "
                     f"{PROVISIONED_INCREMENT_S / 60:.0f}-minute steps, each assumed to "
                     f"live {PROVISIONED_LIFETIME_S / 60:.0f} min: at most "
                     f"{usd(e.provisioned_usd)}")
    if e.snapstart_versions:
        charged = " and ".join(SNAPSTART_CHARGED_RUNTIMES)
        lines.append(f"SnapStart: {e.snapstart_versions} published versions; its snapshot "
                     f"cache and restores are charged for {charged} (not Java): at most "
                     f"{usd(e.snapstart_usd)}")
        if e.snapstart_cached_gb_s:
            lines.append(f"  cache: {_rate(table.snapstart_cache_gb_second)} per GB-s, each "
                         f"snapshot for at least {SNAPSTART_CACHE_MINIMUM_S / 3600:.0f} h: "
                         f"{e.snapstart_cached_gb_s:,.0f} GB-s, at most "
                         f"{usd(e.snapstart_cache_usd)}")
            lines.append(f"  restores: {_rate(table.snapstart_restore_gb)} per GB restored: "
                         f"{e.snapstart_restored_gb:,.2f} GB, at most "
                         f"{usd(e.snapstart_restore_usd)}")
    if e.images:
        lines.append(f"ECR storage: {e.images} images, "
                     f"{e.ecr_gb_months / IMAGE_STORED_MONTHS:,.3f} GB at "
                     f"{_rate(table.ecr_gb_month)} per GB-month, each counted for a whole "
                     f"month: at most {usd(e.ecr_usd)}")
    lines.append(f"total: at most {usd(e.total_usd)} (prices of {table.region}, "
                 f"{table.as_of:%Y-%m}; free tier not counted)")
    return lines + [f"note: {note}" for note in e.notes]
