"""`--via url` on the AWS target, against stand-ins that speak AWS's wire protocol: moto's
server (behind aws_standin's proxy) for the control plane, which hands out each function's
URL; aws_standin.FunctionUrls for those URLs (it checks every request's Signature Version 4
and routes it in payload format 2.0 to `coldbench serve`, writing the REPORT line to the
function's log group in moto, as Lambda writes it). Real boto3 and httpx over HTTP."""

import json
import os

import pytest

from aws_standin import DUMMY_ENVIRONMENT, FunctionUrls, Serve, boto, functions_in
from conftest import run_cli

pytestmark = [pytest.mark.aws, pytest.mark.slow]

REGION = "us-east-1"
KEY_ID = "COLDBENCHURLTESTKEYID"
SECRET = "coldbench-url-test-secret-not-a-real-one"
ENVIRONMENT = {**os.environ, **DUMMY_ENVIRONMENT, "AWS_ACCESS_KEY_ID": KEY_ID,
               "AWS_SECRET_ACCESS_KEY": SECRET}
ENVIRONMENT.pop("AWS_SESSION_TOKEN")


@pytest.fixture
def stand_ins(control_plane):
    """...with serve and the function URLs for one test: serve's environments (and their
    cgroups) end with the test."""
    moto, standin = control_plane
    serve = Serve.following(standin.url, "python", 30, REGION,
                            env={"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET})
    urls = FunctionUrls(moto.url, serve.url, {KEY_ID: SECRET}, REGION)
    yield moto, standin, serve, urls
    urls.close()
    serve.close()


def test_a_run_via_url_measures_through_signed_requests_to_real_function_urls(
        stand_ins, tmp_path):
    moto, standin, serve, urls = stand_ins
    before = len(urls.invoked)
    result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "python",
                     "--via", "url", "--memory", "256", "--cold", 2, "--warm", 2,
                     "--burst", 2, "--copies", 2, "--endpoint-url", standin.url,
                     "--invoke-endpoint-url", serve.url, "--url-endpoint-url", urls.url,
                     "--output", tmp_path / "run.json", "--yes", env=ENVIRONMENT, timeout=600)
    assert result.returncode == 0, result.stderr
    assert not urls.refused, urls.refused           # every request's signature held
    assert "a function URL per function (AuthType AWS_IAM)" in result.stderr   # in the plan

    # each function got a URL with IAM auth, and it was deleted before the function
    created = standin.sent("POST", r"^/2021-10-31/functions/[^/]+/url$")
    assert created and {body["AuthType"] for body in created} == {"AWS_IAM"}
    url_paths = [p for m, p in standin.requests if m == "POST" and p.endswith("/url")]
    deleted = [p for m, p in standin.requests if m == "DELETE" and p.endswith("/url")]
    assert sorted(deleted) == sorted(url_paths)
    assert not functions_in(moto.url, REGION)

    samples = json.loads((tmp_path / "run.json").read_text())["samples"]
    assert len(samples) == 6 and all(s["error"] is None for s in samples)
    assert len([s for s in samples if s.get("burst")]) == 2       # sent at once, by URL too
    # every sample is a request that reached a function through its URL, as a 2.0 event
    routed = urls.invoked[before:]
    assert len(routed) == 6
    assert all(event["version"] == "2.0" and event["requestContext"]["http"]["method"] == "POST"
               and json.loads(event["body"]) == {"work": 100} for _, event in routed)
    for sample in samples:
        # the client's latency beside Lambda's own figures, read from the REPORT line
        assert sample["url_ms"] > 0 and sample["url_status"] == 200
        assert sample["e2e_ms"] == pytest.approx(sample["url_ms"], abs=0.01)
        assert sample["duration_ms"] > 0 and sample["request_id"]
        assert sample["variant"]["via"] == "url"
        assert sample["report_wait_ms"] >= 0        # looked up after the answer, apart
    cold = [s for s in samples if s["mode"] == "cold"]
    assert len(cold) == 4 and all(s["init_ms"] > 0 and s["cold"] for s in cold)
    assert all(s["init_ms"] is None for s in samples if s["mode"] == "warm")
    assert "URL Request p50" in result.stdout


def test_cleanup_finds_a_function_url_left_behind(stand_ins, monkeypatch):
    """A killed run's function URL is found through its function's tag, and deleted before
    the function."""
    from coldbench.targets.aws.plugin import Aws

    moto, standin, serve, urls = stand_ins
    lambda_ = boto(moto.url, "lambda", REGION, KEY_ID, SECRET)
    run_id, names = "0badf00d", ["coldbench-0badf00d-python-128-x86_64-c1",
                                 "coldbench-0badf00d-python-128-x86_64-c2"]
    for name in names:
        lambda_.create_function(FunctionName=name, Runtime="python3.12",
                                Handler="app.handler",
                                Role=_role(moto),
                                Code={"ZipFile": _zip()}, Tags={"coldbench:run-id": run_id})
    lambda_.create_function_url_config(FunctionName=names[0], AuthType="AWS_IAM")
    for key, value in ENVIRONMENT.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    leftovers = Aws.find_leftovers({"region": REGION, "endpoint_url": standin.url,
                                    "run_id": run_id})
    assert [item.what for item in leftovers] == [
        f"function URL {names[0]} (run {run_id})", f"function {names[0]} (run {run_id})",
        f"function {names[1]} (run {run_id})"]
    first = len(standin.requests)
    for item in leftovers:          # as `coldbench cleanup` removes them, in this order
        item.remove()
    removed = [(m, p) for m, p in standin.requests[first:] if m == "DELETE"]
    assert removed[0] == ("DELETE", f"/2021-10-31/functions/{names[0]}/url")
    assert not lambda_.list_functions()["Functions"]


def _role(moto) -> str:
    """An execution role in moto (CreateFunction checks that it exists)."""
    iam = boto(moto.url, "iam", REGION, KEY_ID, SECRET)
    try:
        return iam.get_role(RoleName="url-test-execution")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName="url-test-execution", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]


