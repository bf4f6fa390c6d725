"""The guide's cold-start mitigations beside what each measurably does to one function: the
rows of `coldbench mitigate`, from its samples. Pure functions over what was measured
(``Findings``); the guide's words come from ``data/mitigations.csv``.

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

Strategies that do not apply to the target or runtime say so in their row.
"""

from __future__ import annotations

import csv
import textwrap
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

from tabulate import tabulate

from coldbench import calibration
from coldbench.analysis import cost, idle, reference
from coldbench.analysis.stats import Summary, summarize
from coldbench.analysis.summary import summarize_samples
from coldbench.errors import UsageError
from coldbench.model import Variant, interval_text
from coldbench.prices import Prices, usd
from coldbench.render.table import ms
from coldbench.results.schema import Sample
from coldbench.runtimes import RUNTIMES
from coldbench.workflows.mitigate import BESIDE_SNAPSTART, TRIMMED, Findings, Package

__all__ = ["BESIDE_SNAPSTART", "TRIMMED", "Findings", "Package", "Row", "Strategy", "document",
           "guide", "render", "rows"]

SCHEMA = "coldbench-mitigate"
# 1: first version.
# 2: --target aws: "region", "architecture", "keep_warm_s", "idle_s", "cost_bound_usd" (None
#    on local); the snapstart and keep_warm rows measured there.
VERSION = 2
NOT_PROOF = "not loaded by these events is not proof of unused"
LOCAL_PROFILE = ("which packages init loads comes from profiled cold starts on this machine "
                 "(profiling needs the local target); the build without them was measured "
                 "on AWS")
NO_RESTORE = ("the SnapStart samples had no Restore Duration: no cold start restored a "
              "snapshot, so they do not show what SnapStart does")
ARCH = "x86_64"


@dataclass(frozen=True)
class Strategy:
    key: str
    name: str
    in_guide: bool
    guide_says: str
    runtimes: tuple[str, ...] | None      # None: every runtime
    targets: tuple[str, ...]

    def guide_text(self) -> str:
        if self.guide_says:
            return self.guide_says
        if not self.in_guide:
            return "(not a row of the guide's table)"
        return "(the guide's words for this row are not in coldbench's reference data)"


@cache
def guide() -> list[Strategy]:
    """The strategies of ``data/mitigations.csv``, in its order."""
    text = resources.files("coldbench.data").joinpath("mitigations.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return [Strategy(r["strategy"], r["name"], r["in_guide"] == "yes", r["guide_says"],
                     None if r["runtimes"] == "all" else tuple(r["runtimes"].split()),
                     tuple(r["targets"].split())) for r in rows]


def guide_source() -> list[str]:
    text = resources.files("coldbench.data").joinpath("mitigations.csv").read_text()
    return [line.lstrip("# ") for line in text.splitlines() if line.startswith("#")]


@dataclass
class Row:
    strategy: Strategy
    applies: bool
    lines: list[str]
    figures: dict = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"strategy": self.strategy.key, "name": self.strategy.name,
                "guide_says": self.strategy.guide_says or None, "in_guide": self.strategy.in_guide,
                "applies": self.applies, "measured": self.lines, "figures": self.figures,
                "samples": [s.to_json() for s in self.samples]}


# -- figures -------------------------------------------------------------------------------

def _of(samples: list[Sample], runtime: str, function: str, memory_mb: int,
        variant: Variant = Variant(), mode: str | None = None) -> list[Sample]:
    return [s for s in samples if s.runtime == runtime and s.function == function
            and s.memory_mb == memory_mb and s.variant == variant
            and (mode is None or s.mode == mode)]


def _summary(samples: list[Sample]) -> Summary | None:
    return summarize([s.figure for s in samples if s.valid])


def _figure(summary: Summary | None) -> dict | None:
    if summary is None:
        return None
    return {"p50_ms": round(summary.p50, 3), "n": summary.n,
            "ci_low_ms": summary.ci_low, "ci_high_ms": summary.ci_high}


