"""Raw samples -> one summary per configuration (function, runtime, memory size), with
typed warnings. Every figure here is computed from the samples of a results file.

Which figure stands for each mode:
- cold: the cold start, Init Duration + Duration (``phases.cold_start_ms``)
- warm and provisioned: Duration
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from coldbench.analysis import reference
from coldbench.phases import cold_start_ms
from coldbench.results.schema import MODES, Sample
from coldbench.runtimes import RUNTIMES
from coldbench.analysis.stats import CONFIDENCE, SPREAD_LIMIT, Summary, summarize


class WarningKind(Enum):
    """In the order they are printed: what failed first, what to read with care after."""

    NO_VALID_SAMPLES = "no-valid-samples"
    FAILED = "failed"
    MISCLASSIFIED = "misclassified"
    HIGH_SPREAD = "high-spread"
    TOO_FEW_SAMPLES = "too-few-samples"


@dataclass(frozen=True)
class Warning:
    kind: WarningKind
    message: str
    where: str = ""                   # "python 128 MB cold": the configuration and mode

    def __str__(self) -> str:
        return self.message


# Kinds that tend to hit many configurations at once, and what to do about them; they are
# printed as one line each when they do.
_COMMON = {
    WarningKind.HIGH_SPREAD: ("the standard deviation is above 10% of the mean",
                              "take more samples or quiet the machine, and read the median "
                              "with its interval"),
    WarningKind.TOO_FEW_SAMPLES: ("fewer than 6 valid samples, too few for a 95% interval of "
                                  "the median", "take at least 6 (--cold, --warm, --provisioned)"),
}


def warning_lines(configs: list["ConfigSummary"], most: int = 3) -> list[str]:
    """The warnings of a run as lines to print: failures one by one; a common kind that
    hits more than ``most`` places as one line naming them."""
    warnings = [w for c in configs for w in c.warnings]
    lines = []
    for kind in WarningKind:
        of_kind = [w for w in warnings if w.kind is kind]
        if kind in _COMMON and len(of_kind) > most:
            what, hint = _COMMON[kind]
            lines.append(f"{what} in {len(of_kind)} places ({', '.join(w.where for w in of_kind)}): "
                         f"{hint}")
        else:
            lines.extend(str(w) for w in of_kind)
    return lines


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
    variant: str | None = None        # the samples' "variant" (e.g. "arm64" on AWS)

    @property
    def label(self) -> str:
        name = self.runtime if self.function == "coldbench" else f"{self.function} ({self.runtime})"
        return name if self.variant is None else f"{name} {self.variant}"

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
    for mode, m in config.modes.items():
        where = f"{config.label} {config.memory_mb} MB {mode}"

        def add(kind: WarningKind, text: str) -> None:
            found.append(Warning(kind, f"{where}: {text}", where))

        if m.figure is None:
            add(WarningKind.NO_VALID_SAMPLES,
                f"no valid sample out of {m.attempts} ({_errors_text(m)})")
            continue
        if m.failures:
            add(WarningKind.FAILED, f"{m.failures} of {m.attempts} invocations failed "
                                    f"({_errors_text(m)}); they are excluded")
        if m.misclassified:
            add(WarningKind.MISCLASSIFIED, f"{m.misclassified} samples whose function did not "
                                           "report the expected cold flag were excluded")
        spread = m.figure.relative_spread
        if spread is not None and spread > SPREAD_LIMIT:
            add(WarningKind.HIGH_SPREAD, f"the standard deviation is {spread:.0%} of the mean; "
                                         + _COMMON[WarningKind.HIGH_SPREAD][1])
        if m.figure.ci_low is None:
            add(WarningKind.TOO_FEW_SAMPLES, f"{m.figure.n} valid samples are too few for a "
                                             f"{CONFIDENCE:.0%} interval of the median; take at least 6")
    return found


def _errors_text(m: ModeSummary) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in m.error_types.items()) or "none failed"


def summarize_samples(samples: list[Sample]) -> list[ConfigSummary]:
    """One summary per configuration (function, runtime, memory size and the target's
    variant, if any), in the order configurations first appear."""
    groups: dict[tuple[str, str, int, str | None], dict[str, list[Sample]]] = {}
    for s in samples:
        key = (s.function, s.runtime, s.memory_mb, s.extra.get("variant"))
        groups.setdefault(key, {}).setdefault(s.mode, []).append(s)
    configs = []
    for (function, runtime, memory_mb, variant), by_mode in groups.items():
        modes = {mode: _summarize_mode(mode, by_mode[mode]) for mode in MODES if mode in by_mode}
        config = ConfigSummary(function, runtime, memory_mb, modes, variant=variant)
        config.warnings = _warnings(config)
        configs.append(config)
    return configs
