"""Two runs -> per configuration and mode: is the new one slower? Pure functions, no I/O.

The method, for one configuration (``ConfigKey``: function, runtime, memory size,
variant) and mode:

- the figure of each valid sample (cold: Init Duration + Duration; warm, provisioned:
  Duration; see ``Sample.figure``) of the base run and of the new run;
- the ratio of medians, new / base, with a ``CONFIDENCE`` interval (the percentile
  bootstrap: both samples resampled ``RESAMPLES`` times with a fixed seed, so the same
  samples always give the same interval);
- Mann-Whitney U, two-sided: a difference is significant when p < ``alpha`` (``ALPHA`` by
  default). The test is nonparametric, as cold-start distributions are skewed and
  heavy-tailed;
- a change counts when it is significant and at least ``min_change`` (``MIN_CHANGE`` by
  default): slower when new / base >= 1 + min_change, faster when base / new >= 1 +
  min_change. Anything else is "not significant", so that noise never fails a build.

Configurations are comparable only when their function code (source digest), workload (the
event, e.g. ``--work``), runtime version, target and CPU model are the same in both runs (on
AWS: the Lambda runtime identifier, e.g. python3.12, and the configuration's region
instead of the CPU; a configuration whose samples come from several regions is compared
with nothing);
``allow`` lifts any of these checks (a pull request that changes the function's code
compares with ``allow={"code"}``).

``step_changes`` applies the same test to consecutive runs of a series (a trend): a step
change is a consecutive pair whose difference counts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from coldbench.analysis.blame import Blamed, blame, profiles
from coldbench.analysis.stats import CONFIDENCE
from coldbench.model import median
from coldbench.results.schema import MODES, ConfigKey, Results, Sample, region_of

MIN_CHANGE = 0.10
ALPHA = 0.05
RESAMPLES = 2000            # bootstrap resamples for the interval of the ratio
IDENTITY = ("code", "event", "runtime", "target", "cpu")   # what must match to compare

SLOWER, FASTER, SAME = "slower", "faster", "not significant"
NOT_COMPARABLE, ONLY_BASE, ONLY_NEW, NO_SAMPLES = ("not comparable", "only in base",
                                                    "only in new", "no valid samples")


@dataclass(frozen=True)
class Change:
    """The outcome of comparing two samples of one figure."""

    ratio: float | None          # median(new) / median(base)
    p_value: float
    status: str                  # SLOWER, FASTER or SAME
    reachable: bool = True       # False: too few samples for p < alpha whatever the data
    ratio_low: float | None = None     # the ratio's CONFIDENCE interval (ratio_interval)
    ratio_high: float | None = None


def smallest_p(n_base: int, n_new: int) -> float:
    """The smallest two-sided p-value Mann-Whitney U can give for these sample counts
    (every new value above every base value): 2 / C(n_base + n_new, n_base)."""
    if not n_base or not n_new:
        return 1.0
    return min(1.0, 2 / math.comb(n_base + n_new, n_base))


def ratio_interval(base: Sequence[float], new: Sequence[float],
                   confidence: float = CONFIDENCE, resamples: int = RESAMPLES
                   ) -> tuple[float, float] | None:
    """A ``confidence`` interval for median(new) / median(base): the percentile bootstrap
    (Efron and Tibshirani, "An Introduction to the Bootstrap", ch. 13), seeded so that it
    is the same for the same samples. None when a resampled base median can be 0."""
    import numpy as np

    rng = np.random.default_rng(0)
    b, n = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    base_medians = np.median(rng.choice(b, (resamples, len(b))), axis=1)
    new_medians = np.median(rng.choice(n, (resamples, len(n))), axis=1)
    if (base_medians <= 0).any():
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(new_medians / base_medians, [tail, 100 - tail])
    return float(low), float(high)


def change(base: Sequence[float], new: Sequence[float], min_change: float = MIN_CHANGE,
         alpha: float = ALPHA) -> Change:
    """Mann-Whitney U and the ratio of medians for two samples (both non-empty)."""
    from scipy.stats import mannwhitneyu

    base_median, new_median = float(median(base)), float(median(new))
    ratio = new_median / base_median if base_median > 0 else None
    p_value = float(mannwhitneyu(new, base, alternative="two-sided").pvalue)
    if math.isnan(p_value):                 # every value equal on both sides
        p_value = 1.0
    status = SAME
    if p_value < alpha and ratio is not None and ratio > 0:
        if ratio >= 1 + min_change:
            status = SLOWER
        elif 1 / ratio >= 1 + min_change:
            status = FASTER
    interval = ratio_interval(base, new) if ratio is not None else None
    return Change(ratio, p_value, status, smallest_p(len(base), len(new)) < alpha,
                  *(interval or (None, None)))


def identity(run: dict, function: str, runtime: str) -> dict[str, str | None]:
    """What must be equal for one configuration of ``run`` to be compared with another."""
    digest = next((f.get("source_digest") for f in run.get("functions", [])
                   if f.get("name") == function and f.get("runtime") == runtime), None)
    event = run.get("plan", {}).get("event")
    version, cpu = run.get("runtime_versions", {}).get(runtime), run.get("cpu")
    if run.get("target") == "aws":
        # The function runs on Lambda: its runtime identifier (python3.12) and region matter,
        # the CPU of the host that drives the harness does not.
        version, cpu = run.get("lambda_runtimes", {}).get(runtime, version), run.get("region")
    return {"code": digest, "event": None if event is None else json.dumps(event, sort_keys=True),
            "runtime": version, "target": run.get("target"), "cpu": cpu}


@dataclass(frozen=True)
class Difference:
    """Why a configuration of two runs is not compared: ``what`` differs (one of
    ``IDENTITY``, with "region" for "cpu" where AWS ran it), from ``base`` to ``new``; or
    ("regions") its samples come from several ``regions``."""

    what: str
    base: str | None = None
    new: str | None = None
    regions: tuple[str, ...] = ()


def differences(base_run: dict, new_run: dict, function: str, runtime: str,
                allow: Iterable[str] = ()) -> list[Difference]:
    """What differs between the two runs for this configuration."""
    base, new = identity(base_run, function, runtime), identity(new_run, function, runtime)
    skip = set(allow)
    targets = {base_run.get("target"), new_run.get("target")}
    if len(targets) > 1 and "aws" in targets:
        skip.add("cpu")               # a region against a CPU model: the target says it all
    return [Difference("region" if key == "cpu" and "aws" in targets else key,
                       base[key], new[key])
            for key in IDENTITY if key not in skip and base[key] != new[key]]


@dataclass
class Comparison:
    key: ConfigKey
    mode: str
    status: str
    base_n: int = 0
    new_n: int = 0
    base_p50: float | None = None
    new_p50: float | None = None
    result: Change | None = None
    differences: list[Difference] = field(default_factory=list)
    # a cold-start regression of a configuration both runs profiled: the items of its
    # init that grew most (``analysis/blame.py``)
    blame: list[Blamed] = field(default_factory=list)

    @property
    def regression(self) -> bool:
        return self.status == SLOWER


def regions(results: Results, key: ConfigKey) -> list[str]:
    """The AWS regions ``key``'s samples were measured in (``region_of``), sorted."""
    return sorted({r for s in results.samples if s.key == key
                   for r in [region_of(s, results.run)] if r})


