"""The overhead of each layer (``analysis/layers.py``) as a table."""

from __future__ import annotations

from tabulate import tabulate

from coldbench.analysis.layers import Overhead


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def render_overheads(found: list[Overhead]) -> str:
    """One row per layer, memory size and figure: the medians without and with the
    layer, their difference, its interval and Mann-Whitney's p."""
    if not found:
        return "Layer overhead: no valid cold samples to compare.\n"
    rows = []
    for o in found:
        interval = o.interval
        rows.append([o.layer, f"{o.memory_mb} MB", f"{o.figure} ({o.unit})",
                     _number(o.before.p50 if o.before else None),
                     _number(o.after.p50 if o.after else None),
                     "-" if o.delta is None else f"{o.delta:+,.1f}",
                     "-" if interval is None else f"{interval[0]:+,.1f} .. {interval[1]:+,.1f}",
                     "-" if o.change is None else f"{o.change.p_value:.3f}",
                     f"{o.before.n if o.before else 0}/{o.after.n if o.after else 0}"])
    table = tabulate(rows, headers=["Layer", "Memory", "Figure", "p50 without", "p50 with",
                                    "Overhead", "Interval (>=90%)", "p", "n without/with"],
                     disable_numparse=True)
    return ("\nLayer overhead: each layer against the same function with the layers before "
            "it, valid cold samples, interleaved. Overhead: difference of the medians; its "
            "interval is made of the two medians' 95% intervals; p: Mann-Whitney U.\n\n"
            + table + "\n")
