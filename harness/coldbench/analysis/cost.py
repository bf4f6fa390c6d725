"""Monthly cost of each measured configuration on Lambda against a container service
(Fargate) and a VM (EC2) sized for the same load, and the load at which they cross over.
Prices come from a dated table (``coldbench.prices``); durations from the run's samples.

The model, for one configuration (memory size M MB) and one CPU architecture:

- Lambda, per request: the request price, plus M/1024 GB x billed seconds x the GB-second
  price. Billed ms = (1 - f) x warm + f x cold, where warm is the mean billed duration of
  the warm samples, cold that of the cold samples, each billed as Lambda bills it on the
  price table's date (``phases.billed_ms``: a cold start's INIT is billed since
  2025-08-01, before only on OS-only runtimes, Go and Rust here), and f the share of
  requests that start cold (``--cold-fraction``, ``COLD_FRACTION`` by default: "INITs
  (cold starts) typically occur in under 1% of invocations", AWS Compute Blog, "AWS Lambda
  standardizes billing for INIT Phase", 2025). Means, not medians: a bill is a sum, and
  the mean is what sums.
- Lambda, the whole bill of a month (``lambda_bill``): requests; on-demand duration priced
  in the table's monthly tiers (``Prices.duration_usd``: the tiers count an account's
  GB-seconds per region and architecture, so each configuration is priced as if it were
  the account's only load there); ``--provisioned N``: N environments allocated for the
  hours with traffic (D x 730 h) at the provisioned-concurrency rate per GB-s, the
  requests they can serve (each at most ``max_busy`` busy, as hosts are) billed at the
  provisioned duration rate and never cold, the rest on demand; SnapStart, for
  configurations whose cold samples restored a snapshot, on the runtimes it is charged
  for (Python, .NET; not Java): the snapshot cached ``snapstart_hours`` a month (at least
  3) per GB-s, and each on-demand cold start restoring M/1024 GB; ECR storage per
  GB-month of the configuration's container image (``--image-size``, else the run's
  ``images`` metadata), for image packages only.
- Environments: a container or VM serves the load with environments of Lambda's size,
  M/1769 vCPU (Lambda gives 1 vCPU at 1,769 MB) and M/1024 GB each, one request at a time,
  each request keeping one busy for its mean measured Duration (warm). A host (a Fargate
  task of the smallest valid size that fits one environment, or a VM) holds as many as its
  vCPUs and memory allow. Hosts are added so none is busier than ``max_busy``
  (``MAX_BUSY`` by default).
- Duty cycle D: the share of the month in which the requests arrive. Fargate tasks run only
  then (scheduled scaling to zero); a VM, reserved or not, is paid the whole month.
- A month is 730 hours, as AWS's price pages count it.
- Crossover: Lambda's cost grows with the load, a host's is fixed, so the two first meet
  at the N* where Lambda's month costs what the host's does (without provisioned
  concurrency, SnapStart's cache, ECR and tiers: N* = host cost per month / Lambda cost
  per request), if one host can serve N* requests at ``max_busy``; otherwise Lambda stays
  cheaper at any load. The host's busy
  share at N* (busy seconds / available environment-seconds) is what the rule of thumb
  "containers win above about 50% busy at steady load" speaks of: it "holds" here when that
  share is within ``RULE_MARGIN`` of ``RULE_BUSY``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from coldbench import phases
from coldbench.environments.cgroups import lambda_vcpus
from coldbench.errors import UsageError
from coldbench.prices import ARCHES, Prices
from coldbench.results.schema import ConfigKey, Sample
from coldbench.runtimes import find

HOURS_PER_MONTH = 730
COLD_FRACTION = 0.01
MAX_BUSY = 0.80
RULE_BUSY, RULE_MARGIN = 0.50, 0.15     # "containers win above about 50 % busy"
# SnapStart's cache is charged for Python and .NET, not Java, for at least 3 hours
# (https://aws.amazon.com/lambda/pricing/, Lambda Developer Guide "Lambda SnapStart")
SNAPSTART_CHARGED_RUNTIMES = ("python", "dotnet")
SNAPSTART_CACHE_MINIMUM_H = 3.0
GB_BYTES = 1024 ** 3                    # AWS bills storage in GB of 2^30 bytes

# Fargate task sizes: vCPU -> valid memory in GB (Amazon ECS docs, "Troubleshoot Amazon ECS
# task definition invalid CPU or memory errors", Linux)
FARGATE_SIZES = {
    0.25: (0.5, 1, 2),
    0.5: tuple(range(1, 5)),
    1: tuple(range(2, 9)),
    2: tuple(range(4, 17)),
    4: tuple(range(8, 31)),
    8: tuple(range(16, 61, 4)),
    16: tuple(range(32, 121, 8)),
}


# -- what was measured -------------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    """The figures of one configuration that the bill depends on (ms, means)."""

    key: ConfigKey
    warm_ms: float            # mean Duration of warm invocations: the busy time per request
    warm_billed_ms: float     # mean billed duration of warm invocations
    cold_billed_ms: float     # mean billed ms of a cold invocation under the price table's rules
    cold_init_ms: float       # of which billed for init (0 where init was not billed)
    snapstart: bool = False   # its cold starts restored a snapshot (SnapStart)
    lambda_runtime: str | None = None     # the identifier deployed (python3.12), if known
    image_gb: float | None = None         # its container image in ECR; None: a zip package

    @property
    def label(self) -> str:
        return self.key.label

    @property
    def memory_mb(self) -> int:
        return self.key.memory_mb


def _lambda_runtime(runtime: str) -> str | None:
    """The Lambda runtime identifier a runtime of the registry deploys as."""

    known = find(runtime)
    return known.lambda_runtime if known else None


def is_image(sample: Sample) -> bool:
    """Whether the sample's function was deployed as a container image."""
    kind = sample.extra.get("package_type", sample.extra.get("package"))
    return str(kind).lower() == "image"


