"""What AWS charges: the dated price table in ``data/prices-YYYY-MM.csv``, and how money
is written. One table serves the cost model (``analysis/cost.py``) and the AWS target's
cost bound (``targets/aws/estimate.py``); what a second is billed is ``phases.billed_ms``.

A table is a CSV file, one row per billed item (``service,item,purchase,arch,unit,usd,
vcpus,memory_gb,source``; lines starting with ``#`` are its notes and sources). Its date
is in its name: the table valid from that month on. On-demand duration is priced in monthly
tiers (``duration`` the first, ``duration-over-<N>b`` the rate above N billion GB-s a month);
a table without tier rows prices every GB-second at the first tier's rate.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

from coldbench.errors import UsageError
from coldbench.model.architecture import ARCHITECTURES

ARCHES = ARCHITECTURES           # the architectures a table prices, as Lambda names them
REGION = "us-east-1"           # every shipped table holds the prices of US East (N. Virginia)
# Billing rules beside the prices. A month is 730 hours, as AWS's price pages count it;
# storage is billed in GB of 2^30 bytes. A SnapStart snapshot is cached for at least 3
# hours, and caching and restoring are charged for Python and .NET, not for Java
# (https://aws.amazon.com/lambda/pricing/, Lambda Developer Guide "Lambda SnapStart").
HOURS_PER_MONTH = 730
GB_BYTES = 1024 ** 3
SNAPSTART_CACHE_MINIMUM_H = 3.0
SNAPSTART_CHARGED_RUNTIMES = ("python", "dotnet")
_NAME = re.compile(r"prices-(\d{4})-(\d{2})\.csv")
_TIER = re.compile(r"duration-over-([0-9.]+)b")


@dataclass(frozen=True)
class Vm:
    name: str
    purchase: str           # "on-demand" or "reserved-1yr-no-upfront"
    arch: str
    hourly: float
    vcpus: float
    memory_gb: float


@dataclass(frozen=True)
class Prices:
    as_of: date
    name: str
    request: float                              # per request
    gb_second: dict[str, float]                 # arch -> on-demand Duration, per GB-second
    fargate_vcpu_hour: dict[str, float]
    fargate_gb_hour: dict[str, float]
    vms: tuple[Vm, ...] = ()
    # what only the AWS target's cost bound needs; empty where a table has no such rows
    provisioned_concurrency: dict[str, float] = field(default_factory=dict)  # per GB-s allocated
    provisioned_gb_second: dict[str, float] = field(default_factory=dict)    # Duration on it
    snapstart_cache_gb_second: float | None = None
    snapstart_restore_gb: float | None = None
    # arch -> ((GB-s a month from which the rate applies, rate per GB-s), ...), first tier first
    duration_tiers: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    ecr_gb_month: float | None = None           # ECR storage, per GB-month
    sources: tuple[str, ...] = ()               # the table's notes, as written in it
    region: str = REGION

    def invocation_usd(self, billed_ms: float, memory_mb: int, arch: str) -> float:
        """One on-demand invocation at the first duration tier: its request and its
        ``billed_ms`` at ``memory_mb``."""
        return self.request + memory_mb / 1024 * billed_ms / 1000 * self.gb_second[arch]

    def tiers(self, arch: str) -> tuple[tuple[float, float], ...]:
        """On-demand duration tiers of ``arch``: (from GB-s a month, rate), lowest first."""
        return self.duration_tiers.get(arch) or ((0.0, self.gb_second[arch]),)

    def duration_usd(self, gb_s: float, arch: str) -> float:
        """What ``gb_s`` GB-seconds of on-demand duration in one month cost, tier by tier
        (Lambda counts tiers per account, region and architecture)."""
        tiers = self.tiers(arch)
        total = 0.0
        for (start, rate), (end, _) in zip(tiers, [*tiers[1:], (math.inf, 0.0)]):
            if gb_s > start:
                total += (min(gb_s, end) - start) * rate
        return total


def tables() -> dict[date, str]:
    """The dated price tables shipped in data/, oldest first."""
    found = {}
    for entry in resources.files("coldbench.data").iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found[date(int(match.group(1)), int(match.group(2)), 1)] = entry.name
    return dict(sorted(found.items()))


def load(which: str | Path | None = None) -> Prices:
    """A price table: the newest shipped one, a shipped one by month (``2026-11``) or a
    CSV file named like ``prices-YYYY-MM.csv``."""
    shipped = tables()
    if which is None or re.fullmatch(r"\d{4}-\d{2}", str(which)):
        as_of = (list(shipped)[-1] if which is None
                 else date(int(str(which)[:4]), int(str(which)[5:]), 1))
        if as_of not in shipped:
            raise UsageError(f"no price table for {which}: choose from "
                             f"{', '.join(f'{d:%Y-%m}' for d in shipped)} or give a CSV file")
        name = shipped[as_of]
        return parse(resources.files("coldbench.data").joinpath(name).read_text(), as_of, name)
    path = Path(which)
    match = re.search(r"(\d{4})-(\d{2})", path.name)
    if not path.is_file() or not match:
        raise UsageError(f"{which}: not a price table file named like prices-YYYY-MM.csv")
    return parse(path.read_text(), date(int(match.group(1)), int(match.group(2)), 1), path.name)


def _amount(text: str) -> float:
    """A price or a size from the table: a finite number, 0 or more (ValueError else)."""
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a finite number of 0 or more")
    return value


def parse(text: str, as_of: date, name: str = "prices") -> Prices:
    """A price table from its CSV text."""
    lines = text.splitlines()
    rows = list(csv.DictReader(line for line in lines if line.strip() and not line.startswith("#")))
    try:
        def price(service: str, item: str, arch: str, purchase: str = "on-demand") -> float:
            return next(_amount(r["usd"]) for r in rows if (r["service"], r["item"], r["arch"],
                                                           r["purchase"]) == (service, item, arch,
                                                                              purchase))

        def optional(service: str, item: str, arch: str, purchase: str = "on-demand"):
            try:
                return price(service, item, arch, purchase)
            except StopIteration:
                return None

        def by_arch(item: str, purchase: str) -> dict[str, float]:
            found = {a: optional("lambda", item, a, purchase) for a in ARCHES}
            return {a: v for a, v in found.items() if v is not None}

        def tiers(arch: str) -> tuple[tuple[float, float], ...]:
            found = [(float(match.group(1)) * 1e9, _amount(r["usd"])) for r in rows
                     if r["service"] == "lambda" and r["arch"] == arch
                     and r["purchase"] == "on-demand"
                     for match in [_TIER.fullmatch(r["item"])] if match]
            return ((0.0, price("lambda", "duration", arch)), *sorted(found))

        return Prices(
            as_of=as_of, name=name,
            request=price("lambda", "requests", "any") / 1e6,
            gb_second={a: price("lambda", "duration", a) for a in ARCHES},
            fargate_vcpu_hour={a: price("fargate", "vcpu", a) for a in ARCHES},
            fargate_gb_hour={a: price("fargate", "memory", a) for a in ARCHES},
            vms=tuple(Vm(r["item"], r["purchase"], r["arch"], _amount(r["usd"]),
                         _amount(r["vcpus"]), _amount(r["memory_gb"]))
                      for r in rows if r["service"] == "vm"),
            provisioned_concurrency=by_arch("concurrency", "provisioned"),
            provisioned_gb_second=by_arch("duration", "provisioned"),
            snapstart_cache_gb_second=optional("lambda", "snapstart-cache", "any"),
            snapstart_restore_gb=optional("lambda", "snapstart-restore", "any"),
            duration_tiers={a: tiers(a) for a in ARCHES},
            ecr_gb_month=optional("ecr", "storage", "any"),
            sources=tuple(line.lstrip("# ").rstrip() for line in lines
                          if line.startswith("#") and line.strip("# ")))
    except (StopIteration, KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"price table {name} is incomplete or malformed ({exc!r}): it needs "
                         "lambda requests and duration, fargate vcpu and memory for "
                         f"{' and '.join(ARCHES)}") from None


def snapstart_charged(lambda_runtime: str) -> bool:
    """SnapStart's cache and restores are charged for functions of this Lambda runtime
    identifier ("python3.12": yes; "java21": no)."""
    return lambda_runtime.startswith(SNAPSTART_CHARGED_RUNTIMES)


def usd(amount: float | None) -> str:
    """Dollars: whole from $1,000, cents from $1, two significant digits below ($0.0027)."""
    if amount is None:
        return "-"
    if amount >= 1000:
        return f"${amount:,.0f}"
    if amount >= 1:
        return f"${amount:,.2f}"
    if amount == 0:
        return "$0"
    return f"${amount:.{max(2, 1 - math.floor(math.log10(amount)))}f}"
