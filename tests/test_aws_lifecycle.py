"""The AWS target and what Lambda is in late 2026, end to end: the runtime identifier it
deploys by AWS's deprecation schedule, the log format it asks for, proactive
initialization counted as a rate, and SnapStart samples that did not restore. Real boto3
over HTTP to moto's server behind the stand-in (aws_standin.py), with invocations served by
`coldbench serve` behind a second stand-in that writes into their log tails what Lambda
reports and serve does not (a restore, a report without Init Duration, the JSON format)."""

import json
import os
import re

import pytest

from aws_standin import DUMMY_ENVIRONMENT, as_json, functions_in, restored, serve_behind
from conftest import run_cli
from coldbench.targets.aws import lambda_runtimes as schedule

pytestmark = [pytest.mark.aws, pytest.mark.slow]

REGION = "us-east-1"
ENVIRONMENT = {**os.environ, **DUMMY_ENVIRONMENT}
INVOKE = r"^/2015-03-31/functions/[^/?]+/invocations"
CREATE = r"^/2015-03-31/functions/?$"


@pytest.fixture
def aws(control_plane):
    """moto and its stand-in; serve following it; and a stand-in in front of serve."""
    moto, standin = control_plane
    with serve_behind(standin.url, "python", 30, REGION) as front:
        yield moto, standin, front


def run_aws(aws, tmp_path, *args, output="run.json"):
    moto, standin, front = aws
    return run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "python",
                   "--endpoint-url", standin.url, "--invoke-endpoint-url", front.url,
                   "--output", tmp_path / output, "--work", 10, "--memory", "128", "--yes",
                   *args, env=ENVIRONMENT, timeout=600)


def test_an_identifier_lambda_no_longer_creates_is_refused_before_anything_exists(
        control_plane, tmp_path):
    moto, standin = control_plane
    before = len(standin.requests)
    result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "node",
                     "--lambda-runtime", "node=nodejs14.x", "--endpoint-url", standin.url,
                     "--yes", "--output", tmp_path / "refused.json", env=ENVIRONMENT)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("coldbench: error: node: Lambda blocks creating functions with "
                           "nodejs14.x since 2024-01-09 (deprecated since 2023-12-04); its "
                           "successor is nodejs16.x; the nearest one Lambda supports on ")
    assert line.endswith("nothing was created")
    assert len(standin.requests) == before                  # not one AWS call
    assert functions_in(moto.url) == [] and not (tmp_path / "refused.json").exists()


def test_text_logs_are_asked_for_and_proactive_initialization_is_a_rate(aws, tmp_path):
    moto, standin, front = aws
    creates = len(standin.sent("POST", CREATE))
    # Lambda's answer to the first two cold invocations: the JSON format, no Init Duration
    # (environments it initialised before the requests came)
    rule = front.rewrite_log(INVOKE, lambda log: as_json(log, init=False), times=2)
    result = run_aws(aws, tmp_path, "--cold", 4, "--warm", 1, "--copies", 2)
    assert result.returncode == 0, result.stderr
    assert rule.answered == 2

    created = standin.sent("POST", CREATE)[creates:]
    assert len(created) == 2 and all(c["LoggingConfig"] == {"LogFormat": "Text"} for c in created)
    assert all(c["Runtime"] == "python3.12" for c in created)

    document = json.loads((tmp_path / "run.json").read_text())
    run, samples = document["run"], document["samples"]
    assert run["log_format"] == "Text" and run["lambda_runtimes"] == {"python": "python3.12"}
    assert run["lambda_runtime_day"] == schedule.today().isoformat()
    assert run["proactive_init"] == {"python x86_64 128 MB": {
        "cold_invocations": 4, "initialised_before": 2, "initialised_before_rate": 0.5}}
    cold = [s for s in samples if s["mode"] == "cold"]
    early = [s for s in cold if s["report_cold"] is False]
    assert len(early) == 2 and all(s["misclassified"] and s["init_ms"] is None for s in early)
    assert all(s["request_id"] and s["billed_duration_ms"] >= s["duration_ms"] for s in early)
    assert all(s["lambda_runtime"] == "python3.12" for s in samples)
    assert re.search(r"^python x86_64 +128 MB .* 2/1/0 ", result.stdout, re.MULTILINE)
    assert ("warning: python x86_64 128 MB cold: 2 of 4 cold invocations (50%) reached an "
            "environment Lambda had initialised before the request") in result.stderr
    assert "did not report the expected cold flag" not in result.stderr
    assert functions_in(moto.url) == []


def test_a_snapstart_sample_without_a_restore_is_flagged_and_excluded(aws, tmp_path):
    moto, standin, front = aws
    # the first SnapStart invocation restores; the second reports an ordinary Init
    front.rewrite_log(INVOKE + r"\?Qualifier=\d+", restored, times=1)
    result = run_aws(aws, tmp_path, "--memory", "256", "--snapstart", "--cold", 2,
                     "--warm", 0, "--copies", 1, "--lambda-runtime", "python=python3.13")
    assert result.returncode == 0, result.stderr

    # the plan states SnapStart's charges, with the price table's rates, before creating
    plan = result.stderr[:result.stderr.index("creating role")]
    assert "runtimes: python python3.13" in plan
    assert "cache: $0.0000015046 per GB-s, each snapshot for at least 3 h" in plan
    assert "restores: $0.0001397998 per GB restored" in plan

    document = json.loads((tmp_path / "run.json").read_text())
    snap = [s for s in document["samples"] if s["variant"] == {"architecture": "x86_64", "snapstart": True}]
    assert [s.get("restore_ms") is not None for s in snap] == [True, False]
    assert snap[0]["error"] is None and snap[0]["init_ms"] == snap[0]["restore_ms"]
    assert snap[1]["error"]["type"] == "Coldbench.NoRestore"
    assert "reported no Restore Duration" in snap[1]["error"]["message"]
    assert document["run"]["proactive_init"]["python x86_64 SnapStart 256 MB"] == {
        "cold_invocations": 2, "without_restore": 1, "without_restore_rate": 0.5}
    assert ("python x86_64 SnapStart 256 MB cold: 1 of 2 invocations failed "
            "(Coldbench.NoRestore x1); they are excluded") in result.stderr
    assert functions_in(moto.url) == []
