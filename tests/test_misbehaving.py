"""Functions that fail are data, not crashes: each failure is a sample with its error, the
run goes on, the exit status says so, and nothing is left running."""

import json
import signal
import subprocess
import sys
import time

import pytest

from coldbench.errors import ResultsError
from coldbench.analysis.history import History

from conftest import coldbench_processes, run_cli

pytestmark = pytest.mark.slow


def measure(fixture_function, name, tmp_path, *extra, memory="128", timeout=2):
    output = tmp_path / f"{name}.json"
    result = run_cli("run", "--function", fixture_function(name), "--runtime", "python",
                     "--memory", memory, "--cold", 2, "--warm", 2, "--provisioned", 1,
                     "--timeout", timeout, "--output", output, "--quiet", *extra)
    samples = json.loads(output.read_text())["samples"]
    return result, samples


@pytest.mark.parametrize("name, error_type, phase", [
    ("init_error", "RuntimeError", "init"),
    ("handler_error", "ValueError", "invoke"),
    ("timeout", "Sandbox.Timedout", "invoke"),
    ("crash", "Runtime.ExitError", "invoke"),
])
def test_each_failure_is_a_sample_with_its_error(fixture_function, tmp_path, name, error_type, phase):
    result, samples = measure(fixture_function, name, tmp_path)
    assert result.returncode == 1, result.stderr            # no valid sample: exit status 1
    cold = [s for s in samples if s["mode"] == "cold"]
    assert len(cold) >= 2
    for s in cold:
        assert s["error"]["type"] == error_type and s["error"]["phase"] == phase
    assert {s["mode"] for s in samples} == {"cold", "warm", "provisioned"}
    assert "failed" in result.stdout                        # a visible row in the table
    assert "no valid sample" in result.stderr
    assert coldbench_processes() == []


def test_a_timed_out_invocation_is_cut_at_the_timeout(fixture_function, tmp_path):
    started = time.monotonic()
    _, samples = measure(fixture_function, "timeout", tmp_path)
    timed_out = [s for s in samples if s["error"] and s["error"]["type"] == "Sandbox.Timedout"]
    assert timed_out
    assert all(1900 < s["duration_ms"] < 4000 for s in timed_out)
    assert time.monotonic() - started < 60


def test_crash_error_names_the_signal(fixture_function, tmp_path):
    _, samples = measure(fixture_function, "crash", tmp_path)
    assert "signal: SIGSEGV" in samples[0]["error"]["message"]


def test_out_of_memory_is_the_limit_at_work(fixture_function, tmp_path):
    """512 MB do not fit in 128 MB (out of memory) but fit in 1024 MB: the limit is real."""
    # Touching 512 MB takes about 0.5 s at 1024 MB's share of a CPU on a quiet machine:
    # a timeout well above it, so that a busy machine's slower invocation is no error.
    result, samples = measure(fixture_function, "oom", tmp_path, memory="128,1024", timeout=30)
    small = [s for s in samples if s["memory_mb"] == 128 and s["mode"] == "cold"]
    large = [s for s in samples if s["memory_mb"] == 1024]
    assert small and all(s["error"]["type"] == "Runtime.OutOfMemory" for s in small)
    assert large and all(s["error"] is None for s in large), [s["error"] for s in large]
    assert all(s["max_memory_mb"] > 512 for s in large if s["mode"] == "cold")
    assert result.returncode == 1          # one configuration produced no valid sample


def test_some_failures_with_valid_samples_in_every_mode_exit_0(fixture_function, tmp_path):
    result, samples = measure(fixture_function, "flaky", tmp_path)
    assert result.returncode == 0, result.stderr
    failed = [s for s in samples if s["error"]]
    assert [s["mode"] for s in failed] == ["warm"]           # the warm environment's 2nd call
    assert failed[0]["error"]["type"] == "RuntimeError"
    assert "1 of 2 invocations failed (RuntimeError x1)" in result.stderr


def test_a_run_of_two_healthy_runtimes_prints_both_and_exits_0(tmp_path):
    result = run_cli("run", "--runtimes", "python,go", "--memory", "256", "--cold", 2,
                     "--warm", 2, "--provisioned", 1, "--quiet", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert {c["runtime"] for c in json.loads(result.stdout)} == {"python", "go"}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_keeps_its_samples_and_leaves_nothing(tmp_path, sig):
    output = tmp_path / "interrupted.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--runtimes", "python,java",
         "--memory", "128,512", "--cold", "50", "--output", output, "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if output.exists() and len(json.loads(output.read_text())["samples"]) >= 3:
            break
        time.sleep(0.1)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and len(stderr.strip().splitlines()) == 1
    document = json.loads(output.read_text())
    assert len(document["samples"]) >= 3 and document["run"]["ended_at"]
    assert document["run"]["completed"] is False
    with pytest.raises(ResultsError, match="interrupted or failed"):
        History(tmp_path / "history").add(output)
    assert coldbench_processes() == []
