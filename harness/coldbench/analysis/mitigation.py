"""The guide's cold-start mitigations beside what each measurably does to one function: the
figures of `coldbench mitigate`'s rows, from its samples (``render.mitigation`` writes them).
Pure functions over what was measured (``Findings``); the guide's words come from
``data/mitigations.csv``.

Per strategy, at the reference memory size (the largest measured):

- provisioned concurrency: the cold start (Init Duration + Duration of the first invocation)
  against the first invocation of an environment whose init finished before the request
  (what provisioned concurrency buys), and what remains of it above a warm invocation;
- memory size: the cold start and the Lambda cost per million invocations at each size
  (``cost.lambda_per_request``, with ``cost.COLD_FRACTION`` of them cold);
- smaller deployment packages: the packages of the task root that no sampled init loaded,
  their size, and the cold start of a build without them against the original's;
- lighter runtimes: the built-in functions of other runtimes, measured alongside;
- SnapStart (``--target aws``; Java, Python): the cold start of the published version that
  restored a snapshot (Restore Duration + Duration) against the same function's without
  SnapStart, measured in the same deployment, and SnapStart's cache and restore charges
  (``cost.lambda_bill``);
- keep-warm pings (``--target aws``): what pings at ``--keep-warm`` cost a month per
  environment kept warm (``idle.pings_per_month``), and with ``--idle`` the measured chance
  of a cold start after each idle interval (``idle.after_idle``).

On ``--target aws`` the samples carry the architecture in their variant (``Findings.architecture``)
and the package analysis rests on profiles taken on this machine.

Strategies that do not apply to the target or runtime get a ``NotApplicable`` row.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

from coldbench import calibration
from coldbench.analysis import cost, idle, reference
from coldbench.analysis.idle import AfterIdle
from coldbench.analysis.stats import Summary, summarize
from coldbench.analysis.summary import summarize_samples
from coldbench.errors import UsageError
from coldbench.model import DEFAULT_ARCHITECTURE, Variant
from coldbench.prices import Prices
from coldbench.results.schema import Sample
from coldbench.runtimes import RUNTIMES
from coldbench.workflows.mitigate import (BESIDE_SNAPSTART, DEFAULT_KEEP_WARM_S, TRIMMED,
                                         Findings, Package)

__all__ = ["BESIDE_SNAPSTART", "TRIMMED", "Findings", "Package", "Row", "Strategy", "guide",
           "guide_source", "rows"]

ARCH = DEFAULT_ARCHITECTURE


@dataclass(frozen=True)
class Strategy:
    key: str
    name: str
    in_guide: bool
    guide_says: str
    runtimes: tuple[str, ...] | None      # None: every runtime
    targets: tuple[str, ...]


@cache
def _guide_lines() -> list[str]:
    """The lines of ``data/mitigations.csv``: its source in comments, then its rows."""
    return resources.files("coldbench.data").joinpath("mitigations.csv").read_text().splitlines()


@cache
def guide() -> list[Strategy]:
    """The strategies of ``data/mitigations.csv``, in its order."""
    rows = csv.DictReader(line for line in _guide_lines() if not line.startswith("#"))
    return [Strategy(r["strategy"], r["name"], r["in_guide"] == "yes", r["guide_says"],
                     None if r["runtimes"] == "all" else tuple(r["runtimes"].split()),
                     tuple(r["targets"].split())) for r in rows]


def guide_source() -> list[str]:
    return [line.lstrip("# ") for line in _guide_lines() if line.startswith("#")]


def _figure(summary: Summary | None) -> dict | None:
    if summary is None:
        return None
    return {"p50_ms": round(summary.p50, 3), "n": summary.n,
            "ci_low_ms": summary.ci_low, "ci_high_ms": summary.ci_high}


# -- the row kinds: each holds its numbers and the samples they come from -----------------

@dataclass
class NotApplicable:
    """A strategy this target or runtime cannot take, or coldbench does not measure."""

    strategy: Strategy
    reasons: list[str]
    target: str
    applies = False
    samples: list[Sample] = field(default_factory=list)

    def figures(self) -> dict:
        return {}


@dataclass
class Provisioned:
    strategy: Strategy
    memory_mb: int
    cold: Summary | None
    warm: Summary | None
    provisioned: Summary | None
    samples: list[Sample]
    applies = True

    @property
    def removed_ms(self) -> float | None:
        if self.cold is None or self.provisioned is None:
            return None
        return self.cold.p50 - self.provisioned.p50

    @property
    def remains_ms(self) -> float | None:
        if self.removed_ms is None or self.warm is None:
            return None
        return self.provisioned.p50 - self.warm.p50

    def figures(self) -> dict:
        figures = {"memory_mb": self.memory_mb, "cold_start": _figure(self.cold),
                   "warm": _figure(self.warm), "provisioned": _figure(self.provisioned)}
        if self.removed_ms is not None:
            figures["removed_ms"] = round(self.removed_ms, 3)
        if self.remains_ms is not None:
            figures["remains_ms"] = round(self.remains_ms, 3)
        return figures


@dataclass
class Size:
    memory_mb: int
    cold: Summary | None
    usd_per_million: float | None          # None: no warm sample to price


@dataclass
class Memory:
    strategy: Strategy
    sizes: list[Size]
    arch: str
    prices: str
    samples: list[Sample]
    applies = True

    def figures(self) -> dict:
        return {"cold_fraction": cost.COLD_FRACTION, "arch": self.arch, "prices": self.prices,
                "sizes": [{"memory_mb": s.memory_mb, "cold_start": _figure(s.cold),
                           "usd_per_million": None if s.usd_per_million is None
                           else round(s.usd_per_million, 4)} for s in self.sizes]}


@dataclass
class Delivery:
    """What Lambda's code delivery makes of the smaller package (``calibration``, "code
    delivery, per package type"): a .zip is fetched whole before init, so the bytes init
    never read cost no Init Duration; what init reads is priced per MB."""

    unused_bytes: int
    change_ms: float
    ms_per_mb: float


def delivery(unused_bytes: int, read_before_mb: float, read_after_mb: float) -> Delivery:
    model = calibration.load_anchored()
    change = calibration.package_init_change_ms(
        model, read_before_mb, read_after_mb, unread_mb_before=unused_bytes / 1e6)
    return Delivery(unused_bytes, change, model.ms_per_mb)


@dataclass
class PackageRow:
    """Smaller deployment packages: what no profiled init loaded, and a build without it."""

    strategy: Strategy
    target: str
    packages: list[Package]
    unused: list[Package]
    task_root_bytes: int | None
    profiled: int
    note: str | None = None                # why the analysis is not available
    memory_mb: int | None = None
    before: Summary | None = None
    after: Summary | None = None
    after_cold_starts: int = 0
    failed: list[str] = field(default_factory=list)   # error types of the trimmed build
    read_before_mb: Summary | None = None
    read_after_mb: Summary | None = None
    delivery: Delivery | None = None
    samples: list[Sample] = field(default_factory=list)

    @property
    def applies(self) -> bool:
        return self.note is None

    @property
    def unused_bytes(self) -> int:
        return sum(p.size_bytes for p in self.unused)

    def figures(self) -> dict:
        figures = {"packages": [p.to_dict() for p in self.packages],
                   "unused": [p.name for p in self.unused],
                   "task_root_bytes": self.task_root_bytes, "profiled_cold_starts": self.profiled}
        if self.note is not None or not self.unused:
            return figures
        figures |= {"unused_bytes": self.unused_bytes, "memory_mb": self.memory_mb,
                    "cold_start_before": _figure(self.before),
                    "cold_start_trimmed": _figure(self.after)}
        if self.read_before_mb is not None and self.read_after_mb is not None:
            figures |= {"init_read_mb_before": round(self.read_before_mb.p50, 3),
                        "init_read_mb_trimmed": round(self.read_after_mb.p50, 3)}
        if self.delivery is not None:
            figures["predicted_aws_init_change_ms"] = round(self.delivery.change_ms, 1)
        return figures


@dataclass
class BuiltIn:
    """Another runtime's built-in function, measured beside, and the guide's range for it."""

    name: str
    not_measured: str | None
    cold: Summary | None = None
    documented: reference.Documented | None = None


@dataclass
class RuntimeRow:
    strategy: Strategy
    runtime: str
    memory_mb: int
    own: Summary | None
    built_in: list[BuiltIn]
    samples: list[Sample]
    applies = True

    def figures(self) -> dict:
        return {"memory_mb": self.memory_mb, "this_function": _figure(self.own),
                "built_in": {b.name: {"not_measured": b.not_measured} if b.not_measured
                             is not None else _figure(b.cold) for b in self.built_in}}


@dataclass
class SnapStartCharges:
    """SnapStart's charges for the configuration, from the price table (``lambda_bill``):
    not priced (and why), not charged for this Lambda runtime, or the month's cache and the
    restores of a million invocations."""

    not_priced: str | None = None
    lambda_runtime: str | None = None
    charged: bool = True
    cache_usd: float | None = None
    restore_usd: float | None = None


@dataclass
class SnapStartRow:
    strategy: Strategy
    runtime: str
    memory_mb: int
    without: Summary | None
    with_: Summary | None
    cold_samples: int                      # cold samples of the SnapStart version
    valid: int                             # of them valid
    restored: int                          # of them restored a snapshot
    charges: SnapStartCharges
    prices: str
    samples: list[Sample]
    applies = True

    @property
    def change_ms(self) -> float | None:
        if not self.restored or self.with_ is None or self.without is None:
            return None
        return self.with_.p50 - self.without.p50

    def figures(self) -> dict:
        figures = {"memory_mb": self.memory_mb, "cold_start_without": _figure(self.without),
                   "cold_start_with": _figure(self.with_), "cold_samples": self.cold_samples,
                   "restored": self.restored}
        if self.change_ms is not None:
            figures["change_ms"] = round(self.change_ms, 3)
        return figures


@dataclass
class KeepWarm:
    strategy: Strategy
    interval_s: float
    memory_mb: int
    pings_per_month: float
    usd_per_month: float
    warm: Summary | None
    prices: str
    after_idle: list[AfterIdle] | None     # None: --idle not given
    samples: list[Sample]
    applies = True

    def figures(self) -> dict:
        figures = {"interval_s": self.interval_s, "memory_mb": self.memory_mb,
                   "pings_per_month": self.pings_per_month,
                   "usd_per_month": round(self.usd_per_month, 6), "warm": _figure(self.warm),
                   "prices": self.prices}
        if self.after_idle is not None:
            figures["after_idle"] = [{"idle_s": r.idle_s, "cold": r.cold, "n": r.n,
                                      "probability": r.probability} for r in self.after_idle]
        return figures


Row = NotApplicable | Provisioned | Memory | PackageRow | RuntimeRow | SnapStartRow | KeepWarm


# -- figures -------------------------------------------------------------------------------

def _of(samples: list[Sample], runtime: str, function: str, memory_mb: int,
        variant: Variant = Variant(), mode: str | None = None) -> list[Sample]:
    return [s for s in samples if s.runtime == runtime and s.function == function
            and s.memory_mb == memory_mb and s.variant == variant
            and (mode is None or s.mode == mode)]


def _summary(samples: list[Sample]) -> Summary | None:
    return summarize([s.figure for s in samples if s.valid])


def _read_mb(samples: list[Sample]) -> Summary | None:
    """What init read of the function's code, per cold start (``--delivery lambda``)."""
    return summarize([s.extra.get("init_read_mb") for s in samples if s.valid])


