"""A comparison of two runs (``coldbench.analysis.compare``) as a table, Markdown or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from tabulate import tabulate

from coldbench.analysis.blame import Blamed
from coldbench.analysis.compare import (ALPHA, FASTER, MIN_CHANGE, NOT_COMPARABLE, SAME, SLOWER,
                                        Change, Comparison, Difference)
from coldbench.analysis.stats import CONFIDENCE
from coldbench.profile.tree import EXTENSIONS, PART_LABELS
from coldbench.render.table import ms

FORMATS = ("table", "markdown", "json")
# what each part of a configuration's identity (``compare.IDENTITY``) is called
_NAMES = {"code": "function code", "event": "event", "runtime": "runtime version",
          "target": "target", "cpu": "CPU model", "region": "region"}


def change_text(change: Change) -> str:
    """"1.45x slower", "1.20x faster", "not significant"."""
    if change.status == SLOWER:
        return f"{change.ratio:.2f}x slower"
    if change.status == FASTER:
        return f"{1 / change.ratio:.2f}x faster"
    return SAME


def difference_text(d: Difference) -> str:
    """"runtime version python3.12 -> python3.13"; the code by its digest's first 12."""
    if d.what == "regions":
        return f"samples of {len(d.regions)} regions ({', '.join(d.regions)}) in one configuration"
    shown = [(v[:12] if d.what == "code" and v else v) for v in (d.base, d.new)]
    return f"{_NAMES[d.what]} {shown[0] or '?'} -> {shown[1] or '?'}"


def verdict(c: Comparison) -> str:
    """The comparison's verdict as the table's last column says it."""
    if c.result is not None:
        text = change_text(c.result)
        if c.status == SAME and not c.result.reachable:
            text += " (too few samples to tell)"
        return text
    if c.status == NOT_COMPARABLE:
        return f"{NOT_COMPARABLE}: {'; '.join(difference_text(d) for d in c.differences)}"
    return c.status


def blamed_text(b: Blamed) -> str:
    """"+212 ms: pandas (new)", "+40 ms: extension telemetry": an item of a profiled init
    that grew."""
    name = (f"extension {b.item}" if b.part == PART_LABELS[EXTENSIONS] and b.item != b.part
            else b.item)
    return f"{b.delta_ms:+.0f} ms: {name}{' (new)' if b.new else ''}"


def render(comparisons: list[Comparison], fmt: str = "table", min_change: float = MIN_CHANGE,
           alpha: float = ALPHA) -> str:
    """The comparisons as a table (plain or Markdown) or JSON."""
    if fmt == "json":
        documents = []
        for c in comparisons:
            document = asdict(c) | {"differences": [difference_text(d) for d in c.differences]}
            del document["key"]
            documents.append(c.key.to_json() | document | {"verdict": verdict(c),
                                                               "regression": c.regression})
        return json.dumps(documents, indent=1) + "\n"
    rows = [[c.key.label, f"{c.key.memory_mb} MB", c.mode,
             f"{ms(c.base_p50)} ({c.base_n})", f"{ms(c.new_p50)} ({c.new_n})",
             ratio_text(c.result),
             f"{c.result.p_value:.3g}" if c.result else "-", verdict(c)] for c in comparisons]
    text = tabulate(rows, headers=["Runtime", "Memory", "Mode", "Base p50 (n)", "New p50 (n)",
                                   f"New/base ({CONFIDENCE:.0%} interval)", "p", "Verdict"],
                    tablefmt="github" if fmt == "markdown" else "simple", disable_numparse=True)
    regressions = sum(c.regression for c in comparisons)
    blamed = [f"{c.key} {c.mode}, {verdict(c)}; grew most (profiled init): "
              + ", ".join(blamed_text(b) for b in c.blame) for c in comparisons if c.blame]
    if blamed:
        text += "\n\n" + "\n".join(("- " if fmt == "markdown" else "") + line
                                   for line in blamed)
    return (f"{text}\n\nMedians in ms (cold: Init Duration + Duration; warm, provisioned: "
            f"Duration). A change counts when Mann-Whitney U gives p < {alpha:g} and the "
            f"medians differ by at least {min_change:.0%}. "
            f"{regressions} regression{'s' if regressions != 1 else ''}.\n")


def ratio_text(result: Change | None) -> str:
    """The ratio of medians with its interval: \"2.57 (2.46-2.68)\"."""
    if result is None or not result.ratio:
        return "-"
    if result.ratio_low is None:
        return f"{result.ratio:.2f}"
    return f"{result.ratio:.2f} ({result.ratio_low:.2f}-{result.ratio_high:.2f})"
