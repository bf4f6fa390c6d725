"""A prediction does not move with the machine's speed: the same function predicted on this
machine as it is and with four busy processes beside the run (each in a session of its own,
for the whole run) differs by at most 15 %, while the load did slow the local init."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from coldbench.model import median
from conftest import run_cli

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or not Path("/dev/loop-control").exists(),
                                 reason="loop devices need root and /dev/loop-control")]

BUSY = 4
COLD = 16

# Init work of the kinds real functions do: importing modules (the standard library's,
# bytecode read and executed) and building data in pure Python; the response is the
# contract's (functions/README.md).
FUNCTION = '''
import email.parser, http.client, json, decimal, xml.dom.minidom, logging.handlers
import urllib.request, asyncio, argparse, dataclasses, fractions, statistics, csv
import os, platform, secrets

TABLE = {f"key-{i}": [i * j for j in range(40)] for i in range(6000)}
DOCUMENT = json.loads(json.dumps(TABLE))
INSTANCE_ID = secrets.token_hex(8)
invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    return {"runtime": "python", "runtime_version": platform.python_version(),
            "cold": invocations == 1, "instance_id": INSTANCE_ID,
            "invocation": invocations, "initialization_type": "on-demand",
            "work": 0, "digest": ""}
'''


def measure(function: Path, output: Path) -> dict:
    result = run_cli("run", "--function", function, "--runtime", "python", "--memory", "128",
                     "--cold", COLD, "--warm", "0", "--provisioned", "0", "--output", output,
                     "--quiet", timeout=1800)
    assert result.returncode == 0, result.stderr
    document = json.loads(output.read_text())
    samples = [s for s in document["samples"] if s["mode"] == "cold" and s["error"] is None]

    def of(name, field):
        return median(s[field] for s in samples if s["function"] == name)
    prediction = document["run"]["prediction"]
    # the hello reference was measured for the prediction alone: not among the samples
    assert {s["function"] for s in samples} == {function.name}
    return {"init": of(function.name, "init_ms"),
            "cpu": median(s["init_cpu_user_ms"] + s["init_cpu_system_ms"] for s in samples),
            "hello_init": prediction["hello_reference"]["python 128 MB"]["init_ms"],
            "predicted": of(function.name, "predicted_aws_init_ms"), "prediction": prediction}


def start_busy() -> list[subprocess.Popen]:
    """Busy processes, each in a session (and process group) of its own."""
    return [subprocess.Popen(["setsid", sys.executable, "-c", "while True: pass"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(BUSY)]


def stop_busy(busy: list[subprocess.Popen]) -> None:
    for process in busy:      # setsid execs in place (a child of a non-leader): same pid
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def test_a_loaded_machine_predicts_what_a_quiet_one_does(tmp_path):
    function = tmp_path / "init-work"
    function.mkdir()
    (function / "app.py").write_text(FUNCTION)
    quiet = measure(function, tmp_path / "quiet.json")
    busy = start_busy()
    try:
        loaded = measure(function, tmp_path / "loaded.json")
    finally:
        stop_busy(busy)
    slowdown = loaded["init"] / quiet["init"] - 1
    moved = loaded["predicted"] / quiet["predicted"] - 1
    print(f"local init {quiet['init']:.1f} -> {loaded['init']:.1f} ms ({slowdown:+.0%}), "
          f"its CPU time {quiet['cpu']:.0f} -> {loaded['cpu']:.0f} ms, "
          f"hello {quiet['hello_init']:.1f} -> {loaded['hello_init']:.1f} ms, CPU reference "
          f"{quiet['prediction']['cpu_reference_ms']:.1f} -> "
          f"{loaded['prediction']['cpu_reference_ms']:.1f} ms (its CPU time "
          f"{quiet['prediction']['cpu_reference_cpu_ms']:.1f} -> "
          f"{loaded['prediction']['cpu_reference_cpu_ms']:.1f} ms); predicted "
          f"{quiet['predicted']:.1f} -> {loaded['predicted']:.1f} ms ({moved:+.0%})")
    assert slowdown >= 0.30, "the busy processes did not slow the local init by 30 %"
    assert abs(moved) <= 0.15
    # the results say what the prediction was made against
    assert quiet["prediction"]["hello_reference"]["python 128 MB"]["n"] == COLD
    assert "generated functions" in quiet["prediction"]["cpu_reference"]


COUNTED = '''
import platform, subprocess, time

HELPER = subprocess.Popen(["sleep", "60"])           # a process started at init, alive
PAGES = bytearray(64 * 1024 * 1024)                  # 16,384 pages, each touched
for i in range(0, len(PAGES), 4096):
    PAGES[i] = 1
deadline = time.process_time() + 0.3                 # 300 ms of CPU (its clock: system)
while time.process_time() < deadline:
    pass
invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    return {"runtime": "python", "runtime_version": platform.python_version(),
            "cold": invocations == 1, "instance_id": "counted",
            "invocation": invocations, "initialization_type": "on-demand",
            "work": 0, "digest": ""}
'''


def test_each_cold_sample_counts_what_its_init_did(tmp_path):
    function = tmp_path / "counted"
    function.mkdir()
    (function / "app.py").write_text(COUNTED)
    output = tmp_path / "run.json"
    result = run_cli("run", "--function", function, "--runtime", "python", "--memory", "512",
                     "--cold", "2", "--warm", "0", "--provisioned", "0", "--output", output,
                     "--quiet")
    assert result.returncode == 0, result.stderr
    document = json.loads(output.read_text())
    samples = [s for s in document["samples"] if s["mode"] == "cold"]
    hello = document["run"]["prediction"]["reference_samples"]
    assert len(samples) == 2 and len(hello) == 2
    for s in samples:
        # its 300 ms of CPU (10 ms ticks; reading the process's CPU clock is a system call)
        assert s["init_cpu_user_ms"] + s["init_cpu_system_ms"] >= 250
        assert s["init_page_faults"] >= 16384        # every page it touched
        assert s["init_processes"] >= 2              # the runtime and the process it left
        assert s["cpu_reference_ms"] > 0 and s["spawn_reference_ms"] > 0


def test_arch_arm64_predicts_for_graviton_from_this_machine_and_says_so(tmp_path):
    output = tmp_path / "arm.json"
    result = run_cli("run", "--runtimes", "go", "--arch", "arm64", "--memory", "128",
                     "--cold", "3", "--warm", "0", "--provisioned", "0", "--output", output)
    assert result.returncode == 0, result.stderr
    assert "a prediction across architectures" in result.stderr
    document = json.loads(output.read_text())
    prediction = document["run"]["prediction"]
    assert prediction["architecture"] == "arm64"
    assert prediction["aws_hello_ms"] == {"go": 42.1}          # the published arm64 figure
    # the built-in function is its own reference: its prediction is the published figure
    predicted = [s["predicted_aws_init_ms"] for s in document["samples"]]
    assert median(predicted) == pytest.approx(42.1, abs=0.5)
    # one architecture only, refused before anything is measured
    refused = run_cli("run", "--runtimes", "go", "--arch", "arm64,x86_64",
                      "--output", tmp_path / "both.json")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "both.json").exists()
