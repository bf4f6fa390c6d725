"""The local target's Lambda-shaped code path (--delivery lambda): every environment reads
its function's code cold from a read-only image on a loop device of its own."""

import json
import os
from pathlib import Path

import pytest

from coldbench.build import Function, build
from coldbench.environments import delivery
from coldbench.measure.modes import Config
from coldbench.runtimes import get
from coldbench.targets.local.target import LocalTarget
from conftest import run_cli

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or not Path("/dev/loop-control").exists(),
                                 reason="loop devices need root and /dev/loop-control")]


def _attached() -> set[str]:
    return {device for device, _ in delivery.leftovers()}


def test_every_cold_start_reads_its_code_from_its_own_device():
    artifact = build(Function.builtin(get("go")))
    before = _attached()
    target = LocalTarget(timeout_s=30, delivery="lambda")
    try:
        target.prepare([Config(artifact, 512)], None)     # packs the image, before any clock
        assert target.code_image(artifact).is_file()
        reads = []
        for _ in range(3):
            environment = target.start(artifact, 512, provisioned=False)
            invoked = environment.invoke({"work": 1})
            assert invoked.error is None and invoked.response["cold"] is True
            reads.append(invoked.extra["init_read_mb"])
            # the image is mounted in the runtime's own mount namespace, not in this one
            assert str(artifact.task_root) not in Path("/proc/self/mountinfo").read_text()
            environment.close()
        # cold each time: the whole bootstrap binary, not a page less on the second start
        bootstrap_mb = (artifact.task_root / "bootstrap").stat().st_size / 1e6
        assert all(read > bootstrap_mb / 2 for read in reads), reads
        assert max(reads) - min(reads) < 0.5, reads
    finally:
        target.close()
    assert _attached() <= before           # every device went with its environment


def test_a_run_records_the_delivery_and_what_init_read(tmp_path):
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "python", "--memory", "256", "--cold", "2",
                     "--warm", "1", "--provisioned", "1", "--delivery", "lambda",
                     "--output", output, "--quiet")
    assert result.returncode == 0, result.stderr
    document = json.loads(output.read_text())
    assert document["run"]["delivery"] == "lambda"
    cold = [s for s in document["samples"] if s["mode"] == "cold"]
    assert cold and all(s["init_read_mb"] > 0 for s in cold)


def test_without_cgroups_the_code_path_is_refused_with_the_way_out(tmp_path):
    result = run_cli("run", "--runtimes", "go", "--no-limits", "--delivery", "lambda",
                     "--output", tmp_path / "run.json")
    assert result.returncode == 2
    assert "--delivery host" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run.json").exists()