def image_sizes(run: dict) -> dict[str, float]:
    """Runtime -> GB of its container image, from the run's ``images`` metadata (absent for
    zip-only runs: an empty dict)."""
    found = {}
    images = run.get("images")
    for runtime, image in (images.items() if isinstance(images, dict) else ()):
        size = image.get("size") if isinstance(image, dict) else None
        if isinstance(size, (int, float)) and size > 0:
            found[runtime] = size / GB_BYTES
    return found


def measured(samples: list[Sample], prices: Prices,
             images_gb: dict[str, float] | None = None,
             image_gb: float | None = None) -> list[Measured]:
    """Per configuration with valid warm samples; cold ones fall back to warm figures.
    A configuration deployed as an image is stored in ECR: ``image_gb`` GB if given (any
    configuration, as if deployed as an image of that size), else its runtime's size in
    ``images_gb`` (``image_sizes``)."""
    groups: dict[ConfigKey, dict[str, list[Sample]]] = {}
    for s in samples:
        if s.valid and s.duration_ms is not None:
            groups.setdefault(s.key, {}).setdefault(s.mode, []).append(s)
    found = []
    for key, modes in groups.items():
        warm = modes.get("warm")
        if not warm:
            continue
        warm_billed = _mean_billed(warm, prices)
        cold = modes.get("cold") or []
        if cold:
            cold_billed = _mean_billed(cold, prices)
            cold_init = cold_billed - _mean_billed(cold, prices, start=False)
        else:
            cold_billed, cold_init = warm_billed, 0.0
        every = [s for group in modes.values() for s in group]
        lambda_runtime = next((s.extra["lambda_runtime"] for s in every
                               if s.extra.get("lambda_runtime")), None)
        image = image_gb
        if image is None and any(is_image(s) for s in every):
            image = (images_gb or {}).get(key.runtime)
        found.append(Measured(key, _mean([s.duration_ms for s in warm]), warm_billed,
                              cold_billed, max(cold_init, 0.0),
                              snapstart=any(s.extra.get("billed_restore_ms") is not None
                                            for s in cold),
                              lambda_runtime=lambda_runtime or _lambda_runtime(key.runtime),
                              image_gb=image))
    return found


