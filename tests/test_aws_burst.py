"""`coldbench run --target aws --burst N`: N invocations sent at once at a configuration with
no environment, each a cold start of its own, throttles counted and not retried. Real boto3
over HTTP to moto's server behind the stand-in (aws_standin.py), invocations served by
`coldbench serve`, which gives concurrent invocations environments of their own as Lambda
does, behind a second stand-in that can throttle them."""

import json
import os

import pytest

from aws_standin import DUMMY_ENVIRONMENT, serve_behind
from conftest import run_cli

pytestmark = [pytest.mark.aws, pytest.mark.slow]

REGION = "us-east-1"
ENVIRONMENT = {**os.environ, **DUMMY_ENVIRONMENT}
INVOKE = r"^/2015-03-31/functions/[^/?]+/invocations"


@pytest.fixture
def aws(control_plane):
    moto, standin = control_plane
    with serve_behind(standin.url, "go", 30, REGION) as front:
        yield standin, front


def run_burst(aws, tmp_path, *args, work=1):
    standin, front = aws
    return run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "go",
                   "--endpoint-url", standin.url, "--invoke-endpoint-url", front.url,
                   "--output", tmp_path / "run.json", "--work", work, "--memory", "128",
                   "--cold", "1", "--warm", "0", "--provisioned", "0", "--yes", *args,
                   env=ENVIRONMENT, timeout=600)


def test_a_burst_is_as_many_cold_starts_at_once_shown_beside_the_sequential_ones(
        aws, tmp_path):
    # Each invocation works a while (about 0.7 s at 128 MB's CPU share), so that all four
    # arrive before any environment is free again: one that arrived later would be served
    # warm by a freed one, as on Lambda (and counted as not cold).
    result = run_burst(aws, tmp_path, "--burst", "4", work=20000)
    assert result.returncode == 0, result.stderr
    assert "a burst per configuration: 4 invocations at once" in result.stderr
    samples = json.loads((tmp_path / "run.json").read_text())["samples"]
    burst = [s for s in samples if s.get("burst")]
    sequential = [s for s in samples if not s.get("burst")]
    assert len(burst) == 4 and len(sequential) == 1
    assert all(s["mode"] == "cold" and s["error"] is None and s["cold"] is True
               and s["init_ms"] > 0 and s["variant"] == {"architecture": "x86_64", "burst": 4} for s in burst), \
        json.dumps(burst, indent=1)
    # four environments, one per invocation: none waited for another's to be free
    assert len({s["instance_id"] for s in burst}) == 4
    # a row of its own, under the sequential one
    rows = [line for line in result.stdout.splitlines() if line.startswith("go")]
    assert len(rows) == 2 and "burst 4" in rows[1] and "4/0/0" in rows[1]


def test_throttles_in_a_burst_are_samples_not_retries(aws, tmp_path):
    standin, front = aws
    before = front.count("POST", INVOKE)
    throttle = front.throttle("POST", INVOKE, 2)      # two of the five get a 429
    result = run_burst(aws, tmp_path, "--burst", "5", "--cold", "0", work=20000)
    assert result.returncode == 0, result.stderr
    samples = json.loads((tmp_path / "run.json").read_text())["samples"]
    assert len(samples) == 5 and all(s.get("burst") == 5 for s in samples)
    errors = [s["error"]["type"] for s in samples if s["error"]]
    assert throttle.answered == 2 and errors == ["TooManyRequestsException"] * 2
    assert sum(1 for s in samples if s["error"] is None and s["init_ms"] > 0) == 3
    assert "2 of 5 invocations failed (TooManyRequestsException x2)" in result.stderr
    assert front.count("POST", INVOKE) - before == 5     # none sent again


def test_a_burst_is_refused_where_environments_start_one_at_a_time(tmp_path):
    result = run_cli("run", "--runtimes", "go", "--burst", "3", "--output", tmp_path / "r.json")
    assert result.returncode == 2
    assert result.stderr.strip() == ("coldbench: error: --burst: the local target starts one "
                                     "environment at a time; bursts are for --target aws")
    assert not (tmp_path / "r.json").exists()
