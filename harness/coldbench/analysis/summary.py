"""Raw samples -> one summary per configuration (``ConfigKey``: function, runtime, memory
size, variant), with typed warnings. Every figure here is computed from the samples of a
results file.

Which figure stands for each mode (``Sample.figure``):
- cold: the cold start, Init Duration + Duration (``phases.cold_start_ms``)
- warm and provisioned: Duration
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

from coldbench.analysis import reference
from coldbench.analysis.stats import (CONFIDENCE, SPREAD_LIMIT, Summary, fewest_for_interval,
                                      summarize)
from coldbench.model import ConfigKey, Variant
from coldbench.results.schema import MODES, Sample
from coldbench.runtimes import find

FEWEST_SAMPLES = fewest_for_interval(CONFIDENCE)


class WarningKind(Enum):
    """In the order they are printed: what failed first, what to read with care after."""

    NO_VALID_SAMPLES = "no-valid-samples"
    FAILED = "failed"
    MISCLASSIFIED = "misclassified"
    PROACTIVE_INIT = "proactive-init"
    HIGH_SPREAD = "high-spread"
    TOO_FEW_SAMPLES = "too-few-samples"


@dataclass(frozen=True)
class SampleWarning:
    """What to read with care in one configuration's mode: typed (``kind``, ``key``,
    ``mode``), rendered once (``message``, ``where``)."""

    kind: WarningKind
    message: str
    key: ConfigKey | None = None      # the configuration, and
    mode: str = ""                    # the mode the warning is about
    severity: float = 0.0             # how bad, to name the worst cases of a kind first
    figure: str = ""                  # the case's own figure among the worst ("84%", "n=2")

    @property
    def where(self) -> str:
        """"python 128 MB cold": the configuration and mode."""
        return f"{self.key} {self.mode}" if self.key is not None else ""

    def __str__(self) -> str:
        return self.message


# Kinds that tend to hit many configurations at once: what they say and what to do about
# them. They are printed as one line per kind with a count and the worst cases.
_COMMON = {
    WarningKind.HIGH_SPREAD: (f"the standard deviation is above {SPREAD_LIMIT:.0%} of the mean",
                              "take more samples or quiet the machine, and read the median "
                              "with its interval"),
    WarningKind.TOO_FEW_SAMPLES: (f"fewer than {FEWEST_SAMPLES} valid samples, too few for a "
                                  f"{CONFIDENCE:.0%} interval of the median",
                                  f"take at least {FEWEST_SAMPLES} (--cold, --warm, "
                                  "--provisioned)"),
}


def warning_lines(configs: list["ConfigSummary"], most: int = 3) -> list[str]:
    """The warnings of a run as lines to print, grouped as hyperfine groups them: every
    failure on its own line; a common kind on one line with how many configuration-modes
    it hits and the ``most`` worst of them."""
    warnings = [w for c in configs for w in c.warnings]
    places = sum(len(c.modes) for c in configs)
    lines = []
    for kind in WarningKind:
        of_kind = [w for w in warnings if w.kind is kind]
        if kind not in _COMMON:
            lines.extend(str(w) for w in of_kind)
        elif of_kind:
            what, hint = _COMMON[kind]
            worst = sorted(of_kind, key=lambda w: -w.severity)[:most]
            cases = ", ".join(f"{w.where} {w.figure}" for w in worst)
            if kind is WarningKind.TOO_FEW_SAMPLES:
                hint = _more_samples_hint(of_kind, configs)
            lines.append(f"{what} in {len(of_kind)} of {places} configuration-modes; "
                         f"{'worst: ' if len(of_kind) > most else ''}{cases}; {hint}")
    return lines


def _more_samples_hint(warnings: list[SampleWarning], configs: list["ConfigSummary"]) -> str:
    """Take more samples, with the options that take them: --idle-samples for idle
    configurations (``ConfigSummary.idle_s``), --cold, --warm, --provisioned otherwise."""
    idle = {c.key for c in configs if c.idle_s is not None}
    hit = {w.key in idle for w in warnings}
    options = [*(["--cold, --warm, --provisioned"] if False in hit else []),
               *(["--idle-samples" + (" for the idle ones" if False in hit else "")]
                 if True in hit else [])]
    return f"take at least {FEWEST_SAMPLES} ({'; '.join(options)})"


@dataclass
class ModeSummary:
    mode: str
    figure: Summary | None            # cold start (cold) or duration (warm, provisioned)
    init: Summary | None
    e2e: Summary | None
    # AWS's Init Duration as predicted from each sample (analysis/prediction.py), and the
    # prediction's stated error in percent
    predicted_init: Summary | None
    max_memory: Summary | None
    attempts: int
    failures: int
    misclassified: int
    error_types: dict[str, int]
    prediction_error_pct: float | None = None
    # --via url: what the HTTP client waited for each answer of the function URL
    url: Summary | None = None

    @property
    def predicted_range(self) -> tuple[float, float] | None:
        """The predicted p50 widened by the stated error: where AWS's p50 should fall."""
        if self.predicted_init is None or self.prediction_error_pct is None:
            return None
        spread = self.prediction_error_pct / 100
        return (self.predicted_init.p50 * (1 - spread), self.predicted_init.p50 * (1 + spread))