def _mean_billed(samples: list[Sample], prices: Prices, start: bool = True) -> float:
    """The samples' mean billed ms as Lambda bills on the price table's date; ``start``
    False: as if their environments' start were free."""
    return _mean([phases.billed_ms(s.duration_ms, s.init_ms if start else None,
                                   s.extra.get("billed_restore_ms") if start else None,
                                   lambda_runtime=(s.extra.get("lambda_runtime")
                                                   or _lambda_runtime(s.runtime)),
                                   image=is_image(s), on=prices.as_of)
                  for s in samples])


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


# -- the model ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    requests_per_month: float
    duty_cycle: float = 1.0
    cold_fraction: float = COLD_FRACTION
    max_busy: float = MAX_BUSY
    provisioned: int = 0                      # environments of provisioned concurrency
    snapstart_hours: float = HOURS_PER_MONTH  # hours a month a SnapStart snapshot is cached

    @property
    def active_s(self) -> float:
        """Seconds of the month with traffic."""
        return self.duty_cycle * HOURS_PER_MONTH * 3600

    def check(self) -> None:
        if self.requests_per_month < 0:
            raise UsageError("--requests-per-month cannot be negative")
        if not 0 < self.duty_cycle <= 1:
            raise UsageError("--duty-cycle is the share of the month with traffic: 0 < D <= 1")
        if not 0 <= self.cold_fraction <= 1:
            raise UsageError("--cold-fraction is a share of requests: 0..1")
        if not 0 < self.max_busy <= 1:
            raise UsageError("--max-busy is a share of time: 0 < B <= 1")
        if self.provisioned < 0:
            raise UsageError("--provisioned is a number of environments: 0 or more")
        if not 0 < self.snapstart_hours <= HOURS_PER_MONTH:
            raise UsageError(f"--snapstart-hours is hours a month: more than 0, at most "
                             f"{HOURS_PER_MONTH}")


def lambda_per_request(m: Measured, arch: str, prices: Prices, cold_fraction: float) -> float:
    """An on-demand request's price at the first duration tier."""
    billed_ms = (1 - cold_fraction) * m.warm_billed_ms + cold_fraction * m.cold_billed_ms
    return prices.request + m.memory_mb / 1024 * billed_ms / 1000 * prices.gb_second[arch]


@dataclass(frozen=True)
class LambdaBill:
    """One configuration's month on Lambda, item by item (USD)."""

    requests: float = 0.0
    duration: float = 0.0                 # on-demand, in the monthly tiers
    init: float = 0.0                     # of it, for the INIT phase of cold starts
    provisioned: float = 0.0              # allocation of provisioned concurrency
    provisioned_duration: float = 0.0     # the invocations it served
    snapstart_cache: float = 0.0
    snapstart_restore: float = 0.0
    ecr: float = 0.0
    on_demand_gb_s: float = 0.0
    provisioned_requests: float = 0.0     # requests served by provisioned environments

    @property
    def total(self) -> float:
        return (self.requests + self.duration + self.provisioned + self.provisioned_duration
                + self.snapstart_cache + self.snapstart_restore + self.ecr)


def snapstart_charged(m: Measured) -> bool:
    """SnapStart's cache and restores are charged for this configuration."""
    return m.snapstart and (m.lambda_runtime or m.key.runtime).startswith(
        SNAPSTART_CHARGED_RUNTIMES)


def _needs(prices: Prices, what: str, value):
    if value is None or value == {}:
        raise UsageError(f"price table {prices.name} has no {what} prices: choose a newer "
                         "one with --prices")
    return value