def _p50(summary: Summary | None) -> str:
    """p50 with n, and the median's 95% interval where n allows one."""
    if summary is None:
        return "-"
    interval = ("" if summary.ci_low is None
                else f"; 95% CI {ms(summary.ci_low)}-{ms(summary.ci_high)}")
    return f"{ms(summary.p50)} ms (n {summary.n}{interval})"


def _read_mb(samples: list[Sample]) -> Summary | None:
    """What init read of the function's code, per cold start (``--delivery lambda``)."""
    return summarize([s.extra.get("init_read_mb") for s in samples if s.valid])


def _mb(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:.1f} MB"


def _not_here(strategy: Strategy, findings: Findings) -> list[str] | None:
    """Why the strategy does not apply to this target or runtime; None when it does."""
    reasons = []
    if findings.target not in strategy.targets:
        reasons.append(f"applies to --target {' or '.join(strategy.targets)} only")
    if strategy.runtimes is not None and findings.runtime not in strategy.runtimes:
        reasons.append(f"not available for {findings.runtime} (only "
                       f"{', '.join(strategy.runtimes)})")
    return reasons or None


def provisioned(strategy: Strategy, f: Findings) -> Row:
    taken = _of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of())
    cold, warm, prov = (_summary([s for s in taken if s.mode == mode])
                        for mode in ("cold", "warm", "provisioned"))
    figures = {"memory_mb": f.reference_mb, "cold_start": _figure(cold), "warm": _figure(warm),
               "provisioned": _figure(prov)}
    if cold is None or prov is None:
        return Row(strategy, True, [f"not measured at {f.reference_mb} MB: no valid cold and "
                                    "provisioned samples (--cold, --provisioned; errors on "
                                    "stderr)"], figures, taken)
    removed = cold.p50 - prov.p50
    figures["removed_ms"] = round(removed, 3)
    lines = [f"cold start p50 {_p50(cold)} -> first invocation of a provisioned "
             f"environment {_p50(prov)}: {ms(removed)} ms off the request path"]
    if warm is not None:
        remains = prov.p50 - warm.p50
        figures["remains_ms"] = round(remains, 3)
        lines.append(f"what remains: {ms(remains)} ms above a warm invocation ({_p50(warm)})")
    return Row(strategy, True, lines, figures, taken)


def memory(strategy: Strategy, f: Findings, prices: Prices) -> Row:
    taken = [s for m in f.memory for s in _of(f.samples, f.runtime, f.function, m, f.variant_of())]
    per_million = {m.memory_mb: 1e6 * cost.lambda_per_request(m, f.architecture or ARCH, prices,
                                                              cost.COLD_FRACTION)
                   for m in cost.measured(taken, prices)}
    lines, figures = [], {"cold_fraction": cost.COLD_FRACTION, "arch": f.architecture or ARCH,
                          "prices": prices.name, "sizes": []}
    for memory_mb in f.memory:
        cold = _summary(_of(taken, f.runtime, f.function, memory_mb, f.variant_of(), "cold"))
        price = per_million.get(memory_mb)
        figures["sizes"].append({"memory_mb": memory_mb, "cold_start": _figure(cold),
                                 "usd_per_million": None if price is None else round(price, 4)})
        lines.append(f"{memory_mb} MB: cold start {_p50(cold)}, "
                     f"{usd(price) if price is not None else '- (no warm samples)'} per million")
    return Row(strategy, True, lines, figures, taken)


