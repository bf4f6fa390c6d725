"""A comparison of two runs (``coldbench.analysis.compare``) as a table, Markdown or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from tabulate import tabulate

from coldbench.analysis.compare import ALPHA, MIN_CHANGE, Comparison
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
             f"{c.result.ratio:.2f}" if c.result and c.result.ratio else "-",
             f"{c.result.p_value:.3g}" if c.result else "-", c.text()] for c in comparisons]
    text = tabulate(rows, headers=["Runtime", "Memory", "Mode", "Base p50 (n)", "New p50 (n)",
                                   "New/base", "p", "Verdict"],
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
