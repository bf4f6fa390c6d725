"""The results of `coldbench ab` (both versions in one run) -> the comparison `compare`
makes of two runs. Pure functions, no I/O.

Each version becomes a run of its own: its samples, its functions and its profiles, with
the version label taken off, so that ``compare.compare`` pairs the same configuration of
the two versions. The function code differs by design (that is what is compared), so the
code check is lifted; everything else (event, runtime version, target, CPU) is the same
run's and matches.
"""

from __future__ import annotations

from dataclasses import replace

from coldbench.analysis import compare as comparing
from coldbench.measure.ab import BASE, HEAD
from coldbench.results.schema import MODES, Results


def _unlabelled(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "version"}


def version(results: Results, label: str) -> Results:
    """The part of an A/B run that measured one version, as if it were a run of its own."""
    run = dict(results.run)
    for name in ("functions", "profiles"):
        if run.get(name) is not None:
            run[name] = [_unlabelled(entry) for entry in run[name]
                         if entry.get("version") == label]
    samples = [replace(s, extra=_unlabelled(s.extra)) for s in results.samples
               if s.key.version == label]
    return Results(run=run, samples=samples)


def is_ab(results: Results) -> bool:
    """Whether the results are those of `coldbench ab`."""
    return "ab" in results.run


def compare(results: Results, min_change: float = comparing.MIN_CHANGE,
            alpha: float = comparing.ALPHA, modes=MODES) -> list[comparing.Comparison]:
    """Head against base, per configuration and mode, as `coldbench compare` does."""
    return comparing.compare(version(results, BASE), version(results, HEAD), min_change,
                             alpha, modes, allow=("code",))