def _zip() -> bytes:
    from io import BytesIO
    from zipfile import ZipFile
    code = BytesIO()
    with ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return code.getvalue()


def test_a_refused_request_is_a_sample_with_its_error(stand_ins, tmp_path):
    """Function URLs that refuse coldbench's requests (403: a signature by credentials
    Lambda does not accept, or an identity without lambda:InvokeFunctionUrl) give samples
    with the error, not a crash, exit status 1, and the run still removes everything it
    created. The stand-in refuses them for their signature, which it computes from the
    SigV4 algorithm's text: beside the first test, where it accepts every request
    coldbench signs with the right secret, this shows coldbench's signing is checked."""
    moto, standin, serve, urls = stand_ins
    refusing = FunctionUrls(moto.url, serve.url, {KEY_ID: "a-secret-the-caller-lacks"}, REGION)
    first = len(standin.requests)
    try:
        result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "python",
                         "--via", "url", "--memory", "128", "--cold", 1, "--warm", 1,
                         "--copies", 1, "--endpoint-url", standin.url,
                         "--invoke-endpoint-url", serve.url, "--url-endpoint-url", refusing.url,
                         "--output", tmp_path / "run.json", "--yes", env=ENVIRONMENT,
                         timeout=600)
    finally:
        refusing.close()
    assert result.returncode == 1, result.stderr
    assert refusing.refused and set(refusing.refused) == {"the signature does not match"}
    assert not refusing.invoked                         # the function never ran
    samples = json.loads((tmp_path / "run.json").read_text())["samples"]
    cold = [s for s in samples if s["mode"] == "cold"]
    assert cold and {s["error"]["type"] for s in cold} == {"AccessDeniedException"}
    assert all(s["url_status"] == 403 and "403" in s["error"]["message"] for s in cold)
    n = len(cold)
    assert f"no valid sample out of {n} (AccessDeniedException x{n})" in result.stderr
    # nothing left: the URL deleted before its function
    created = [p for m, p in standin.requests[first:] if m == "POST" and p.endswith("/url")]
    deleted = [p for m, p in standin.requests[first:] if m == "DELETE" and p.endswith("/url")]
    assert created and deleted == created
    assert not functions_in(moto.url, REGION)