def _not_here(strategy: Strategy, findings: Findings) -> list[str] | None:
    """Why the strategy does not apply to this target or runtime; None when it does."""
    reasons = []
    if findings.target not in strategy.targets:
        reasons.append(f"applies to --target {' or '.join(strategy.targets)} only")
    if strategy.runtimes is not None and findings.runtime not in strategy.runtimes:
        reasons.append(f"not available for {findings.runtime} (only "
                       f"{', '.join(strategy.runtimes)})")
    return reasons or None


def provisioned(strategy: Strategy, f: Findings) -> Provisioned:
    taken = _of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of())
    cold, warm, prov = (_summary([s for s in taken if s.mode == mode])
                        for mode in ("cold", "warm", "provisioned"))
    return Provisioned(strategy, f.reference_mb, cold, warm, prov, taken)


def memory(strategy: Strategy, f: Findings, prices: Prices) -> Memory:
    taken = [s for m in f.memory for s in _of(f.samples, f.runtime, f.function, m, f.variant_of())]
    per_million = {m.memory_mb: 1e6 * cost.lambda_per_request(m, f.architecture or ARCH, prices,
                                                              cost.COLD_FRACTION)
                   for m in cost.measured(taken, prices)}
    sizes = [Size(memory_mb,
                  _summary(_of(taken, f.runtime, f.function, memory_mb, f.variant_of(), "cold")),
                  per_million.get(memory_mb)) for memory_mb in f.memory]
    return Memory(strategy, sizes, f.architecture or ARCH, prices.name, taken)


