"""`coldbench ab`'s comparison as Markdown: the job summary and the pull-request comment
of the CI check (action.yml, scripts/ab-check), and the body GitHub's API takes for it."""

from __future__ import annotations

import json

from coldbench.analysis import compare as comparing
from coldbench.analysis.ab import BASE, HEAD
from coldbench.render import compare as comparison_table
from coldbench.results.schema import Results

# Found again in the pull request's comments, so that the check updates its own comment in
# place instead of adding one per push. Invisible in the rendered comment.
MARKER = "<!-- coldbench-ab -->"


def _version(run: dict, label: str) -> str:
    described = (run.get("ab") or {}).get(label) or {}
    ref, commit = described.get("ref", label), described.get("commit")
    if commit and not commit.startswith(ref):
        return f"`{ref}` ({commit[:7]})"
    return f"`{commit[:7] if commit else ref}`"


def markdown(results: Results, found: list[comparing.Comparison],
             min_change: float = comparing.MIN_CHANGE, alpha: float = comparing.ALPHA) -> str:
    """The comparison as `coldbench compare --format markdown` prints it, under a heading
    that names the two versions and the verdict, above a line on how it was measured."""
    run = results.run
    regressions = sum(c.regression for c in found)
    compared = sum(c.result is not None for c in found)
    if regressions:
        verdict = (f"**:x: {regressions} regression{'s' if regressions != 1 else ''}**: "
                   f"head is slower than base by at least {min_change:.0%} (Mann-Whitney U, "
                   f"p < {alpha:g})")
    elif compared:
        verdict = "**:white_check_mark: No regression**"
    else:
        verdict = "**:warning: Nothing compared**: no configuration has valid samples in both"
    plan = run.get("plan") or {}
    counts = ", ".join(f"{plan[mode]} {mode}" for mode in ("cold", "warm", "provisioned")
                       if plan.get(mode))
    functions = ", ".join(f"`{path}`" for path in (run.get("ab") or {}).get("functions", []))
    measured = (f"Both versions measured interleaved (A B A B ...) in one run on one machine: "
                f"{run.get('target', '?')} target, {run.get('cpu', '?')}, {counts or 'no'} "
                f"samples per configuration and version; coldbench "
                f"{run.get('coldbench_version', '?')}, run `{run.get('run_id', '?')}`.")
    return (f"{MARKER}\n### coldbench A/B: {_version(run, BASE)} → {_version(run, HEAD)}"
            f"{f' ({functions})' if functions else ''}\n\n{verdict}\n\n"
            f"{comparison_table.render(found, 'markdown', min_change, alpha)}\n"
            f"<sub>{measured}</sub>\n")


def comment_payload(text: str) -> str:
    """The JSON body of GitHub's create and update issue comment calls: ``{"body": ...}``."""
    return json.dumps({"body": text}) + "\n"