def package(strategy: Strategy, f: Findings) -> Row:
    figures = {"packages": [p.to_dict() for p in f.packages],
               "unused": [p.name for p in f.unused], "task_root_bytes": f.task_root_bytes,
               "profiled_cold_starts": f.profiled}
    if f.package_note is not None:
        return Row(strategy, False, [f.package_note], figures)
    before_samples = _of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of(), "cold")
    starts = f"{f.profiled} profiled cold start{'s' if f.profiled != 1 else ''}"
    if not f.unused:
        count = f"{len(f.packages)} package{'s' if len(f.packages) != 1 else ''}"
        return Row(strategy, True, [f"every package of the task root was loaded by {starts} "
                                    f"({count})"], figures, before_samples)
    unused_bytes = sum(p.size_bytes for p in f.unused)
    listed = ", ".join(f"{p.name} {_mb(p.size_bytes)}" for p in f.unused)
    whole = f" of {_mb(f.task_root_bytes)}" if f.task_root_bytes else ""
    lines = [f"never loaded by {starts}: {len(f.unused)} of "
             f"{len(f.packages)} packages, {_mb(unused_bytes)}{whole} in the task root: {listed}"]
    if f.target != "local":
        lines.append(LOCAL_PROFILE)
    after_samples = _of(f.samples, f.runtime, f.function, f.reference_mb,
                        f.variant_of(TRIMMED), "cold")
    before, after = _summary(before_samples), _summary(after_samples)
    figures |= {"unused_bytes": unused_bytes, "memory_mb": f.reference_mb,
                "cold_start_before": _figure(before), "cold_start_trimmed": _figure(after)}
    change = ("" if before is None or after is None
              else f", {after.p50 - before.p50:+.1f} ms "
                   f"({100 * (after.p50 / before.p50 - 1):+.0f}%)")
    lines.append(f"build without them at {f.reference_mb} MB: cold start p50 {_p50(before)} "
                 f"-> {_p50(after)}{change}")
    failed = [s.error.get("type") for s in after_samples if s.error]
    if failed:
        lines.append(f"the build without them failed {len(failed)} of {len(after_samples)} "
                     f"cold starts ({', '.join(sorted(set(map(str, failed))))}): the "
                     "function needs some of them")
    read_before, read_after = _read_mb(before_samples), _read_mb(after_samples)
    if read_before is not None and read_after is not None:
        figures |= {"init_read_mb_before": round(read_before.p50, 3),
                    "init_read_mb_trimmed": round(read_after.p50, 3)}
        lines.append(f"code read by init, p50: {read_before.p50:.3f} MB -> "
                     f"{read_after.p50:.3f} MB")
        lines.append(_delivery_verdict(unused_bytes, read_before.p50, read_after.p50, figures))
    lines.append(NOT_PROOF)
    return Row(strategy, True, lines, figures, before_samples + after_samples)


def _delivery_verdict(unused_bytes: int, read_before_mb: float, read_after_mb: float,
                      figures: dict) -> str:
    """What Lambda's code delivery makes of the smaller package (``calibration``, "code
    delivery, per package type"): a .zip is fetched whole before init, so the bytes init
    never read cost no Init Duration; what init reads is priced per MB."""
    model = calibration.load_anchored()
    change = calibration.package_init_change_ms(
        model, read_before_mb, read_after_mb, unread_mb_before=unused_bytes / 1e6)
    figures["predicted_aws_init_change_ms"] = round(change, 1)
    return (f"on Lambda (.zip): the package is fetched whole before init, so the "
            f"{_mb(unused_bytes)} never loaded cost no Init Duration; by what init reads, "
            f"Init Duration changes by {change:+.1f} ms ({model.ms_per_mb:.2f} ms per MB "
            "read; docs/fidelity.md, code delivery)")


def runtime(strategy: Strategy, f: Findings) -> Row:
    own = _summary(_of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of(), "cold"))
    lines = [f"this function ({f.runtime}): cold start p50 {_p50(own)} at {f.reference_mb} MB"]
    figures, taken = {"memory_mb": f.reference_mb, "this_function": _figure(own),
                      "built_in": {}}, []
    documented = reference.documented()
    for name, why_not in f.compared.items():
        if why_not is not None:
            lines.append(f"{name} built-in: not measured ({why_not})")
            figures["built_in"][name] = {"not_measured": why_not}
            continue
        samples = _of(f.samples, name, "coldbench", f.reference_mb, f.variant_of(), "cold")
        taken += samples
        summary = _summary(samples)
        figures["built_in"][name] = _figure(summary)
        row = documented.get(RUNTIMES[name].documented_as) if name in RUNTIMES else None
        said = (f"; guide: {row.row} {row.cold_low_ms:g}-{row.cold_high_ms:g} ms"
                if row is not None else "")
        lines.append(f"{name} built-in: {_p50(summary)}{said}")
    if not f.compared:
        lines.append("no other runtime compared (--compare none)")
    return Row(strategy, True, lines, figures, taken)