def package(strategy: Strategy, f: Findings) -> PackageRow:
    row = PackageRow(strategy, f.target, f.packages, f.unused, f.task_root_bytes, f.profiled,
                     note=f.package_note)
    if f.package_note is not None:
        return row
    before_samples = _of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of(), "cold")
    row.samples = before_samples
    if not f.unused:
        return row
    after_samples = _of(f.samples, f.runtime, f.function, f.reference_mb,
                        f.variant_of(TRIMMED), "cold")
    row.memory_mb = f.reference_mb
    row.before, row.after = _summary(before_samples), _summary(after_samples)
    row.after_cold_starts = len(after_samples)
    row.failed = [str(s.error.get("type")) for s in after_samples if s.error]
    row.read_before_mb, row.read_after_mb = _read_mb(before_samples), _read_mb(after_samples)
    if row.read_before_mb is not None and row.read_after_mb is not None:
        row.delivery = delivery(row.unused_bytes, row.read_before_mb.p50, row.read_after_mb.p50)
    row.samples = before_samples + after_samples
    return row


def runtime(strategy: Strategy, f: Findings) -> RuntimeRow:
    own = _summary(_of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of(), "cold"))
    built_in, taken = [], []
    documented = reference.documented()
    for name, why_not in f.compared.items():
        if why_not is not None:
            built_in.append(BuiltIn(name, why_not))
            continue
        samples = _of(f.samples, name, "coldbench", f.reference_mb, f.variant_of(), "cold")
        taken += samples
        row = documented.get(RUNTIMES[name].documented_as) if name in RUNTIMES else None
        built_in.append(BuiltIn(name, None, _summary(samples), row))
    return RuntimeRow(strategy, f.runtime, f.reference_mb, own, built_in, taken)


