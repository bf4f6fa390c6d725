"""AWS's Runtime Interface Emulator as a control plane: its answers read as coldbench's
samples, and the local target running it as a plain process (``--target local --api rie``)
beside coldbench's own Runtime API."""

import json
import time

import pytest

from coldbench.environments import rie
from coldbench.build import Function, build
from coldbench.workflows.options import RunOptions
from coldbench.workflows.run import run
from coldbench.runtimes import RUNTIMES, get
from coldbench.environments.kernel import running
from coldbench.environments.process import descendants
from coldbench.targets.local.target import LocalTarget
from conftest import coldbench_processes, run_cli


def reply(status, body):
    return rie.Reply(status=status, body=body.encode(), sent_ns=0, received_ns=1)


# The emulator's answers, as it gave them to the fixtures in tests/fixtures/functions.
ANSWERS = [
    (200, '{"runtime": "python", "cold": true}', {"runtime": "python", "cold": True}, None),
    (200, '{"errorMessage": "bad request", "errorType": "ValueError", "requestId": "ab12", '
          '"stackTrace": ["  File \\"app.py\\""]}', None, ("ValueError", "invoke")),
    (200, "Task timed out after 2.00 seconds", None, ("Sandbox.Timedout", "invoke")),
    (502, '{"errorMessage": "configuration missing", "errorType": "RuntimeError", '
          '"requestId": "", "stackTrace": []}', None, ("RuntimeError", "init")),
    (502, '{"errorType":"Runtime.ExitError","errorMessage":"RequestId: c5bf456d Error: '
          'Runtime exited with error: signal: segmentation fault"}',
     None, ("Runtime.ExitError", "invoke")),
    (504, "", None, ("Rie.Http504", "invoke")),
]


@pytest.mark.parametrize("status, body, response, error", ANSWERS)
def test_answers_become_responses_or_errors(status, body, response, error):
    got_response, got_error = rie.outcome(reply(status, body))
    assert got_response == response
    assert ((got_error["type"], got_error["phase"]) if got_error else None) == error


def test_a_response_that_only_looks_like_an_error_is_a_response():
    document = {"errorType": "none", "errorMessage": "", "digest": "8a3d"}
    assert rie.outcome(reply(200, json.dumps(document))) == (document, None)


def test_no_answer_is_an_error():
    _, error = rie.outcome(rie.Reply(None, b"", 0, 1, "timeout"))
    assert error["type"] == "Rie.NoAnswer" and "timeout" in error["message"]


@pytest.mark.slow
def test_every_runtime_under_the_emulator_as_a_process(tmp_path):
    output = tmp_path / "rie.json"
    results = run(RunOptions(runtimes=list(RUNTIMES), memory=[256], cold=2, warm=2,
                             provisioned=0, timeout_s=120, output=output,
                             target_options={"api": "rie"}))
    assert [s.error for s in results.samples if s.error] == []
    for s in results.samples:
        assert s.init_ms is None and s.duration_ms > 0
        assert s.cold is (s.mode == "cold")
        assert 0 < s.max_memory_mb < 256
        if s.mode == "cold":              # the emulator starts the runtime on this request
            assert s.duration_ms < s.extra["first_response_ms"] < s.e2e_ms
    document = json.loads(output.read_text())["run"]
    assert document["api"] == "rie" and document["rie"]["version"] == rie.VERSION
    assert coldbench_processes() == []


@pytest.mark.slow
def test_two_emulators_at_once_and_no_runtime_left_after_sigterm():
    """Each environment has its own invoke and Runtime API ports; closing one stops its
    emulator and the runtime the emulator started (in a process group of its own)."""
    artifact = build(Function.builtin(get("python")))
    target = LocalTarget(timeout_s=60, api="rie")
    try:
        first = target.start(artifact, 256, provisioned=False)
        second = target.start(artifact, 256, provisioned=False)
        answers = [first.invoke({"work": 1}), second.invoke({"work": 1})]
        assert all(a.error is None for a in answers)
        assert answers[0].response["instance_id"] != answers[1].response["instance_id"]
        runtime = descendants(first.sandbox.launcher.pid)
        assert runtime, "the emulator started no runtime"
        first.close()
        time.sleep(0.2)
        assert not any(running(pid) for pid in runtime)
        assert second.invoke({"work": 1}).response["invocation"] == 2
    finally:
        target.close()
    assert coldbench_processes() == []


@pytest.mark.slow
@pytest.mark.parametrize("name, error_type, phase", [
    ("init_error", "RuntimeError", "init"),
    ("handler_error", "ValueError", "invoke"),
    ("timeout", "Sandbox.Timedout", "invoke"),
    ("crash", "Runtime.ExitError", "invoke"),
])
def test_failures_under_the_emulator_are_samples(fixture_function, tmp_path, name,
                                                 error_type, phase):
    output = tmp_path / f"{name}.json"
    result = run_cli("run", "--api", "rie", "--function", fixture_function(name),
                     "--runtime", "python", "--memory", "128", "--cold", 2, "--warm", 1,
                     "--provisioned", 0, "--timeout", 2, "--output", output, "--quiet")
    assert result.returncode == 1, result.stderr
    cold = [s for s in json.loads(output.read_text())["samples"] if s["mode"] == "cold"]
    assert len(cold) >= 2
    assert all((s["error"]["type"], s["error"]["phase"]) == (error_type, phase) for s in cold)
    assert coldbench_processes() == []


@pytest.mark.slow
def test_out_of_memory_under_the_emulator(fixture_function, tmp_path):
    output = tmp_path / "oom.json"
    run_cli("run", "--api", "rie", "--function", fixture_function("oom"), "--runtime",
            "python", "--memory", "128,1024", "--cold", 1, "--warm", 0, "--provisioned", 0,
            "--output", output, "--quiet")
    samples = {s["memory_mb"]: s for s in json.loads(output.read_text())["samples"]}
    assert samples[128]["error"]["type"] == "Runtime.OutOfMemory"
    assert samples[1024]["error"] is None and samples[1024]["max_memory_mb"] > 512


def test_provisioned_is_refused_under_the_emulator():
    result = run_cli("run", "--api", "rie", "--runtimes", "go", "--provisioned", 2)
    assert result.returncode == 2
    assert "--provisioned 0" in result.stderr and result.stderr.count("\n") == 1
