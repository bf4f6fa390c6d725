"""What each layer adds to a cold start (``run --layer-overhead``): pure functions, no I/O.

The run measured the function with each prefix of its layers (none, A, A+B, ...),
interleaved (``workflows/layers.py``). A layer's overhead is the difference between the
prefix that ends with it and the one before, for each figure of the valid cold samples at
one memory size:

- cold start (Init Duration + Duration), Init Duration, billed duration (which counts
  init, ``phases.billed_ms``), Max Memory Used; and post-runtime extension time when any
  sample records it (``POST_RUNTIME``; 0 for a sample without extensions);
- the difference of the medians, with an interval made of the two medians' 95 %
  intervals (``stats.median_ci``): from the lower end of one minus the upper end of the
  other, to the reverse. Both medians are inside theirs with a probability of at least
  0.95 x 0.95, so the interval covers the difference at 90 % or more;
- Mann-Whitney U (``compare.change``): whether the two samples differ at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from coldbench.analysis.compare import Change, change
from coldbench.analysis.stats import Summary, summarize
from coldbench.build import Layer
from coldbench.phases import cold_start_ms
from coldbench.results.schema import Sample

#: the sample field of post-runtime extension time (Lambda bills it): the time from the
#: runtime's response until every extension registered for INVOKE asked for the next event
POST_RUNTIME = "extension_post_runtime_ms"

# (figure, its unit, how a sample gives it)
FIGURES: tuple[tuple[str, str, Callable[[Sample], float | None]], ...] = (
    ("cold start", "ms", lambda s: cold_start_ms(s.init_ms, s.duration_ms)),
    ("Init Duration", "ms", lambda s: s.init_ms),
    # none where the environment had no extension: no post-runtime time, as on Lambda
    ("post-runtime", "ms", lambda s: s.extra.get(POST_RUNTIME, 0.0)),
    ("billed", "ms", lambda s: s.billed_ms),
    ("memory", "MB", lambda s: s.max_memory_mb),
)


@dataclass(frozen=True)
class Overhead:
    """One figure of what one layer added at one memory size."""

    layer: str                    # the layer's name
    memory_mb: int
    figure: str                   # "cold start", "Init Duration", ...
    unit: str
    before: Summary | None        # the prefix without this layer
    after: Summary | None         # ... and with it
    change: Change | None         # Mann-Whitney U, ratio of medians

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after.p50 - self.before.p50

    @property
    def interval(self) -> tuple[float, float] | None:
        """Where the difference of the medians lies (module docstring)."""
        b, a = self.before, self.after
        if b is None or a is None or b.ci_low is None or a.ci_low is None:
            return None
        return a.ci_low - b.ci_high, a.ci_high - b.ci_low

    def to_dict(self) -> dict:
        interval = self.interval
        return {"layer": self.layer, "memory_mb": self.memory_mb, "figure": self.figure,
                "unit": self.unit,
                "before_p50": None if self.before is None else self.before.p50,
                "after_p50": None if self.after is None else self.after.p50,
                "delta": self.delta,
                "interval": None if interval is None else list(interval),
                "n_before": 0 if self.before is None else self.before.n,
                "n_after": 0 if self.after is None else self.after.n,
                "p_value": None if self.change is None else self.change.p_value}


def _prefix(sample: Sample) -> tuple[str, ...]:
    """The digests of the layers a sample ran with, in order."""
    return tuple(layer.get("digest") for layer in sample.extra.get("layers") or [])


def overheads(samples: Sequence[Sample], layers: Sequence[Layer]) -> list[Overhead]:
    """Each layer's overhead, per memory size and figure, from the valid cold samples of
    a ``--layer-overhead`` run; figures no sample recorded are left out."""
    cold = [s for s in samples if s.mode == "cold" and s.valid]
    extensions = any(POST_RUNTIME in s.extra for s in cold)
    found = []
    for memory_mb in sorted({s.memory_mb for s in cold}):
        at_size = [s for s in cold if s.memory_mb == memory_mb]
        for count, layer in enumerate(layers, start=1):
            before_key = tuple(l.digest for l in layers[:count - 1])
            after_key = tuple(l.digest for l in layers[:count])
            before = [s for s in at_size if _prefix(s) == before_key]
            after = [s for s in at_size if _prefix(s) == after_key]
            for figure, unit, value in FIGURES:
                if figure == "post-runtime" and not extensions:
                    continue
                b = [v for v in map(value, before) if v is not None]
                a = [v for v in map(value, after) if v is not None]
                if not b and not a:
                    continue
                found.append(Overhead(layer.name, memory_mb, figure, unit, summarize(b),
                                      summarize(a), change(b, a) if a and b else None))
    return found