def in_region(results: Results, key: ConfigKey) -> dict:
    """The run's metadata as it holds for ``key``: its configuration's own region (a run
    in several regions names them all)."""
    found = regions(results, key)
    return results.run | {"region": ",".join(found)} if found else results.run


def pooled(results: Results, key: ConfigKey) -> list[Difference]:
    """A configuration whose samples come from several regions is compared with nothing:
    regions are never pooled."""
    found = regions(results, key)
    return [Difference("regions", regions=tuple(found))] if len(found) > 1 else []


def _figures(samples: Iterable[Sample]) -> dict[tuple[ConfigKey, str], list[float]]:
    """The valid figures of each configuration and mode."""
    groups: dict[tuple[ConfigKey, str], list[float]] = {}
    for s in samples:
        figures = groups.setdefault((s.key, s.mode), [])
        if s.valid and s.figure is not None:
            figures.append(s.figure)
    return groups


def compare(base: Results, new: Results, min_change: float = MIN_CHANGE, alpha: float = ALPHA,
            modes: Iterable[str] = MODES, allow: Iterable[str] = ()) -> list[Comparison]:
    """One comparison per configuration and mode found in either run."""
    modes, allow = tuple(modes), tuple(allow)
    base_figures, new_figures = _figures(base.samples), _figures(new.samples)
    base_trees, new_trees = profiles(base.run), profiles(new.run)
    keys = list(dict.fromkeys(k for k in [*base_figures, *new_figures] if k[1] in modes))
    keys.sort(key=lambda k: (k[0].order, MODES.index(k[1])))
    found = []
    for key in keys:
        config, mode = key
        b, n = base_figures.get(key), new_figures.get(key)
        c = Comparison(config, mode, status=SAME, base_n=len(b or ()), new_n=len(n or ()),
                       base_p50=median(b) if b else None, new_p50=median(n) if n else None)
        if b is None:
            c.status = ONLY_NEW
        elif n is None:
            c.status = ONLY_BASE
        elif not b or not n:
            c.status = NO_SAMPLES
        else:
            c.differences = (pooled(base, config) + pooled(new, config) + differences(
                in_region(base, config), in_region(new, config), config.function,
                config.runtime, allow))
            if c.differences:
                c.status = NOT_COMPARABLE
            else:
                c.result = change(b, n, min_change, alpha)
                c.status = c.result.status
                profiled = config in base_trees and config in new_trees
                if c.regression and mode == "cold" and profiled:
                    c.blame = blame(base_trees[config], new_trees[config])
        found.append(c)
    return found


@dataclass(frozen=True)
class Step:
    """A step change between two consecutive runs of a series."""

    index: int                    # position of the later run in the series
    result: Change


def step_changes(series: Sequence[Sequence[float]], comparable: Sequence[bool] | None = None,
                 min_change: float = MIN_CHANGE, alpha: float = ALPHA) -> list[Step]:
    """Step changes in a series of runs (each a list of figures, oldest first): consecutive
    runs whose difference is significant and at least ``min_change``. ``comparable[i]``
    False skips the pair (i-1, i): the environment changed, not the cold start."""
    steps = []
    for i in range(1, len(series)):
        if comparable is not None and not comparable[i]:
            continue
        if not series[i - 1] or not series[i]:
            continue
        result = change(series[i - 1], series[i], min_change, alpha)
        if result.status != SAME:
            steps.append(Step(i, result))
    return steps
