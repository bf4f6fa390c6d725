"""The table of `coldbench mitigate` and its JSON document: the rows of
``analysis.mitigation`` written out, one kind of row at a time."""

from __future__ import annotations

import textwrap
from functools import singledispatch

from tabulate import tabulate

from coldbench.analysis import cost
from coldbench.analysis.mitigation import (ARCH, Delivery, Findings, KeepWarm, Memory,
                                           NotApplicable, PackageRow, Provisioned, Row,
                                           RuntimeRow, SnapStartRow, Strategy, guide_source)
from coldbench.analysis.stats import Summary
from coldbench.model import interval_text
from coldbench.prices import Prices, usd
from coldbench.render.idle import keep_warm_lines
from coldbench.render.table import ms

__all__ = ["document", "footnote", "lines", "render"]

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


def guide_text(strategy: Strategy) -> str:
    if strategy.guide_says:
        return strategy.guide_says
    if not strategy.in_guide:
        return "(not a row of the guide's table)"
    return "(the guide's words for this row are not in coldbench's reference data)"


def _p50(summary: Summary | None) -> str:
    """p50 with n, and the median's 95% interval where n allows one."""
    if summary is None:
        return "-"
    interval = ("" if summary.ci_low is None
                else f"; 95% CI {ms(summary.ci_low)}-{ms(summary.ci_high)}")
    return f"{ms(summary.p50)} ms (n {summary.n}{interval})"


def _mb(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:.1f} MB"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


@singledispatch
def lines(row: Row, prices: Prices) -> list[str]:
    """What was measured for the strategy, a line per finding (``prices``: the keep-warm
    lines price pings at each idle interval)."""
    raise TypeError(f"no lines for {type(row).__name__}")


@lines.register
def _(row: NotApplicable, prices: Prices) -> list[str]:
    if not row.reasons:
        return [f"not measured by coldbench on --target {row.target}"]
    return ["; ".join(row.reasons)]


@lines.register
def _(row: Provisioned, prices: Prices) -> list[str]:
    if row.removed_ms is None:
        return [f"not measured at {row.memory_mb} MB: no valid cold and provisioned samples "
                "(--cold, --provisioned; errors on stderr)"]
    found = [f"cold start p50 {_p50(row.cold)} -> first invocation of a provisioned "
             f"environment {_p50(row.provisioned)}: {ms(row.removed_ms)} ms off the request path"]
    if row.remains_ms is not None:
        found.append(f"what remains: {ms(row.remains_ms)} ms above a warm invocation "
                     f"({_p50(row.warm)})")
    return found


@lines.register
def _(row: Memory, prices: Prices) -> list[str]:
    return [f"{s.memory_mb} MB: cold start {_p50(s.cold)}, "
            f"{usd(s.usd_per_million) if s.usd_per_million is not None else '- (no warm samples)'}"
            " per million" for s in row.sizes]


def delivery_verdict(found: Delivery) -> str:
    """What Lambda's code delivery makes of the smaller package (``Delivery``)."""
    return (f"on Lambda (.zip): the package is fetched whole before init, so the "
            f"{_mb(found.unused_bytes)} never loaded cost no Init Duration; by what init reads, "
            f"Init Duration changes by {found.change_ms:+.1f} ms ({found.ms_per_mb:.2f} ms per "
            "MB read; docs/fidelity.md, code delivery)")


@lines.register
def _(row: PackageRow, prices: Prices) -> list[str]:
    if row.note is not None:
        return [row.note]
    starts = _plural(row.profiled, "profiled cold start")
    if not row.unused:
        return [f"every package of the task root was loaded by {starts} "
                f"({_plural(len(row.packages), 'package')})"]
    listed = ", ".join(f"{p.name} {_mb(p.size_bytes)}" for p in row.unused)
    whole = f" of {_mb(row.task_root_bytes)}" if row.task_root_bytes else ""
    found = [f"never loaded by {starts}: {len(row.unused)} of {len(row.packages)} packages, "
             f"{_mb(row.unused_bytes)}{whole} in the task root: {listed}"]
    if row.target != "local":
        found.append(LOCAL_PROFILE)
    before, after = row.before, row.after
    change = ("" if before is None or after is None
              else f", {after.p50 - before.p50:+.1f} ms "
                   f"({100 * (after.p50 / before.p50 - 1):+.0f}%)")
    found.append(f"build without them at {row.memory_mb} MB: cold start p50 {_p50(before)} "
                 f"-> {_p50(after)}{change}")
    if row.failed:
        found.append(f"the build without them failed {len(row.failed)} of "
                     f"{row.after_cold_starts} cold starts ({', '.join(sorted(set(row.failed)))})"
                     ": the function needs some of them")
    if row.read_before_mb is not None and row.read_after_mb is not None:
        found.append(f"code read by init, p50: {row.read_before_mb.p50:.3f} MB -> "
                     f"{row.read_after_mb.p50:.3f} MB")
    if row.delivery is not None:
        found.append(delivery_verdict(row.delivery))
    found.append(NOT_PROOF)
    return found