def snapstart_charges(samples: list[Sample], prices: Prices) -> SnapStartCharges:
    """SnapStart's charges for the configuration, from the price table (``lambda_bill``)."""
    found = cost.measured([s for s in samples if s.valid], prices)
    if not found:
        return SnapStartCharges(not_priced="no valid warm sample of the SnapStart version")
    m = replace(found[0], snapstart=True)
    if not cost.snapstart_charged(m):
        return SnapStartCharges(lambda_runtime=m.lambda_runtime, charged=False)
    try:
        bill = cost.lambda_bill(m, m.key.variant.architecture or ARCH, prices,
                                cost.Workload(requests_per_month=1e6), 1e6)
    except UsageError as exc:
        return SnapStartCharges(not_priced=str(exc))
    return SnapStartCharges(lambda_runtime=m.lambda_runtime, cache_usd=bill.snapstart_cache,
                            restore_usd=bill.snapstart_restore)


def snapstart(strategy: Strategy, f: Findings, prices: Prices) -> SnapStartRow:
    """With SnapStart against without, measured side by side at the reference size."""
    snap = _of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of(snapstart=True))
    plain = _of(f.samples, f.runtime, f.function, f.reference_mb,
                f.variant_of(BESIDE_SNAPSTART))
    cold_snap = [s for s in snap if s.mode == "cold"]
    restored = [s for s in cold_snap if s.valid and s.extra.get("restore_ms") is not None]
    return SnapStartRow(strategy, f.runtime, f.reference_mb,
                        without=_summary([s for s in plain if s.mode == "cold"]),
                        with_=_summary(restored), cold_samples=len(cold_snap),
                        valid=sum(1 for s in cold_snap if s.valid), restored=len(restored),
                        charges=snapstart_charges(snap, prices), prices=prices.name,
                        samples=snap + plain)


def keep_warm(strategy: Strategy, f: Findings, prices: Prices) -> KeepWarm:
    """What pings at the keep-warm interval cost; with --idle, how often a call after idle
    time found no environment (``analysis.idle``)."""
    every = f.keep_warm_s or DEFAULT_KEEP_WARM_S
    warm = _summary(_of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of(), "warm"))
    pings, monthly = idle.pings_per_month(every, None if warm is None else warm.p50,
                                          f.reference_mb, f.architecture, prices)
    taken, results = [], None
    if f.idle:
        taken = [s for s in f.samples if s.runtime == f.runtime and s.function == f.function
                 and s.extra.get("idle_s") is not None]
        results = idle.after_idle(summarize_samples(taken))
    return KeepWarm(strategy, every, f.reference_mb, pings, monthly, warm, prices.name,
                    results, taken)


MEASURED = {"provisioned": lambda s, f, p: provisioned(s, f),
            "memory": memory,
            "package": lambda s, f, p: package(s, f),
            "runtime": lambda s, f, p: runtime(s, f),
            "snapstart": snapstart,
            "keep_warm": keep_warm}


def rows(f: Findings, prices: Prices) -> list[Row]:
    """One row per strategy of the guide, in its order."""
    found = []
    for strategy in guide():
        reasons = _not_here(strategy, f)
        if reasons is not None:
            found.append(NotApplicable(strategy, reasons, f.target))
        elif strategy.key in MEASURED:
            found.append(MEASURED[strategy.key](strategy, f, prices))
        else:
            found.append(NotApplicable(strategy, [], f.target))
    return found
