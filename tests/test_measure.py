"""measure.to_sample: how one invocation becomes a sample, and when it is misclassified;
measure.options: what a run is asked to do, as the targets' rules settle it."""

from pathlib import Path

import pytest

from coldbench import runtimes
from coldbench.build import Artifact, Function
from coldbench.errors import UsageError
from coldbench.measure.modes import Config, to_sample
from coldbench.workflows.options import RunOptions, check
from coldbench.targets.base import Invoked

CONFIG = Config(Artifact(Function.builtin(runtimes.get("python")), Path("/nonexistent"),
                         "digest", "toolchain"), 128)


def invoked(**extra) -> Invoked:
    # the function says it was cold, as it does on a proactively initialised environment
    return Invoked(duration_ms=2.0, init_ms=None, response={"cold": True}, e2e_ms=5.0,
                   extra=extra)


def test_a_cold_sample_whose_report_has_no_init_duration_is_misclassified():
    sample = to_sample(CONFIG, "cold", invoked(report_cold=False), None)
    assert sample.cold is True and sample.misclassified


def test_a_cold_sample_whose_report_shows_init_is_valid():
    assert not to_sample(CONFIG, "cold", invoked(report_cold=True), None).misclassified


def test_samples_without_a_report_are_judged_by_the_function_alone():
    # local and Docker targets have no REPORT line: no report_cold key
    assert not to_sample(CONFIG, "cold", invoked(), None).misclassified
    assert to_sample(CONFIG, "warm", invoked(), None).misclassified
    # a warm sample's REPORT line has no Init Duration either: that is as expected
    warm = Invoked(duration_ms=1.0, response={"cold": False}, extra={"report_cold": False})
    assert not to_sample(CONFIG, "warm", warm, None).misclassified


@pytest.mark.parametrize("target", ["local", "docker"])
def test_under_the_emulator_provisioned_samples_left_at_their_default_are_dropped(target):
    asked_for = RunOptions(runtimes=["go"], target=target, target_options={"api": "rie"},
                           defaulted=frozenset({"provisioned"}))
    left = check(check(asked_for))                # checked again: said once
    assert left.provisioned == 0 and left.cold == 10 and left.warm == 20
    assert left.notes == (("--api rie: no provisioned samples (the emulator initialises the "
                           "runtime on the first invocation)"),)
    # what the caller made is left as it was
    assert asked_for.provisioned == 6 and asked_for.notes == ()
    asked = RunOptions(runtimes=["go"], target=target, target_options={"api": "rie"},
                       provisioned=3)
    with pytest.raises(UsageError, match=("cannot measure provisioned concurrency: .* pass "
                                          "--provisioned 0")):
        check(asked)
    nothing_else = RunOptions(runtimes=["go"], target=target, target_options={"api": "rie"},
                              cold=0, warm=0, defaulted=frozenset({"provisioned"}))
    with pytest.raises(UsageError, match="nothing to measure"):
        check(nothing_else)


class _Sweep:
    """A target whose idle sweep yields the given (interval, invocation) pairs, in order,
    for CONFIG: what the filing rule of ``sweeps.idle`` sees from any target."""

    name = "sweep"

    def __init__(self, yielded):
        self.yielded = yielded

    def idle(self, configs, intervals_s, samples, event):
        for idle_s, result in self.yielded:
            yield configs[0], idle_s, result


def _swept(yielded) -> list[tuple[str, str, bool]]:
    from coldbench.model import Plan
    from coldbench.workflows.sweeps import idle

    recorded = []
    plan = Plan(0, 0, 0, {}, idle=(300.0, 3600.0), idle_samples=3)
    idle(_Sweep(yielded), [CONFIG], plan, recorded.append)
    return [(s.variant.label(), s.mode, s.error is not None) for s in recorded]


def _reported(cold: bool) -> Invoked:
    return Invoked(duration_ms=2.0, init_ms=100.0 if cold else None, response={"cold": cold},
                   extra={"report_cold": cold})


def _failed() -> Invoked:       # no REPORT, no response: no word on the mode
    return Invoked(duration_ms=None, error={"type": "Coldbench.NoReport", "phase": "invoke"})


def test_an_idle_failure_without_a_report_is_filed_in_the_mode_of_its_configuration():
    from coldbench.analysis.summary import summarize_samples
    from coldbench.model import Plan
    from coldbench.workflows.sweeps import idle

    # 1h: a failure before and one after two cold samples; 5m: two warm, then a failure
    yielded = [(3600.0, _failed()), (3600.0, _reported(True)), (300.0, _reported(False)),
               (3600.0, _reported(True)), (300.0, _reported(False)), (300.0, _failed()),
               (3600.0, _failed())]
    assert _swept(yielded) == [
        ("idle 1h", "cold", True), ("idle 1h", "cold", False), ("idle 5m", "warm", False),
        ("idle 1h", "cold", False), ("idle 5m", "warm", False), ("idle 5m", "warm", True),
        ("idle 1h", "cold", True)]
    # so the all-cold configuration has no "warm: no valid sample" failure, only its own
    recorded = []
    idle(_Sweep(yielded), [CONFIG], Plan(0, 0, 0, {}, idle=(300.0, 3600.0), idle_samples=3),
         recorded.append)
    hour = next(c for c in summarize_samples(recorded) if c.idle_s == 3600.0)
    assert list(hour.modes) == ["cold"] and hour.ok
    assert [w.kind.value for w in hour.warnings] == ["failed", "too-few-samples"]


def test_an_idle_configuration_whose_samples_all_failed_files_them_as_cold():
    # a failure whose REPORT says warm keeps its mode: Lambda said what served it
    failed_warm = Invoked(duration_ms=3.0, error={"type": "Unhandled"},
                          extra={"report_cold": False})
    assert _swept([(300.0, _failed()), (300.0, failed_warm), (300.0, _failed())]) == [
        ("idle 5m", "warm", True), ("idle 5m", "cold", True), ("idle 5m", "cold", True)]
