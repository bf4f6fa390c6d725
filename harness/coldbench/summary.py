"""Raw samples -> one summary per configuration (function, runtime, memory size), with
typed warnings. Every figure here is computed from the samples of a results file.

Which figure stands for each mode:
- cold: the cold start, Init Duration + Duration (``phases.cold_start_ms``)
- warm and provisioned: Duration
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from coldbench import reference
from coldbench.phases import cold_start_ms
from coldbench.results import MODES, Sample
from coldbench.runtimes import RUNTIMES
from coldbench.stats import CONFIDENCE, SPREAD_LIMIT, Summary, summarize


class WarningKind(Enum):
    HIGH_SPREAD = "high-spread"
    TOO_FEW_SAMPLES = "too-few-samples"
    MISCLASSIFIED = "misclassified"
    FAILED = "failed"
    NO_VALID_SAMPLES = "no-valid-samples"


@dataclass(frozen=True)
class Warning:
    kind: WarningKind
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class ModeSummary:
    mode: str
    figure: Summary | None            # cold start (cold) or duration (warm, provisioned)
    init: Summary | None
    e2e: Summary | None
    max_memory: Summary | None
    attempts: int
    failures: int
    misclassified: int
    error_types: dict[str, int]


@dataclass
class ConfigSummary:
    function: str
    runtime: str
    memory_mb: int
    modes: dict[str, ModeSummary]
    warnings: list[Warning] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.runtime if self.function == "coldbench" else f"{self.function} ({self.runtime})"

    @property
    def documented(self) -> reference.Documented | None:
        runtime = RUNTIMES.get(self.runtime)
        return reference.documented().get(runtime.documented_as) if runtime else None

    @property
    def ok(self) -> bool:
        """Every mode that was asked for produced at least one valid sample."""
        return all(m.figure is not None for m in self.modes.values())


def figure_of(sample: Sample) -> float | None:
    if sample.mode == "cold":
        return cold_start_ms(sample.init_ms, sample.duration_ms)
    return sample.duration_ms


def _summarize_mode(mode: str, samples: list[Sample]) -> ModeSummary:
    valid = [s for s in samples if s.valid]
    errors: dict[str, int] = {}
    for s in samples:
        if s.error:
            errors[s.error.get("type", "?")] = errors.get(s.error.get("type", "?"), 0) + 1
    return ModeSummary(
        mode=mode,
        figure=summarize([figure_of(s) for s in valid]),
        init=summarize([s.init_ms for s in valid if s.init_ms is not None]),
        e2e=summarize([s.e2e_ms for s in valid if s.e2e_ms is not None]),
        max_memory=summarize([s.max_memory_mb for s in valid if s.max_memory_mb is not None]),
        attempts=len(samples),
        failures=sum(1 for s in samples if s.error),
        misclassified=sum(1 for s in samples if s.misclassified and not s.error),
        error_types=errors,
    )


def _warnings(config: ConfigSummary) -> list[Warning]:
    found = []
    where = f"{config.label} {config.memory_mb} MB"
    for mode, m in config.modes.items():
        if m.figure is None:
            found.append(Warning(WarningKind.NO_VALID_SAMPLES,
                                 f"{where} {mode}: no valid sample out of {m.attempts} "
                                 f"({_errors_text(m)})"))
            continue
        if m.failures:
            found.append(Warning(WarningKind.FAILED,
                                 f"{where} {mode}: {m.failures} of {m.attempts} invocations "
                                 f"failed ({_errors_text(m)}); they are excluded"))
        if m.misclassified:
            found.append(Warning(WarningKind.MISCLASSIFIED,
                                 f"{where} {mode}: {m.misclassified} samples whose function "
                                 f"did not report the expected cold flag were excluded"))
        spread = m.figure.relative_spread
        if spread is not None and spread > SPREAD_LIMIT:
            found.append(Warning(WarningKind.HIGH_SPREAD,
                                 f"{where} {mode}: the standard deviation is {spread:.0%} of the "
                                 "mean; take more samples or quiet the machine, and read the "
                                 "median with its interval"))
        if m.figure.ci_low is None:
            found.append(Warning(WarningKind.TOO_FEW_SAMPLES,
                                 f"{where} {mode}: {m.figure.n} valid samples are too few for a "
                                 f"{CONFIDENCE:.0%} interval of the median; take at least 6"))
    return found


def _errors_text(m: ModeSummary) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in m.error_types.items()) or "none failed"


def summarize_samples(samples: list[Sample]) -> list[ConfigSummary]:
    """One summary per configuration, in the order configurations first appear."""
    groups: dict[tuple[str, str, int], dict[str, list[Sample]]] = {}
    for s in samples:
        groups.setdefault((s.function, s.runtime, s.memory_mb), {}).setdefault(s.mode, []).append(s)
    configs = []
    for (function, runtime, memory_mb), by_mode in groups.items():
        modes = {mode: _summarize_mode(mode, by_mode[mode]) for mode in MODES if mode in by_mode}
        config = ConfigSummary(function, runtime, memory_mb, modes)
        config.warnings = _warnings(config)
        configs.append(config)
    return configs
