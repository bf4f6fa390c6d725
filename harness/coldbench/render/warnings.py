"""A run's typed warnings (``analysis.summary.SampleWarning``) as the lines printed after
its table, grouped as hyperfine groups them."""

from __future__ import annotations

from coldbench.analysis.summary import (CONFIDENCE, FEWEST_SAMPLES, SPREAD_LIMIT, ConfigSummary,
                                        SampleWarning, WarningKind)

__all__ = ["message", "warning_lines"]

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


def where(w: SampleWarning) -> str:
    """"python 128 MB cold": the configuration and mode."""
    return f"{w.key} {w.mode}"


def _errors(w: SampleWarning) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in w.errors) or "none failed"


def _what(w: SampleWarning) -> str:
    if w.kind is WarningKind.PROACTIVE_INIT:
        return (f"{w.count} of {w.attempts} cold invocations ({w.share:.0%}) reached an "
                "environment Lambda had initialised before the request (proactive "
                "initialization: no Init Duration in the REPORT); they are excluded as not cold")
    if w.kind is WarningKind.NO_VALID_SAMPLES:
        return f"no valid sample out of {w.attempts} ({_errors(w)})"
    if w.kind is WarningKind.FAILED:
        return f"{w.count} of {w.attempts} invocations failed ({_errors(w)}); they are excluded"
    if w.kind is WarningKind.MISCLASSIFIED:
        return (f"{w.count} samples whose function did not report the expected cold flag "
                "were excluded")
    if w.kind is WarningKind.HIGH_SPREAD:
        return (f"the standard deviation is {w.spread:.0%} of the mean; "
                + _COMMON[WarningKind.HIGH_SPREAD][1])
    return (f"{w.count} valid samples are too few for a {CONFIDENCE:.0%} interval of the "
            f"median; take at least {FEWEST_SAMPLES}{' (--idle-samples)' if w.idle else ''}")


def message(w: SampleWarning) -> str:
    """The warning on its own: "python 128 MB cold: 2 of 10 invocations failed ..."."""
    return f"{where(w)}: {_what(w)}"


def _figure(w: SampleWarning) -> str:
    """The case's own figure among the worst of its kind: "84%", "n=2"."""
    if w.kind is WarningKind.TOO_FEW_SAMPLES:
        return f"n={w.count}"
    if w.kind is WarningKind.HIGH_SPREAD:
        return f"{w.spread:.0%}"
    return f"{w.share:.0%}" if w.kind is WarningKind.PROACTIVE_INIT else ""


def warning_lines(configs: list[ConfigSummary], most: int = 3) -> list[str]:
    """The warnings of a run as lines to print, grouped as hyperfine groups them: every
    failure on its own line; a common kind on one line with how many configuration-modes
    it hits and the ``most`` worst of them."""
    warnings = [w for c in configs for w in c.warnings]
    places = sum(len(c.modes) for c in configs)
    lines = []
    for kind in WarningKind:
        of_kind = [w for w in warnings if w.kind is kind]
        if kind not in _COMMON:
            lines.extend(message(w) for w in of_kind)
        elif of_kind:
            what, hint = _COMMON[kind]
            worst = sorted(of_kind, key=lambda w: -w.severity)[:most]
            cases = ", ".join(f"{where(w)} {_figure(w)}" for w in worst)
            if kind is WarningKind.TOO_FEW_SAMPLES:
                hint = _more_samples_hint(of_kind)
            lines.append(f"{what} in {len(of_kind)} of {places} configuration-modes; "
                         f"{'worst: ' if len(of_kind) > most else ''}{cases}; {hint}")
    return lines


def _more_samples_hint(warnings: list[SampleWarning]) -> str:
    """Take more samples, with the options that take them: --idle-samples for idle
    configurations, --cold, --warm, --provisioned otherwise."""
    hit = {w.idle for w in warnings}
    options = [*(["--cold, --warm, --provisioned"] if False in hit else []),
               *(["--idle-samples" + (" for the idle ones" if False in hit else "")]
                 if True in hit else [])]
    return f"take at least {FEWEST_SAMPLES} ({'; '.join(options)})"
