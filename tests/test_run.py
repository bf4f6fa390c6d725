"""measure.run.run and its results file: what is written when a run is refused, fails or is
interrupted, and when its id and start time are taken. The target is a small stand-in
implementing ``targets.base.Target`` (its refusals are those of the AWS target: not
confirmed, over --max-cost), and builds are skipped: nothing here starts a runtime."""

import json
from pathlib import Path

import pytest

from coldbench import build, targets
from coldbench.errors import UsageError
from coldbench.workflows import run as running
from coldbench.workflows.options import RunOptions
from coldbench.targets.base import Environment, Invoked, Target


class Cold(Environment):
    def __init__(self, target):
        self.target, self.invocations = target, 0

    def invoke(self, event):
        self.invocations += 1
        self.target.invoked()
        first = self.invocations == 1
        return Invoked(duration_ms=1.5, init_ms=20.25 if first else None,
                       response={"cold": first})

    def close(self):
        self.alive = False


class StandIn(Target):
    name = "stand-in"

    def __init__(self, refuse=None, fail_after=None, interrupt_after=None):
        self.refuse, self.fail_after, self.interrupt_after = refuse, fail_after, interrupt_after
        self.count, self.prepared_at, self.closed = 0, None, False

    def prepare(self, configs, plan):
        self.prepared_at = running.now_iso()
        if self.refuse:
            raise UsageError(self.refuse)
        return configs

    def start(self, artifact, memory_mb, provisioned):
        return Cold(self)

    def invoked(self):
        self.count += 1
        if self.count == self.fail_after:
            raise UsageError("the account's concurrency ran out")
        if self.count == self.interrupt_after:
            raise KeyboardInterrupt

    def close(self):
        self.closed = True


@pytest.fixture
def stand_in(monkeypatch):
    """run() with the stand-in as its target, builds skipped and a clock that ticks once a
    call, so that the order in which times are taken shows."""
    made = {}

    def make(name, options):
        return made["target"]

    ticks = iter(range(100))
    monkeypatch.setattr(targets, "make", make)
    monkeypatch.setattr(build, "build", lambda function, rebuild=False, on_status=None: build.Artifact(
        function, Path("/nonexistent"), "digest", "toolchain"))
    monkeypatch.setattr(running, "now_iso", lambda: f"2026-11-27T06:00:{next(ticks):02d}+00:00")

    def use(target):
        made["target"] = target
        return target
    return use


def options(output, **changes):
    return RunOptions(**({"runtimes": ["go"], "memory": [128], "cold": 2, "warm": 2,
                          "provisioned": 0, "output": output} | changes))


@pytest.mark.parametrize("refusal", ["not confirmed, so nothing was created",
                                     "the plan can cost up to $1.20, above --max-cost $1"])
def test_a_run_refused_before_its_first_sample_writes_nothing(tmp_path, stand_in, refusal):
    target = stand_in(StandIn(refuse=refusal))
    with pytest.raises(UsageError, match=refusal[:20]):
        running.run(options(tmp_path / "run.json"))
    assert target.closed and list(tmp_path.iterdir()) == []
    # nor does it replace the file --force would have replaced
    kept = tmp_path / "kept.json"
    kept.write_text("an earlier run")
    with pytest.raises(UsageError):
        running.run(options(kept, force=True))
    assert kept.read_text() == "an earlier run" and list(tmp_path.iterdir()) == [kept]


def test_the_run_id_and_start_are_taken_when_the_run_starts(tmp_path, stand_in):
    target = stand_in(StandIn())
    results = running.run(options(tmp_path / "run.json"))
    run = json.loads((tmp_path / "run.json").read_text())["run"]
    assert run["started_at"] == "2026-11-27T06:00:00+00:00"    # the first tick, before prepare
    assert target.prepared_at == "2026-11-27T06:00:01+00:00"
    assert run["run_id"] == results.run["run_id"] and run["completed"] is True
    assert run["ended_at"] == "2026-11-27T06:00:02+00:00"
    assert len(json.loads((tmp_path / "run.json").read_text())["samples"]) == 4


def test_a_run_that_fails_after_measuring_keeps_what_it_measured(tmp_path, stand_in):
    stand_in(StandIn(fail_after=3))
    with pytest.raises(UsageError):
        running.run(options(tmp_path / "run.json"))
    document = json.loads((tmp_path / "run.json").read_text())
    assert len(document["samples"]) == 2
    assert document["run"]["completed"] is False and document["run"]["ended_at"]


def test_an_interrupted_run_completes_its_file(tmp_path, stand_in):
    stand_in(StandIn(interrupt_after=2))
    with pytest.raises(KeyboardInterrupt):
        running.run(options(tmp_path / "run.json"))
    document = json.loads((tmp_path / "run.json").read_text())
    assert len(document["samples"]) == 1 and document["run"]["completed"] is False
    assert document["run"]["ended_at"] == "2026-11-27T06:00:02+00:00"


def test_a_cold_samples_billed_ms_includes_its_init(tmp_path, stand_in):
    stand_in(StandIn())
    results = running.run(options(tmp_path / "run.json", warm=1))
    # cold: ceil(20.25 + 1.5) = 22, as Lambda bills INIT since 2025-08-01; warm: ceil(1.5)
    assert [(s.mode, s.billed_ms) for s in results.samples] == [("cold", 22.0), ("cold", 22.0),
                                                                 ("warm", 2.0)]