def _snapstart_charges(samples: list[Sample], prices: Prices, memory_mb: int,
                       runtime_name: str) -> str:
    """SnapStart's charges for the configuration, from the price table (``lambda_bill``)."""
    found = cost.measured([s for s in samples if s.valid], prices)
    if not found:
        return "SnapStart charges: not priced (no valid warm sample of the SnapStart version)"
    m = replace(found[0], snapstart=True)
    if not cost.snapstart_charged(m):
        return (f"SnapStart's cache and restores are not charged for {runtime_name} "
                f"({m.lambda_runtime})")
    try:
        bill = cost.lambda_bill(m, m.key.variant.architecture or ARCH, prices,
                                cost.Workload(requests_per_month=1e6), 1e6)
    except UsageError as exc:
        return f"SnapStart charges: not priced ({exc})"
    return (f"SnapStart charges at {memory_mb} MB ({prices.name}): the snapshot cached a "
            f"month {usd(bill.snapstart_cache)}, restores {usd(bill.snapstart_restore)} per "
            f"million invocations with {cost.COLD_FRACTION:.0%} of them cold")


def snapstart(strategy: Strategy, f: Findings, prices: Prices) -> Row:
    """With SnapStart against without, measured side by side at the reference size."""
    snap = _of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of(snapstart=True))
    plain = _of(f.samples, f.runtime, f.function, f.reference_mb,
                f.variant_of(BESIDE_SNAPSTART))
    cold_snap = [s for s in snap if s.mode == "cold"]
    restored = [s for s in cold_snap if s.valid and s.extra.get("restore_ms") is not None]
    without = _summary([s for s in plain if s.mode == "cold"])
    with_ = _summary(restored)
    figures = {"memory_mb": f.reference_mb, "cold_start_without": _figure(without),
               "cold_start_with": _figure(with_), "cold_samples": len(cold_snap),
               "restored": len(restored)}
    if not restored:
        lines = [f"{NO_RESTORE} ({len(cold_snap)} cold samples of the SnapStart version; "
                 f"without SnapStart: cold start p50 {_p50(without)} at {f.reference_mb} MB)"]
    else:
        change = ("" if without is None else
                  f": {with_.p50 - without.p50:+.1f} ms "
                  f"({100 * (with_.p50 / without.p50 - 1):+.0f}%)")
        lines = [f"cold start p50 at {f.reference_mb} MB without SnapStart {_p50(without)} "
                 f"-> with SnapStart (Restore Duration + Duration) {_p50(with_)}{change}"]
        if with_ is not None and without is not None:
            figures["change_ms"] = round(with_.p50 - without.p50, 3)
        valid = sum(1 for s in cold_snap if s.valid)
        if len(restored) < valid:
            lines.append(f"{valid - len(restored)} of {valid} cold samples of the SnapStart "
                         "version initialised instead of restoring: left out")
    lines.append(_snapstart_charges(snap, prices, f.reference_mb, f.runtime))
    return Row(strategy, True, lines, figures, snap + plain)


