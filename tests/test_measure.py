"""measure.to_sample: how one invocation becomes a sample, and when it is misclassified;
measure.options: what a run is asked to do, as the targets' rules settle it."""

from pathlib import Path

import pytest

from coldbench import runtimes
from coldbench.build import Artifact, Function
from coldbench.errors import UsageError
from coldbench.measure.modes import Config, to_sample
from coldbench.measure.options import RunOptions, check
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
    left = RunOptions(runtimes=["go"], target=target, target_options={"api": "rie"},
                      defaulted=frozenset({"provisioned"}))
    check(left)
    check(left)                                   # checked again: said once
    assert left.provisioned == 0 and left.cold == 10 and left.warm == 20
    assert left.notes == [("--api rie: no provisioned samples (the emulator initialises the "
                           "runtime on the first invocation)")]
    asked = RunOptions(runtimes=["go"], target=target, target_options={"api": "rie"},
                       provisioned=3)
    with pytest.raises(UsageError, match=("cannot measure provisioned concurrency: .* pass "
                                          "--provisioned 0")):
        check(asked)
    nothing_else = RunOptions(runtimes=["go"], target=target, target_options={"api": "rie"},
                              cold=0, warm=0, defaulted=frozenset({"provisioned"}))
    with pytest.raises(UsageError, match="nothing to measure"):
        check(nothing_else)