def lambda_bill(m: Measured, arch: str, prices: Prices, workload: Workload,
                requests: float) -> LambdaBill:
    """What ``requests`` requests a month cost on Lambda, every charge included."""
    gb, f = m.memory_mb / 1024, workload.cold_fraction
    provisioned = 0 if m.snapstart else workload.provisioned   # Lambda allows not both
    served = 0.0
    allocation = provisioned_duration = 0.0
    if provisioned:
        rates = _needs(prices, "provisioned concurrency", prices.provisioned_concurrency)
        duration_rates = _needs(prices, "provisioned duration", prices.provisioned_gb_second)
        busy_s = m.warm_ms / 1000
        capacity = (provisioned * workload.active_s * workload.max_busy / busy_s
                    if busy_s > 0 else math.inf)
        served = min(requests, capacity)
        allocation = provisioned * gb * workload.active_s * rates[arch]
        provisioned_duration = served * m.warm_billed_ms / 1000 * gb * duration_rates[arch]
    on_demand = requests - served
    billed_ms = (1 - f) * m.warm_billed_ms + f * m.cold_billed_ms
    gb_s = on_demand * billed_ms / 1000 * gb
    duration = prices.duration_usd(gb_s, arch)
    init_gb_s = on_demand * f * m.cold_init_ms / 1000 * gb
    cache = restore = 0.0
    if snapstart_charged(m):
        cached_h = max(workload.snapstart_hours, SNAPSTART_CACHE_MINIMUM_H)
        cache = gb * cached_h * 3600 * _needs(prices, "SnapStart cache",
                                               prices.snapstart_cache_gb_second)
        restore = on_demand * f * gb * _needs(prices, "SnapStart restore",
                                              prices.snapstart_restore_gb)
    ecr = 0.0
    if m.image_gb:
        ecr = m.image_gb * _needs(prices, "ECR storage", prices.ecr_gb_month)
    return LambdaBill(requests=requests * prices.request, duration=duration,
                      init=duration * init_gb_s / gb_s if gb_s else 0.0,
                      provisioned=allocation, provisioned_duration=provisioned_duration,
                      snapstart_cache=cache, snapstart_restore=restore, ecr=ecr,
                      on_demand_gb_s=gb_s, provisioned_requests=served)


def requests_costing(monthly: float, lambda_monthly: Callable[[float], float]) -> float:
    """The load (requests a month) at which Lambda's month costs ``monthly``: 0 where its
    fixed charges alone cost that much. Lambda's cost grows with the load, piecewise
    linearly (tiers, provisioned capacity), so the root is bracketed and found."""
    from scipy.optimize import brentq

    if lambda_monthly(0) >= monthly:
        return 0.0
    high = 1e6
    while lambda_monthly(high) < monthly:
        high *= 4
    return float(brentq(lambda n: lambda_monthly(n) - monthly, 0, high, xtol=1e-6, rtol=1e-12))


def environments_per_host(vcpus: float, memory_gb: float, memory_mb: int) -> int:

    return math.floor(min(vcpus / lambda_vcpus(memory_mb), memory_gb / (memory_mb / 1024)) + 1e-9)


def fargate_task(memory_mb: int, prices: Prices, arch: str) -> tuple[float, float] | None:
    """The cheapest valid Fargate task (vCPU, GB) that holds one environment of this size."""
    fits = [(cpu, gb) for cpu, sizes in FARGATE_SIZES.items() for gb in sizes
            if environments_per_host(cpu, gb, memory_mb) >= 1]
    if not fits:
        return None
    return min(fits, key=lambda size: fargate_hourly(size, prices, arch))


def fargate_hourly(size: tuple[float, float], prices: Prices, arch: str) -> float:
    vcpus, memory_gb = size
    return vcpus * prices.fargate_vcpu_hour[arch] + memory_gb * prices.fargate_gb_hour[arch]


