"""The local target's Lambda-shaped code path (--delivery lambda): every environment reads
its function's code cold from a read-only image on a loop device of its own."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coldbench.build import Function, build
from coldbench.environments import delivery
from coldbench.measure.modes import Config
from coldbench.runtimes import get
from coldbench.targets.local.target import LocalTarget
from conftest import invoke_once, run_cli

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


def test_the_runtimes_own_files_are_read_warm_and_the_functions_cold():
    # Java's runtime.jsa (~20 MB) and the client's jars are the runtime's, as on Lambda:
    # init reads only the function's own jar from the image
    artifact = build(Function.builtin(get("java")))
    runtime_bytes = sum(f.stat().st_size for f in get("java").runtime_files(artifact.task_root)
                        if f.is_file())
    assert runtime_bytes > 10e6
    invoked = invoke_once(LocalTarget(timeout_s=60, delivery="lambda"), artifact, 1024)
    assert invoked.error is None and invoked.response["cold"] is True
    function_jar = next(artifact.task_root.glob("lib/coldbench-function-*.jar")).stat().st_size
    assert 0 < invoked.extra["init_read_mb"] * 1e6 < function_jar + 2e6, invoked.extra


def _module_function(folder: Path, megabytes: int) -> Path:
    """A Python function whose init imports a module of ``megabytes`` MB."""
    folder.mkdir()
    (folder / "app.py").write_text(
        "import blob\n\ndef handler(event, context):\n    return {'cold': True, 'size': len(blob.DATA)}\n")
    line = "".join(chr(97 + i % 26) for i in range(999)) + "\\n"
    (folder / "blob.py").write_text(f'DATA = "{line * (megabytes * 1000)}"\n')
    return folder


def test_a_lower_read_bandwidth_slows_init_by_the_bytes_over_it(tmp_path):
    from coldbench.analysis import prediction

    function = _module_function(tmp_path / "heavy", 20)
    bandwidth_mb_s = 20
    slow = tmp_path / "slow-calibration.json"
    prediction.save(prediction.Calibration(1.0, 0.0, read_mb_per_s=bandwidth_mb_s), slow)
    inits = {}
    for name, calibration in (("fast", []), ("slow", ["--calibration", slow])):
        output = tmp_path / f"{name}.json"
        result = run_cli("run", "--function", function, "--runtime", "python", "--memory",
                         "1024", "--cold", "3", "--warm", "0", "--provisioned", "0",
                         "--output", output, "--quiet", *calibration)
        assert result.returncode == 0, result.stderr
        document = json.loads(output.read_text())
        samples = document["samples"]
        assert len(samples) == 3 and all(s["error"] is None for s in samples), samples
        inits[name] = (sorted(s["init_ms"] for s in samples)[1],
                       sorted(s["init_read_mb"] for s in samples)[1])
    assert document["run"]["code_path"]["read_mb_per_s"] == bandwidth_mb_s
    read_mb = inits["slow"][1]
    assert read_mb > 20                  # the module's compiled form, read cold
    expected_ms = read_mb / bandwidth_mb_s * 1000
    # The kernel grants bandwidth in 100 ms slices, the first at once: the throttled read
    # takes bytes / bandwidth less up to one slice; allow as much again for the machine.
    slowed = inits["slow"][0] - inits["fast"][0]
    assert expected_ms - 250 < slowed < expected_ms + 150, (inits, expected_ms)


def test_without_loop_devices_the_run_is_refused_naming_delivery_host(tmp_path):
    # /dev/loop-control made /dev/null, in a mount namespace of the test's own
    output = tmp_path / "run.json"
    script = (f"mount --bind /dev/null /dev/loop-control && exec {sys.executable} -m coldbench "
              f"run --runtimes go --memory 128 --cold 1 --warm 0 --provisioned 0 "
              f"--output {output}")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("coldbench:")]
    assert len(errors) == 1 and "--delivery host" in errors[0], result.stderr
    assert not output.exists()
