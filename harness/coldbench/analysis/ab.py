"""The results of `coldbench ab` (both versions in one run) -> the comparison `compare`
makes of two runs. Pure functions, no I/O.

Each version becomes a run of its own: its samples, its functions and its profiles, with
the version (``Variant.version``) taken off their variant, so that ``compare.compare``
pairs the same configuration of the two versions. The function code differs by design (that is what is compared), so the
code check is lifted; everything else (event, runtime version, target, CPU) is the same
run's and matches.
"""

from __future__ import annotations

from dataclasses import replace

from coldbench.analysis import compare as comparing
from coldbench.model import Variant
from coldbench.results.schema import MODES, Results
from coldbench.workflows.ab import BASE, HEAD


def _profile_without_version(profile: dict) -> dict:
    variant = Variant.from_json(profile.get("variant")).but(version=None)
    return profile | {"variant": variant.to_json() or None}


def version(results: Results, label: str) -> Results:
    """The part of an A/B run that measured one version, as if it were a run of its own."""
    run = dict(results.run)
    if run.get("functions") is not None:
        run["functions"] = [{k: v for k, v in entry.items() if k != "version"}
                            for entry in run["functions"] if entry.get("version") == label]
    if run.get("profiles") is not None:
        run["profiles"] = [_profile_without_version(p) for p in run["profiles"]
                           if Variant.from_json(p.get("variant")).version == label]
    samples = [replace(s, variant=s.variant.but(version=None)) for s in results.samples
               if s.variant.version == label]
    return Results(run=run, samples=samples)


def is_ab(results: Results) -> bool:
    """Whether the results are those of `coldbench ab`."""
    return "ab" in results.run


def compare(results: Results, min_change: float = comparing.MIN_CHANGE,
            alpha: float = comparing.ALPHA, modes=MODES) -> list[comparing.Comparison]:
    """Head against base, per configuration and mode, as `coldbench compare` does."""
    return comparing.compare(version(results, BASE), version(results, HEAD), min_change,
                             alpha, modes, allow=("code",))
