"""The AWS target end to end against stand-ins that speak AWS's wire protocol: moto's
server for the control plane (behind a small proxy for provisioned concurrency and
throttling, see aws_standin.py) and `coldbench serve` for Invoke. Real boto3 over HTTP;
nothing in boto3 is patched. No AWS account is involved."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from aws_standin import DUMMY_ENVIRONMENT, Serve, StandIn, functions_in, left_in, restored
from conftest import run_cli

pytestmark = [pytest.mark.aws, pytest.mark.slow]

REGION = "us-east-1"
# dummy credentials, recognisable so that a leak would be seen
KEY_ID = "COLDBENCHTESTKEYID"
SECRET = "coldbench-test-secret-not-a-real-one"
ENVIRONMENT = {**os.environ, **DUMMY_ENVIRONMENT, "AWS_ACCESS_KEY_ID": KEY_ID,
               "AWS_SECRET_ACCESS_KEY": SECRET}
ENVIRONMENT.pop("AWS_SESSION_TOKEN")


@pytest.fixture
def aws(control_plane):
    """...and serve following the stand-in, for one test: its environments (and their
    cgroups) end with the test."""
    moto, standin = control_plane
    serve = Serve.following(standin.url, "python", 30, REGION,
                            env={"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET})
    yield moto, standin, serve
    serve.close()


def run_aws(aws, tmp_path, *args, output="run.json", timeout=600):
    moto, standin, serve = aws
    return run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "python",
                   "--endpoint-url", standin.url, "--invoke-endpoint-url", serve.url,
                   "--output", tmp_path / output, "--work", 10, *args,
                   env=ENVIRONMENT, timeout=timeout)


def test_a_run_deploys_measures_and_removes_everything(aws, tmp_path):
    moto, standin, serve = aws
    updates_before = standin.count("PUT", r"/functions/[^/]+/configuration$")
    # Lambda's throttling answer to the first two config updates: retried, not fatal
    throttle = standin.throttle("PUT", r"/functions/[^/]+/configuration$", 2)
    result = run_aws(aws, tmp_path, "--memory", "128", "--arch", "x86_64,arm64",
                     "--cold", 4, "--warm", 2, "--provisioned", 3, "--copies", 2,
                     "--concurrency", 4, "--timeout", 30, "--yes")
    assert result.returncode == 0, result.stderr
    assert throttle.answered == 2

    # what will be created, and its cost, is said before anything is created
    stderr = result.stderr
    assert stderr.index("coldbench will create in AWS region us-east-1") < stderr.index("creating role")
    assert "Lambda functions: 6 (2 configurations x 2 + 1 for provisioned concurrency)" in stderr
    assert re.search(r"total: at most \$[0-9.]+ \(prices of us-east-1, 2026-12", stderr)

    document = json.loads((tmp_path / "run.json").read_text())
    samples = document["samples"]
    # a third provisioned sample per configuration needs its version's predecessor gone
    assert len(samples) == 2 * (4 + 2 + 3)
    assert all(s["error"] is None and not s["misclassified"] for s in samples), \
        [s["error"] for s in samples if s["error"]]
    for s in samples:
        assert s["variant"] == {"architecture": s["architecture"]}
        assert s["architecture"] in ("x86_64", "arm64")
        assert s["function_name"].startswith(f"coldbench-{document['run']['aws_run_id']}-python-128-")
        assert s["billed_duration_ms"] >= s["duration_ms"] and s["memory_size_mb"] == 128
    cold = [s for s in samples if s["mode"] == "cold"]
    assert len(cold) == 2 * 4 and all(s["cold"] is True and s["init_ms"] > 0 for s in cold)
    assert all(s["e2e_ms"] > s["init_ms"] for s in cold)      # timed around the invoke
    # 4 cold samples on 2 copies per configuration: copies were primed again, with a nonce
    assert standin.count("PUT", r"/functions/[^/]+/configuration$") - updates_before >= 2 * 2
    warm = [s for s in samples if s["mode"] == "warm" and s["architecture"] == "arm64"]
    assert [s["invocation"] for s in warm] == [2, 3] and len({s["instance_id"] for s in warm}) == 1
    provisioned = [s for s in samples if s["mode"] == "provisioned"]
    assert len(provisioned) == 2 * 3
    assert all(s["cold"] is False and s["init_ms"] is None and s["executed_version"].isdigit()
               for s in provisioned)
    assert standin.provisioned == {}                         # every allocation removed

    run = document["run"]
    assert run["target"] == "aws" and run["region"] == REGION
    assert run["architectures"] == ["x86_64", "arm64"]
    assert {(p["architecture"], p["lambda_runtime"]) for p in run["packages"]} == \
        {("x86_64", "python3.12"), ("arm64", "python3.12")}
    assert all(p["bytes"] > 0 for p in run["packages"]) and run["cost_bound_usd"] > 0

    table = result.stdout
    assert re.search(r"^python arm64 +128 MB", table, re.MULTILINE)
    assert re.search(r"^python x86_64 +128 MB .* 4/2/3 ", table, re.MULTILINE)
    assert "deleting 6 functions, 6 log groups and role coldbench-" in stderr
    assert left_in(moto.url) == []
    # credentials never appear in results, output or logs
    for text in (result.stdout, stderr, (tmp_path / "run.json").read_text(), "".join(serve.lines)):
        assert KEY_ID not in text and SECRET not in text


def test_cold_starts_are_primed_while_others_are_measured(aws, tmp_path):
    """Config updates take Lambda seconds; copies are primed concurrently. With updates
    that stay InProgress for 2 s (measured here: 40 cold samples of 2 configurations took
    83 s with --copies 1 --concurrency 1 and 12 s with --copies 4 --concurrency 8)."""
    moto, standin, _ = aws
    standin.update_s = 2.0
    first = len(standin.updates)
    try:
        result = run_aws(aws, tmp_path, "--memory", "128", "--cold", 8, "--warm", 0,
                         "--copies", 3, "--concurrency", 4, "--yes")
    finally:
        standin.update_s = 0.0
    assert result.returncode == 0, result.stderr
    samples = json.loads((tmp_path / "run.json").read_text())["samples"]
    assert len(samples) == 8 and all(s["cold"] and not s["error"] for s in samples)
    updates = standin.updates[first:]
    assert len(updates) == 8 - 3                     # 3 new copies, then one update a sample
    overlapping = max(sum(1 for _, t in updates if start <= t < start + 2.0)
                      for _, start in updates)
    assert overlapping >= 2                          # one copy settled while another did
    assert left_in(moto.url) == []


def test_snapstart_samples_are_published_versions(aws, tmp_path):
    moto, standin, serve = aws
    publishes = standin.count("POST", r"/functions/[^/]+/versions$")
    # serve does not restore snapshots: in front of it, a version's first invocation
    # reports a Restore Duration, as on Lambda
    front = StandIn(serve.url)
    front.rewrite_log(r"/invocations\?Qualifier=\d+", restored)
    try:
        result = run_aws((moto, standin, front), tmp_path, "--memory", "256", "--snapstart",
                         "--cold", 2, "--warm", 1, "--copies", 1,
                         "--lambda-runtime", "python=python3.13", "--yes")
    finally:
        front.close()
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["run"]["lambda_runtimes"] == {"python": "python3.13"}
    samples = document["samples"]
    assert {s["mode"] for s in samples} == {"cold", "warm"}    # provisioned is opt-in on AWS
    snap = [s for s in samples if s["variant"] == {"architecture": "x86_64", "snapstart": True}]
    plain = [s for s in samples if s["variant"] == {"architecture": "x86_64"}]
    assert len(snap) == len(plain) == 3
    assert all(s["executed_version"].isdigit() for s in snap)
    assert all(s["error"] is None and s["restore_ms"] == s["init_ms"] > 0
               for s in snap if s["mode"] == "cold")
    assert all(s["executed_version"] == "$LATEST" for s in plain)
    assert standin.count("POST", r"/functions/[^/]+/versions$") - publishes == 2
    assert "python x86_64 SnapStart" in result.stdout
    assert left_in(moto.url) == []


def test_a_function_whose_update_fails_is_reported_not_waited_on(aws, tmp_path):
    moto, standin, _ = aws

    def failed(document):
        configuration = document.get("Configuration", document)
        if configuration.get("FunctionName", "").endswith("-512-x86_64-c1"):
            configuration.update(LastUpdateStatus="Failed",
                                 LastUpdateStatusReason="Lambda could not unzip the code")
        return document
    standin.override("GET", r"^/2015-03-31/functions/[^/]+$", failed)
    result = run_aws(aws, tmp_path, "--memory", "512", "--cold", 3, "--warm", 0, "--copies", 1,
                     "--yes", timeout=300)
    assert result.returncode == 0, result.stderr                # the run goes on
    assert "2 of 3 invocations failed (Coldbench.FunctionNotReady x2)" in result.stderr
    samples = json.loads((tmp_path / "run.json").read_text())["samples"]
    assert samples[0]["error"] is None                          # a new function: cold as is
    for s in samples[1:]:
        assert s["error"]["type"] == "Coldbench.FunctionNotReady"
        assert "LastUpdateStatus Failed: Lambda could not unzip the code" in s["error"]["message"]
    assert left_in(moto.url) == []


def test_bounded_retries_on_throttling(aws, monkeypatch):
    from coldbench.targets.aws.client import Clients, Endpoints

    _, standin, _ = aws
    endpoints = Endpoints(region=REGION, endpoint_url=standin.url)
    for key, value in DUMMY_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)          # for this test only
    clients = Clients(endpoints)
    # the control plane's calls: botocore's adaptive retries (client-side rate limiting on
    # throttles), 8 attempts a call, the first included
    assert clients.lambda_.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 8}

    quick = Clients(endpoints, attempts=3)
    path = r"^/2015-03-31/functions/coldbench-throttled$"
    standin.throttle("GET", path, 1000)                         # throttled for good
    with pytest.raises(quick.lambda_.exceptions.TooManyRequestsException):
        quick.lambda_.get_function(FunctionName="coldbench-throttled")
    assert standin.count("GET", path) == 3                      # the first try and 2 retries

    path = r"^/2015-03-31/functions/coldbench-later$"
    standin.throttle("GET", path, 2)                            # throttled twice, then moto
    with pytest.raises(quick.lambda_.exceptions.ResourceNotFoundException):
        quick.lambda_.get_function(FunctionName="coldbench-later")
    assert standin.count("GET", path) == 3


def test_cleanup_finds_what_a_killed_run_left(aws, tmp_path):
    moto, standin, serve = aws
    run = subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--target", "aws", "--region", REGION,
         "--runtimes", "python", "--memory", "128", "--cold", "500", "--copies", "2",
         "--endpoint-url", standin.url, "--invoke-endpoint-url", serve.url, "--yes",
         "--output", tmp_path / "killed.json", "--quiet"],
        env=ENVIRONMENT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(functions_in(moto.url)) < 2:
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.2)
    time.sleep(1)
    run.send_signal(signal.SIGKILL)                             # no cleanup can run
    run.wait()
    left = left_in(moto.url)
    assert len(left) == 5                                       # 2 functions, 2 log groups, role

    common = ("cleanup", "--target", "aws", "--region", REGION, "--endpoint-url", moto.url)
    listed = run_cli(*common, "--dry-run", env=ENVIRONMENT)
    assert listed.returncode == 0 and "found 5 resources left by coldbench runs" in listed.stdout
    run_id = re.search(r"function coldbench-([0-9a-f]{8})-", listed.stdout).group(1)
    assert left_in(moto.url) == left
    refused = run_cli(*common, env=ENVIRONMENT)                 # no terminal, no --yes
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    other = run_cli(*common, "--run-id", "00000000", "--yes", env=ENVIRONMENT)
    assert "nothing to clean up" in other.stdout and left_in(moto.url) == left
    cleaned = run_cli(*common, "--run-id", run_id, "--yes", env=ENVIRONMENT)
    assert cleaned.returncode == 0, cleaned.stderr
    assert cleaned.stdout.count("deleted ") == 5
    assert left_in(moto.url) == []


def test_nothing_is_created_without_consent_or_above_the_cost_limit(aws, tmp_path):
    moto, _, _ = aws
    over = run_aws(aws, tmp_path, "--memory", "128", "--max-cost", "0.000001", "--yes")
    assert over.returncode == 2
    assert "above --max-cost $0.0000010" in over.stderr and "nothing was created" in over.stderr
    unasked = run_aws(aws, tmp_path, "--memory", "128", output="unasked.json")
    assert unasked.returncode == 2 and "pass --yes" in unasked.stderr
    both = run_aws(aws, tmp_path, "--snapstart", "--provisioned", 1, "--yes", output="both.json")
    assert both.returncode == 2 and "SnapStart functions cannot have provisioned" in both.stderr
    assert left_in(moto.url) == []


def test_rust_for_arm64_without_its_target_is_refused_before_anything_exists(aws, tmp_path):
    from coldbench.runtimes.rust import target_missing as rust_target_missing
    if rust_target_missing("arm64") is None:
        pytest.skip("this machine can build Rust for arm64")
    moto, standin, serve = aws
    result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "rust",
                     "--arch", "arm64", "--endpoint-url", standin.url, "--yes",
                     "--output", tmp_path / "rust.json", env=ENVIRONMENT)
    assert result.returncode == 2
    assert "rust: cannot build for arm64" in result.stderr
    assert left_in(moto.url) == []


def test_no_credentials_are_left_in_the_environment_of_later_tests():
    """The AWS tests set dummy credentials for themselves only (monkeypatch, or a child
    process's environment): none stays in this process's environment."""
    leaked = {k for k, v in DUMMY_ENVIRONMENT.items() if os.environ.get(k) == v}
    assert not leaked, f"left in os.environ by an earlier test: {sorted(leaked)}"


def test_a_templates_functions_are_deployed_as_defined(aws, tmp_path):
    """--template on AWS: each function created with its own memory size, timeout,
    runtime identifier, variables and architecture (as Lambda then holds them: moto's
    GetFunction answers, read as the run waits for each function), under a name of its own
    (two functions of one runtime and memory size must not collide), and every one removed
    at the end."""
    moto, standin, serve = aws
    held = {}                           # function name -> its configuration as moto holds it

    def keep(document):
        configuration = document.get("Configuration", document)
        held[configuration["FunctionName"]] = configuration
        return document
    standin.override("GET", r"^/2015-03-31/functions/coldbench-[^/]+$", keep)
    for name in ("alpha", "beta"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text("def handler(event, context):\n    return {}\n")
    template = tmp_path / "template.yaml"
    template.write_text("""Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    MemorySize: 256
Resources:
  Alpha:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: alpha/
      Timeout: 7
      Environment:
        Variables:
          GREETING: hello
  Beta:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: beta/
      Timeout: 9
      MemorySize: 512
      Architectures: [arm64]
""")
    before = len(standin.sent("POST", r"^/2015-03-31/functions/?$"))
    result = run_cli("run", "--target", "aws", "--region", REGION, "--template", template,
                     "--endpoint-url", standin.url, "--invoke-endpoint-url", serve.url,
                     "--output", tmp_path / "run.json", "--cold", 2, "--warm", 1,
                     "--provisioned", 0, "--yes", env=ENVIRONMENT, timeout=600)
    assert result.returncode == 0, result.stderr
    created = standin.sent("POST", r"^/2015-03-31/functions/?$")[before:]
    by_timeout = {body["Timeout"]: body for body in created}
    assert sorted(by_timeout) == [7, 9]
    assert len({body["FunctionName"] for body in created}) == len(created)   # no collision
    alpha, beta = by_timeout[7], by_timeout[9]
    assert {body["Runtime"] for body in created} == {"python3.12"}
    for sent, memory_mb, arch in ((alpha, 256, "x86_64"), (beta, 512, "arm64")):
        assert sent["MemorySize"] == memory_mb and sent["Architectures"] == [arch]
        configuration = held[sent["FunctionName"]]
        assert configuration["MemorySize"] == memory_mb
        assert configuration["Timeout"] == sent["Timeout"]
        assert configuration["Architectures"] == [arch]
        assert configuration["Runtime"] == "python3.12"
    assert held[alpha["FunctionName"]]["Environment"]["Variables"]["GREETING"] == "hello"
    assert "GREETING" not in held[beta["FunctionName"]]["Environment"]["Variables"]
    samples = json.loads((tmp_path / "run.json").read_text())["samples"]
    assert {(s["function"], s["memory_mb"], s["architecture"]) for s in samples} \
        == {("Alpha", 256, "x86_64"), ("Beta", 512, "arm64")}
    # deployed as defined: no note that it runs on another architecture than its own
    assert "defined for arm64" not in result.stdout + result.stderr
    assert not left_in(moto.url)