@dataclass
class Option:
    """One way to host the load other than Lambda."""

    kind: str                 # "fargate" or "vm"
    host: str                 # "0.25 vCPU / 0.5 GB" or "m6a.large (reserved-1yr-no-upfront)"
    hourly: float
    hours: float              # billed hours a month, per host
    environments: int         # per host
    hosts: int
    monthly: float
    crossover: float | None   # requests a month where it becomes as cheap as Lambda
    busy_at_crossover: float  # a host's busy share there (may exceed max_busy: no crossover)


def host_option(kind: str, host: str, hourly: float, hours: float, environments: int,
                m: Measured, workload: Workload,
                lambda_monthly: Callable[[float], float]) -> Option:
    """``lambda_monthly``: Lambda's month at a load (requests a month)."""
    active_s = workload.active_s
    busy_s = m.warm_ms / 1000
    capacity = environments * active_s * workload.max_busy / busy_s if busy_s > 0 else math.inf
    hosts = max(1, math.ceil(workload.requests_per_month / capacity))
    fixed = hourly * hours
    break_even = requests_costing(fixed, lambda_monthly)
    busy = break_even * busy_s / (environments * active_s)
    return Option(kind, host, hourly, hours, environments, hosts, hosts * fixed,
                  break_even if break_even <= capacity else None, busy)


@dataclass
class CostLine:
    measured: Measured
    arch: str
    per_request: float
    lambda_monthly: float
    lambda_init_monthly: float        # the part billed for init
    options: list[Option] = field(default_factory=list)
    bill: LambdaBill = field(default_factory=LambdaBill)

    def option(self, kind: str, purchase: str | None = None) -> Option | None:
        for o in self.options:
            if o.kind == kind and (purchase is None or purchase in o.host):
                return o
        return None


def rule_verdict(busy: float, max_busy: float) -> str:
    """How the rule of thumb "containers win above about 50 % busy" fares."""
    if busy > max_busy:
        return f"fails: Lambda is cheaper at any load up to {max_busy:.0%} busy"
    if abs(busy - RULE_BUSY) <= RULE_MARGIN:
        return f"holds: containers win from {busy:.0%} busy"
    if busy < RULE_BUSY:
        return f"fails: containers win from {busy:.0%} busy already"
    return f"fails: Lambda stays cheaper up to {busy:.0%} busy"


def costs(measurements: list[Measured], prices: Prices, workload: Workload,
          arches: tuple[str, ...] = ARCHES) -> list[CostLine]:
    """Monthly costs and crossovers of every configuration on every architecture."""
    workload.check()
    lines = []
    for m in measurements:
        for arch in arches:
            per_request = lambda_per_request(m, arch, prices, workload.cold_fraction)

            def monthly(requests: float, m=m, arch=arch) -> float:
                return lambda_bill(m, arch, prices, workload, requests).total

            bill = lambda_bill(m, arch, prices, workload, workload.requests_per_month)
            line = CostLine(m, arch, per_request, bill.total, bill.init, bill=bill)
            task = fargate_task(m.memory_mb, prices, arch)
            if task:
                cpu, task_gb = task
                hourly = fargate_hourly(task, prices, arch)
                line.options.append(host_option(
                    "fargate", f"{cpu:g} vCPU / {task_gb:g} GB", hourly,
                    workload.duty_cycle * HOURS_PER_MONTH,
                    environments_per_host(cpu, task_gb, m.memory_mb), m, workload, monthly))
            for purchase in sorted({vm.purchase for vm in prices.vms if vm.arch == arch}):
                candidates = [host_option("vm", f"{vm.name} ({purchase})", vm.hourly,
                                          HOURS_PER_MONTH, n, m, workload, monthly)
                              for vm in prices.vms if vm.arch == arch and vm.purchase == purchase
                              for n in [environments_per_host(vm.vcpus, vm.memory_gb, m.memory_mb)]
                              if n >= 1]
                if candidates:
                    line.options.append(min(candidates, key=lambda o: (o.monthly, o.hourly)))
            lines.append(line)
    return lines