@lines.register
def _(row: RuntimeRow, prices: Prices) -> list[str]:
    found = [f"this function ({row.runtime}): cold start p50 {_p50(row.own)} at "
             f"{row.memory_mb} MB"]
    for b in row.built_in:
        if b.not_measured is not None:
            found.append(f"{b.name} built-in: not measured ({b.not_measured})")
            continue
        said = (f"; guide: {b.documented.row} {b.documented.cold_low_ms:g}-"
                f"{b.documented.cold_high_ms:g} ms" if b.documented is not None else "")
        found.append(f"{b.name} built-in: {_p50(b.cold)}{said}")
    if not row.built_in:
        found.append("no other runtime compared (--compare none)")
    return found


def _charges(row: SnapStartRow) -> str:
    charges = row.charges
    if charges.not_priced is not None:
        return f"SnapStart charges: not priced ({charges.not_priced})"
    if not charges.charged:
        return (f"SnapStart's cache and restores are not charged for {row.runtime} "
                f"({charges.lambda_runtime})")
    return (f"SnapStart charges at {row.memory_mb} MB ({row.prices}): the snapshot cached a "
            f"month {usd(charges.cache_usd)}, restores {usd(charges.restore_usd)} per "
            f"million invocations with {cost.COLD_FRACTION:.0%} of them cold")


@lines.register
def _(row: SnapStartRow, prices: Prices) -> list[str]:
    without, with_ = row.without, row.with_
    if not row.restored:
        found = [f"{NO_RESTORE} ({row.cold_samples} cold samples of the SnapStart version; "
                 f"without SnapStart: cold start p50 {_p50(without)} at {row.memory_mb} MB)"]
    else:
        change = ("" if without is None else
                  f": {with_.p50 - without.p50:+.1f} ms "
                  f"({100 * (with_.p50 / without.p50 - 1):+.0f}%)")
        found = [f"cold start p50 at {row.memory_mb} MB without SnapStart {_p50(without)} "
                 f"-> with SnapStart (Restore Duration + Duration) {_p50(with_)}{change}"]
        if row.restored < row.valid:
            found.append(f"{row.valid - row.restored} of {row.valid} cold samples of the "
                         "SnapStart version initialised instead of restoring: left out")
    found.append(_charges(row))
    return found


@lines.register
def _(row: KeepWarm, prices: Prices) -> list[str]:
    billed = (f"each billed as a warm invocation, p50 {_p50(row.warm)}" if row.warm is not None
              else "each billed as Lambda's least, 1 ms: no warm sample, so at least")
    found = [f"pings every {interval_text(row.interval_s)} at {row.memory_mb} MB: "
             f"{row.pings_per_month:,.0f} a month, {usd(row.usd_per_month)} a month per "
             f"environment kept warm ({billed}); they keep one environment, not a burst's worth"]
    if row.after_idle is None:
        found.append("how often a call after idle time starts cold: not measured (pass "
                     "--idle, e.g. --idle 5m,15m,45m)")
    else:
        found += keep_warm_lines(row.after_idle, prices) or [
            "no idle sample finished (errors on stderr)"]
    return found


# -- output --------------------------------------------------------------------------------

def footnote(f: Findings, prices: Prices) -> str:
    return (f"Cold start = Init Duration + Duration of the first invocation, p50 with n; "
            f"provisioned = Duration of a provisioned environment's first invocation. Cost per "
            f"million invocations on Lambda ({f.architecture or ARCH}, {prices.name}) with "
            f"{cost.COLD_FRACTION:.0%} of them cold. Guide's words: data/mitigations.csv.")


def render(found: list[Row], f: Findings, prices: Prices, width: int = 34) -> str:
    """The table: strategy, the guide's words, what was measured."""
    body = [[row.strategy.name, textwrap.fill(guide_text(row.strategy), width),
             "\n".join(textwrap.fill(line, 76, subsequent_indent="  ")
                       for line in lines(row, prices))]
            for row in found]
    where = f", {f.region}" if f.region else ""
    title = f"Mitigations measured on {f.function} ({f.runtime}, --target {f.target}{where})"
    table = tabulate(body, headers=["Strategy", "The guide says", "Measured"],
                     tablefmt="grid")
    return f"{title}\n{table}\n{textwrap.fill(footnote(f, prices), 100)}\n"


def row_document(row: Row, prices: Prices) -> dict:
    strategy = row.strategy
    return {"strategy": strategy.key, "name": strategy.name,
            "guide_says": strategy.guide_says or None, "in_guide": strategy.in_guide,
            "applies": row.applies, "measured": lines(row, prices), "figures": row.figures(),
            "samples": [s.to_json() for s in row.samples]}


def document(found: list[Row], f: Findings, prices: Prices, run: dict) -> dict:
    """The JSON document of ``--output``: every row with its figures and raw samples."""
    return {"schema": SCHEMA, "version": VERSION, "run": run, "runtime": f.runtime,
            "function": f.function, "handler": f.handler, "target": f.target,
            "memory_mb": f.memory, "reference_memory_mb": f.reference_mb,
            "region": f.region, "architecture": f.architecture, "keep_warm_s": f.keep_warm_s,
            "idle_s": f.idle, "cost_bound_usd": round(f.spent_usd, 6) if f.region else None,
            "prices": prices.name, "guide_source": guide_source(),
            "loaded": f.loaded, "strategies": [row_document(row, prices) for row in found]}
