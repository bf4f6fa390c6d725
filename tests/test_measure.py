"""measure.to_sample: how one invocation becomes a sample, and when it is misclassified."""

from pathlib import Path

from coldbench import runtimes
from coldbench.build import Artifact, Function
from coldbench.measure.modes import Config, to_sample
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
