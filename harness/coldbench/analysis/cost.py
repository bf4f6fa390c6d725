"""Monthly cost of each measured configuration on Lambda against a container service
(Fargate) and a VM (EC2) sized for the same load, and the load at which they cross over.
Prices come from a dated table in ``data/prices-*.csv``; durations from the run's samples.

The model, for one configuration (memory size M MB) and one CPU architecture:

- Lambda, per request: the request price, plus M/1024 GB x billed seconds x the GB-second
  price. Billed ms = (1 - f) x warm + f x cold, where warm is the mean billed Duration of
  the warm samples, cold the mean of ceil(Init Duration + Duration) of the cold samples and
  f the share of requests that start cold (``--cold-fraction``, 1 % by default: "INITs
  (cold starts) typically occur in under 1% of invocations", AWS Compute Blog, "AWS Lambda
  standardizes billing for INIT Phase", 2025). Since 2025-08-01 Lambda bills the INIT phase
  of every function; before, only functions on OS-only runtimes (Go and Rust here) had it
  billed, so an older price table leaves init out for the others. Means, not medians: a
  bill is a sum, and the mean is what sums.
- Environments: a container or VM serves the load with environments of Lambda's size,
  M/1769 vCPU (Lambda gives 1 vCPU at 1,769 MB) and M/1024 GB each, one request at a time,
  each request keeping one busy for its mean measured Duration (warm). A host (a Fargate
  task of the smallest valid size that fits one environment, or a VM) holds as many as its
  vCPUs and memory allow. Hosts are added so none is busier than ``max_busy`` (80 %).
- Duty cycle D: the share of the month in which the requests arrive. Fargate tasks run only
  then (scheduled scaling to zero); a VM, reserved or not, is paid the whole month.
- A month is 730 hours, as AWS's price pages count it.
- Crossover: Lambda's cost grows in proportion to the load, a host's is fixed, so the two
  first meet at N* = host cost per month / Lambda cost per request, if one host can serve
  N* requests at ``max_busy``; otherwise Lambda stays cheaper at any load. The host's busy
  share at N* (busy seconds / available environment-seconds) is what the rule of thumb
  "containers win above about 50% busy at steady load" speaks of: it "holds" here when that
  share is within 15 points of 50 %.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

from coldbench.environments.cgroups import lambda_vcpus
from coldbench.errors import UsageError
from coldbench.results.schema import Sample

HOURS_PER_MONTH = 730
INIT_BILLED_FROM = date(2025, 8, 1)     # AWS Compute Blog: INIT billed for all functions
OS_ONLY_RUNTIMES = {"go", "rust"}       # provided.al2023: INIT billed before that date too
COLD_FRACTION = 0.01
MAX_BUSY = 0.80
RULE_BUSY, RULE_MARGIN = 0.50, 0.15     # "containers win above about 50 % busy"
ARCHES = ("x86_64", "arm64")

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


# -- prices ------------------------------------------------------------------------------

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
    request: float                      # per request
    gb_second: dict[str, float]         # arch -> per GB-second
    fargate_vcpu_hour: dict[str, float]
    fargate_gb_hour: dict[str, float]
    vms: tuple[Vm, ...]

    def init_billed(self, runtime: str) -> bool:
        return self.as_of >= INIT_BILLED_FROM or runtime in OS_ONLY_RUNTIMES


def price_tables() -> dict[date, str]:
    """The dated price tables shipped in data/, by date."""
    found = {}
    for entry in resources.files("coldbench.data").iterdir():
        match = re.fullmatch(r"prices-(\d{4})-(\d{2})\.csv", entry.name)
        if match:
            found[date(int(match.group(1)), int(match.group(2)), 1)] = entry.name
    return dict(sorted(found.items()))


def load_prices(which: str | Path | None = None) -> Prices:
    """A price table: the newest shipped one, a shipped one by date (2026-11) or a file."""
    tables = price_tables()
    if which is None:
        as_of, name = list(tables.items())[-1]
        text = resources.files("coldbench.data").joinpath(name).read_text()
    elif re.fullmatch(r"\d{4}-\d{2}", str(which)):
        as_of = date(int(str(which)[:4]), int(str(which)[5:]), 1)
        if as_of not in tables:
            raise UsageError(f"no price table for {which}: choose from "
                             f"{', '.join(f'{d:%Y-%m}' for d in tables)} or give a CSV file")
        name = tables[as_of]
        text = resources.files("coldbench.data").joinpath(name).read_text()
    else:
        path = Path(which)
        match = re.search(r"(\d{4})-(\d{2})", path.name)
        if not path.is_file() or not match:
            raise UsageError(f"{which}: not a price table file named like prices-YYYY-MM.csv")
        as_of = date(int(match.group(1)), int(match.group(2)), 1)
        name, text = path.name, path.read_text()
    return parse_prices(text, as_of, name)


def parse_prices(text: str, as_of: date, name: str = "prices") -> Prices:
    rows = list(csv.DictReader(line for line in text.splitlines()
                               if line.strip() and not line.startswith("#")))
    try:
        def one(service: str, item: str, arch: str) -> float:
            return next(float(r["usd"]) for r in rows if r["service"] == service
                        and r["item"] == item and r["arch"] == arch)

        return Prices(
            as_of=as_of, name=name,
            request=one("lambda", "requests", "any") / 1e6,
            gb_second={a: one("lambda", "duration", a) for a in ARCHES},
            fargate_vcpu_hour={a: one("fargate", "vcpu", a) for a in ARCHES},
            fargate_gb_hour={a: one("fargate", "memory", a) for a in ARCHES},
            vms=tuple(Vm(r["item"], r["purchase"], r["arch"], float(r["usd"]), float(r["vcpus"]),
                         float(r["memory_gb"])) for r in rows if r["service"] == "vm"))
    except (StopIteration, KeyError, ValueError) as exc:
        raise UsageError(f"price table {name} is incomplete or malformed ({exc!r}): it needs "
                         "lambda requests and duration, fargate vcpu and memory for "
                         f"{' and '.join(ARCHES)}") from None


# -- what was measured -------------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    """The figures of one configuration that the bill depends on (ms, means)."""

    function: str
    runtime: str
    memory_mb: int
    warm_ms: float            # mean Duration of warm invocations: the busy time per request
    warm_billed_ms: float     # mean billed Duration of warm invocations
    cold_billed_ms: float     # mean billed ms of a cold invocation under the price table's rules
    cold_init_ms: float       # of which billed for init (0 where init was not billed)
    variant: str | None = None   # the samples' "variant" (e.g. "arm64" on AWS)

    @property
    def label(self) -> str:
        name = self.runtime if self.function == "coldbench" else f"{self.function} ({self.runtime})"
        return name if self.variant is None else f"{name} {self.variant}"


def measured(samples: list[Sample], prices: Prices) -> list[Measured]:
    """Per configuration with valid warm samples; cold ones fall back to warm figures."""
    groups: dict[tuple, dict[str, list[Sample]]] = {}
    for s in samples:
        if s.valid and s.duration_ms is not None:
            config = groups.setdefault(
                (s.function, s.runtime, s.memory_mb, s.extra.get("variant")), {})
            config.setdefault(s.mode, []).append(s)
    found = []
    for (function, runtime, memory_mb, variant), modes in groups.items():
        warm = modes.get("warm")
        if not warm:
            continue
        mean = lambda values: sum(values) / len(values)   # noqa: E731
        warm_ms = mean([s.duration_ms for s in warm])
        warm_billed = mean([s.billed_ms if s.billed_ms is not None else math.ceil(s.duration_ms)
                            for s in warm])
        cold = modes.get("cold") or []
        if cold:
            with_init = prices.init_billed(runtime)
            billed = [math.ceil((s.init_ms or 0.0) * with_init + s.duration_ms) for s in cold]
            cold_billed = mean(billed)
            cold_init = cold_billed - mean([math.ceil(s.duration_ms) for s in cold])
        else:
            cold_billed, cold_init = warm_billed, 0.0
        found.append(Measured(function, runtime, memory_mb, warm_ms, warm_billed,
                              cold_billed, max(cold_init, 0.0), variant))
    return found


# -- the model ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    requests_per_month: float
    duty_cycle: float = 1.0
    cold_fraction: float = COLD_FRACTION
    max_busy: float = MAX_BUSY

    def check(self) -> None:
        if self.requests_per_month < 0:
            raise UsageError("--requests-per-month cannot be negative")
        if not 0 < self.duty_cycle <= 1:
            raise UsageError("--duty-cycle is the share of the month with traffic: 0 < D <= 1")
        if not 0 <= self.cold_fraction <= 1:
            raise UsageError("--cold-fraction is a share of requests: 0..1")
        if not 0 < self.max_busy <= 1:
            raise UsageError("--max-busy is a share of time: 0 < B <= 1")


def lambda_per_request(m: Measured, arch: str, prices: Prices, cold_fraction: float) -> float:
    billed_ms = (1 - cold_fraction) * m.warm_billed_ms + cold_fraction * m.cold_billed_ms
    return prices.request + m.memory_mb / 1024 * billed_ms / 1000 * prices.gb_second[arch]


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
                m: Measured, workload: Workload, per_request: float) -> Option:
    active_s = workload.duty_cycle * HOURS_PER_MONTH * 3600
    busy_s = m.warm_ms / 1000
    capacity = environments * active_s * workload.max_busy / busy_s if busy_s > 0 else math.inf
    hosts = max(1, math.ceil(workload.requests_per_month / capacity))
    fixed = hourly * hours
    break_even = fixed / per_request
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
            gb = m.memory_mb / 1024
            init_share = (workload.cold_fraction * m.cold_init_ms / 1000 * gb
                          * prices.gb_second[arch])
            line = CostLine(m, arch, per_request, per_request * workload.requests_per_month,
                            init_share * workload.requests_per_month)
            task = fargate_task(m.memory_mb, prices, arch)
            if task:
                cpu, task_gb = task
                hourly = fargate_hourly(task, prices, arch)
                line.options.append(host_option(
                    "fargate", f"{cpu:g} vCPU / {task_gb:g} GB", hourly,
                    workload.duty_cycle * HOURS_PER_MONTH,
                    environments_per_host(cpu, task_gb, m.memory_mb), m, workload, per_request))
            for purchase in sorted({vm.purchase for vm in prices.vms if vm.arch == arch}):
                candidates = [host_option("vm", f"{vm.name} ({purchase})", vm.hourly,
                                          HOURS_PER_MONTH, n, m, workload, per_request)
                              for vm in prices.vms if vm.arch == arch and vm.purchase == purchase
                              for n in [environments_per_host(vm.vcpus, vm.memory_gb, m.memory_mb)]
                              if n >= 1]
                if candidates:
                    line.options.append(min(candidates, key=lambda o: (o.monthly, o.hourly)))
            lines.append(line)
    return lines


# -- rendering ---------------------------------------------------------------------------

FORMATS = ("table", "markdown", "json")


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.3g}"


def count(value: float | None) -> str:
    """A request count: 950, 12.5k, 3.4M, 1.2B."""
    if value is None:
        return "never"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _hosting(o: Option | None) -> str:
    if o is None:
        return "-"
    return f"{usd(o.monthly)} ({o.hosts} x {o.host.split(' (')[0]})"


def _crossover(o: Option | None) -> str:
    if o is None:
        return "-"
    if o.crossover is None:
        return f"never (needs {o.busy_at_crossover:.0%} busy)"
    return f"{count(o.crossover)} ({o.busy_at_crossover:.0%} busy)"


def _order(lines: list[CostLine]) -> list[CostLine]:
    from coldbench.runtimes import RUNTIMES

    order = {name: i for i, name in enumerate(RUNTIMES)}
    return sorted(lines, key=lambda l: (order.get(l.measured.runtime, 99), l.measured.function,
                                        l.measured.memory_mb, ARCHES.index(l.arch)))


def rule_summary(lines: list[CostLine], workload: Workload) -> str:
    fargate = [(l, l.option("fargate")) for l in lines if l.option("fargate")]
    holds = [l for l, o in fargate
             if rule_verdict(o.busy_at_crossover, workload.max_busy).startswith("holds")]
    if not fargate:
        return "No configuration could be compared with a container."
    busy = sorted(o.busy_at_crossover for _, o in fargate)
    return (f"Rule of thumb \"containers win above about 50% busy at steady load\": holds for "
            f"{len(holds)} of {len(fargate)} configurations (break-even busy share on Fargate "
            f"from {busy[0]:.0%} to {busy[-1]:.0%}).")


def render(lines: list[CostLine], prices: Prices, workload: Workload, fmt: str = "table") -> str:
    from tabulate import tabulate

    lines = _order(lines)
    if fmt == "json":
        import json
        from dataclasses import asdict

        return json.dumps({
            "prices": prices.name, "prices_as_of": prices.as_of.isoformat(),
            "workload": asdict(workload),
            "configurations": [
                {**asdict(l.measured), "arch": l.arch, "lambda_per_request": l.per_request,
                 "lambda_monthly": l.lambda_monthly, "lambda_init_monthly": l.lambda_init_monthly,
                 "options": [asdict(o) | {"rule": rule_verdict(o.busy_at_crossover,
                                                               workload.max_busy)}
                             for o in l.options]}
                for l in lines]}, indent=1) + "\n"
    tablefmt = "github" if fmt == "markdown" else "simple"
    monthly = [[l.measured.label, f"{l.measured.memory_mb} MB", l.arch,
                f"{l.measured.warm_billed_ms:.1f} / {l.measured.cold_billed_ms:.0f}",
                f"{usd(l.lambda_monthly)} ({usd(l.lambda_init_monthly)})",
                _hosting(l.option("fargate")), _hosting(l.option("vm", "on-demand")),
                _hosting(l.option("vm", "reserved"))] for l in lines]
    crossing = [[l.measured.label, f"{l.measured.memory_mb} MB", l.arch,
                 usd(l.per_request * 1e6), _crossover(l.option("fargate")),
                 _crossover(l.option("vm", "on-demand")), _crossover(l.option("vm", "reserved")),
                 rule_verdict(l.option("fargate").busy_at_crossover, workload.max_busy)
                 if l.option("fargate") else "-"] for l in lines]
    first = tabulate(monthly, headers=[
        "Runtime", "Memory", "Arch", "Billed ms warm / cold", "Lambda (of it init)",
        "Fargate", "VM on-demand", "VM reserved 1 yr"], tablefmt=tablefmt, disable_numparse=True)
    second = tabulate(crossing, headers=[
        "Runtime", "Memory", "Arch", "Lambda per 1M", "Fargate cheaper from",
        "VM on-demand from", "VM reserved from", "50%-busy rule (Fargate)"],
        tablefmt=tablefmt, disable_numparse=True)
    heading = (f"Monthly cost at {count(workload.requests_per_month)} requests a month, "
               f"duty cycle {workload.duty_cycle:.0%}, {workload.cold_fraction:.1%} cold "
               f"starts, hosts at most {workload.max_busy:.0%} busy")
    note = (f"Prices: {prices.name} (USD, us-east-1). Requests per month at which each "
            "alternative becomes as cheap as Lambda, and a host's busy share there. Durations "
            "were measured on this run's target; arm64 reuses them with arm64 prices. "
            f"INIT phase billed as from {INIT_BILLED_FROM:%Y-%m-%d}"
            f"{'' if prices.as_of >= INIT_BILLED_FROM else ' (not yet, for this price table)'}.")
    if fmt == "markdown":
        return (f"**{heading}**\n\n{first}\n\n**Crossover**\n\n{second}\n\n{note}\n\n"
                f"{rule_summary(lines, workload)}\n")
    return (f"{heading}\n\n{first}\n\nCrossover\n\n{second}\n\n{note}\n"
            f"{rule_summary(lines, workload)}\n")
