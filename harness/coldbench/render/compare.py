"""A comparison of two runs (``coldbench.analysis.compare``) as a table, Markdown or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from tabulate import tabulate

from coldbench.analysis.compare import ALPHA, MIN_CHANGE, Change, Comparison
from coldbench.analysis.stats import CONFIDENCE
from coldbench.render.table import ms

FORMATS = ("table", "markdown", "json")


def render(comparisons: list[Comparison], fmt: str = "table", min_change: float = MIN_CHANGE,
           alpha: float = ALPHA) -> str:
    """The comparisons as a table (plain or Markdown) or JSON."""
    if fmt == "json":
        documents = []
        for c in comparisons:
            document = asdict(c)
            del document["key"]
            documents.append(c.key.to_json() | document | {"verdict": c.text(),
                                                               "regression": c.regression})
        return json.dumps(documents, indent=1) + "\n"
    rows = [[c.key.label, f"{c.key.memory_mb} MB", c.mode,
             f"{ms(c.base_p50)} ({c.base_n})", f"{ms(c.new_p50)} ({c.new_n})",
             ratio_text(c.result),
             f"{c.result.p_value:.3g}" if c.result else "-", c.text()] for c in comparisons]
    text = tabulate(rows, headers=["Runtime", "Memory", "Mode", "Base p50 (n)", "New p50 (n)",
                                   f"New/base ({CONFIDENCE:.0%} interval)", "p", "Verdict"],
                    tablefmt="github" if fmt == "markdown" else "simple", disable_numparse=True)
    regressions = sum(c.regression for c in comparisons)
    blamed = [f"{c.key} {c.mode}, {c.text()}; grew most (profiled init): "
              + ", ".join(b.text() for b in c.blame) for c in comparisons if c.blame]
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