@dataclass
class ConfigSummary:
    key: ConfigKey
    modes: dict[str, ModeSummary]
    warnings: list[SampleWarning] = field(default_factory=list)
    lambda_runtime: str | None = None   # the Lambda identifier deployed (AWS), if any
    # --idle: the interval its samples were taken after (s), and their CPU architecture
    idle_s: float | None = None
    architecture: str | None = None

    @property
    def function(self) -> str:
        return self.key.function

    @property
    def runtime(self) -> str:
        return self.key.runtime

    @property
    def memory_mb(self) -> int:
        return self.key.memory_mb

    @property
    def variant(self) -> Variant:
        return self.key.variant

    @property
    def label(self) -> str:
        return self.key.label

    @property
    def documented(self) -> reference.Documented | None:
        runtime = find(self.runtime)
        return reference.documented().get(runtime.documented_as) if runtime else None

    @property
    def ok(self) -> bool:
        """Every mode that was asked for produced at least one valid sample."""
        return all(m.figure is not None for m in self.modes.values())


def _summarize_mode(mode: str, samples: list[Sample]) -> ModeSummary:
    valid = [s for s in samples if s.valid]
    return ModeSummary(
        mode=mode,
        figure=summarize([s.figure for s in valid]),
        init=summarize([s.init_ms for s in valid if s.init_ms is not None]),
        e2e=summarize([s.e2e_ms for s in valid if s.e2e_ms is not None]),
        predicted_init=summarize([s.extra["predicted_aws_init_ms"] for s in valid
                                  if s.extra.get("predicted_aws_init_ms") is not None]),
        max_memory=summarize([s.max_memory_mb for s in valid if s.max_memory_mb is not None]),
        attempts=len(samples),
        failures=sum(1 for s in samples if s.error),
        misclassified=sum(1 for s in samples if s.misclassified and not s.error),
        error_types=dict(Counter(s.error.get("type", "?") for s in samples if s.error)),
        prediction_error_pct=max((s.extra["prediction_error_pct"] for s in valid
                                  if s.extra.get("prediction_error_pct") is not None),
                                 default=None),
        url=summarize([s.extra["url_ms"] for s in valid if s.extra.get("url_ms") is not None]),
    )


def _proactive_inits(cold: list[Sample]) -> int:
    """Cold samples that Lambda served from an environment it had initialised before the
    request (proactive initialization: the REPORT had no Init Duration, ``report_cold``)."""
    return sum(1 for s in cold if s.error is None and s.extra.get("report_cold") is False)


def _warnings(config: ConfigSummary, proactive: int = 0) -> list[SampleWarning]:
    """``proactive``: how many cold samples ``_proactive_inits`` found (among the
    misclassified, which they are)."""
    found = []
    for mode, m in config.modes.items():
        where = f"{config.key} {mode}"

        def add(kind: WarningKind, text: str, severity: float = 0.0, figure: str = "") -> None:
            found.append(SampleWarning(kind, f"{where}: {text}", config.key, mode, severity,
                                       figure))

        early = proactive if mode == "cold" else 0
        if early:
            add(WarningKind.PROACTIVE_INIT,
                f"{early} of {m.attempts} cold invocations ({early / m.attempts:.0%}) reached an "
                "environment Lambda had initialised before the request (proactive "
                "initialization: no Init Duration in the REPORT); they are excluded as not cold",
                early / m.attempts, f"{early / m.attempts:.0%}")
        if m.figure is None:
            add(WarningKind.NO_VALID_SAMPLES,
                f"no valid sample out of {m.attempts} ({_errors_text(m)})")
            continue
        if m.failures:
            add(WarningKind.FAILED, f"{m.failures} of {m.attempts} invocations failed "
                                    f"({_errors_text(m)}); they are excluded")
        if m.misclassified - early:
            add(WarningKind.MISCLASSIFIED, f"{m.misclassified - early} samples whose function "
                                           "did not report the expected cold flag were excluded")
        spread = m.figure.relative_spread
        if spread is not None and spread > SPREAD_LIMIT:
            add(WarningKind.HIGH_SPREAD, f"the standard deviation is {spread:.0%} of the mean; "
                                         + _COMMON[WarningKind.HIGH_SPREAD][1],
                spread, f"{spread:.0%}")
        if m.figure.ci_low is None:
            add(WarningKind.TOO_FEW_SAMPLES,
                f"{m.figure.n} valid samples are too few for a {CONFIDENCE:.0%} interval of "
                f"the median; take at least {FEWEST_SAMPLES}"
                f"{' (--idle-samples)' if config.idle_s is not None else ''}",
                FEWEST_SAMPLES - m.figure.n, f"n={m.figure.n}")
    return found


def _errors_text(m: ModeSummary) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in m.error_types.items()) or "none failed"


def _idle_fields(by_mode: dict[str, list[Sample]]) -> dict:
    """``idle_s`` and ``architecture`` of a configuration of idle samples; none otherwise."""
    taken = [s for samples in by_mode.values() for s in samples
             if s.extra.get("idle_s") is not None]
    if not taken:
        return {}
    return {"idle_s": taken[0].extra["idle_s"],
            "architecture": next((s.extra["architecture"] for s in taken
                                  if s.extra.get("architecture")), None)}


def summarize_samples(samples: list[Sample]) -> list[ConfigSummary]:
    """One summary per configuration (``Sample.key``), in the order configurations first
    appear. Profiled samples (`run --profile`) are left out: the profiler's overhead is
    in their Init Duration."""
    groups: dict[ConfigKey, dict[str, list[Sample]]] = {}
    for s in samples:
        if not s.profiled:
            groups.setdefault(s.key, {}).setdefault(s.mode, []).append(s)
    configs = []
    for key, by_mode in groups.items():
        modes = {mode: _summarize_mode(mode, by_mode[mode]) for mode in MODES if mode in by_mode}
        config = ConfigSummary(key, modes, lambda_runtime=next(
            (s.extra["lambda_runtime"] for taken in by_mode.values() for s in taken
             if s.extra.get("lambda_runtime")), None), **_idle_fields(by_mode))
        config.warnings = _warnings(config, _proactive_inits(by_mode.get("cold", [])))
        configs.append(config)
    return configs