def keep_warm(strategy: Strategy, f: Findings, prices: Prices) -> Row:
    """What pings at the keep-warm interval cost; with --idle, how often a call after idle
    time found no environment (``analysis.idle``)."""

    every = f.keep_warm_s or 300.0
    warm = _summary(_of(f.samples, f.runtime, f.function, f.reference_mb, f.variant_of(), "warm"))
    pings, monthly = idle.pings_per_month(every, None if warm is None else warm.p50,
                                          f.reference_mb, f.architecture, prices)
    figures = {"interval_s": every, "memory_mb": f.reference_mb, "pings_per_month": pings,
               "usd_per_month": round(monthly, 6), "warm": _figure(warm),
               "prices": prices.name}
    billed = (f"each billed as a warm invocation, p50 {_p50(warm)}" if warm is not None
              else "each billed as Lambda's least, 1 ms: no warm sample, so at least")
    lines = [f"pings every {interval_text(every)} at {f.reference_mb} MB: {pings:,.0f} a "
             f"month, {usd(monthly)} a month per environment kept warm ({billed}); they keep "
             "one environment, not a burst's worth"]
    taken = []
    if f.idle:
        taken = [s for s in f.samples if s.runtime == f.runtime and s.function == f.function
                 and s.extra.get("idle_s") is not None]
        results = idle.after_idle(summarize_samples(taken))
        figures["after_idle"] = [{"idle_s": r.idle_s, "cold": r.cold, "n": r.n,
                                  "probability": r.probability} for r in results]
        lines += idle.keep_warm_lines(results, prices) or [
            "no idle sample finished (errors on stderr)"]
    else:
        lines.append("how often a call after idle time starts cold: not measured (pass "
                     "--idle, e.g. --idle 5m,15m,45m)")
    return Row(strategy, True, lines, figures, taken)


def rows(f: Findings, prices: Prices) -> list[Row]:
    """One row per strategy of the guide, in its order."""
    found = []
    for strategy in guide():
        reasons = _not_here(strategy, f)
        if reasons is not None:
            found.append(Row(strategy, False, ["; ".join(reasons)]))
        elif strategy.key == "provisioned":
            found.append(provisioned(strategy, f))
        elif strategy.key == "memory":
            found.append(memory(strategy, f, prices))
        elif strategy.key == "package":
            found.append(package(strategy, f))
        elif strategy.key == "runtime":
            found.append(runtime(strategy, f))
        elif strategy.key == "snapstart":
            found.append(snapstart(strategy, f, prices))
        elif strategy.key == "keep_warm":
            found.append(keep_warm(strategy, f, prices))
        else:
            found.append(Row(strategy, False, [f"not measured by coldbench on --target "
                                               f"{f.target}"]))
    return found


# -- output --------------------------------------------------------------------------------

def footnote(f: Findings, prices: Prices) -> str:
    return (f"Cold start = Init Duration + Duration of the first invocation, p50 with n; "
            f"provisioned = Duration of a provisioned environment's first invocation. Cost per "
            f"million invocations on Lambda ({f.architecture or ARCH}, {prices.name}) with "
            f"{cost.COLD_FRACTION:.0%} of them cold. Guide's words: data/mitigations.csv.")


def render(found: list[Row], f: Findings, prices: Prices, width: int = 34) -> str:
    """The table: strategy, the guide's words, what was measured."""
    body = [[row.strategy.name, textwrap.fill(row.strategy.guide_text(), width),
             "\n".join(textwrap.fill(line, 76, subsequent_indent="  ") for line in row.lines)]
            for row in found]
    where = f", {f.region}" if f.region else ""
    title = f"Mitigations measured on {f.function} ({f.runtime}, --target {f.target}{where})"
    table = tabulate(body, headers=["Strategy", "The guide says", "Measured"],
                     tablefmt="grid")
    return f"{title}\n{table}\n{textwrap.fill(footnote(f, prices), 100)}\n"


def document(found: list[Row], f: Findings, prices: Prices, run: dict) -> dict:
    """The JSON document of ``--output``: every row with its figures and raw samples."""
    return {"schema": SCHEMA, "version": VERSION, "run": run, "runtime": f.runtime,
            "function": f.function, "handler": f.handler, "target": f.target,
            "memory_mb": f.memory, "reference_memory_mb": f.reference_mb,
            "region": f.region, "architecture": f.architecture, "keep_warm_s": f.keep_warm_s,
            "idle_s": f.idle, "cost_bound_usd": round(f.spent_usd, 6) if f.region else None,
            "prices": prices.name, "guide_source": guide_source(),
            "loaded": f.loaded, "strategies": [row.to_dict() for row in found]}
