"""The AWS target when AWS answers with errors: what Invoke retries (only what Lambda
certainly did not run), how API errors reach the user (one line, exit status 2), and
what the run records for its cleanup. Real boto3 over HTTP against moto's server and the
stand-in in front of it (aws_standin.py); no AWS account is involved."""

import os
import threading

import pytest

from aws_standin import DUMMY_ENVIRONMENT, StandIn, boto, free_port
from conftest import run_cli

pytestmark = pytest.mark.aws

REGION = "us-east-1"
INVOKE_PATH = r"^/2015-03-31/functions/coldbench-[^/]+/invocations$"


@pytest.fixture(autouse=True)
def dummy_credentials(monkeypatch):
    for key, value in DUMMY_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)


def target_invoking(invoke_url: str):
    """An AWS target whose invocations go to ``invoke_url``, and a copy to invoke."""
    from coldbench.targets.aws.client import Clients, Endpoints
    from coldbench.targets.aws.copies import Copy
    from coldbench.targets.aws.target import AwsSettings, AwsTarget

    endpoints = Endpoints(region=REGION, endpoint_url=invoke_url, invoke_endpoint_url=invoke_url)
    target = AwsTarget(endpoints, AwsSettings(timeout_s=5, architectures=("x86_64",)))
    target.clients = Clients(endpoints, invoke_timeout_s=5)
    return target, Copy("coldbench-00000000-python-128-x86_64-c1", {}, threading.Lock())


@pytest.mark.parametrize("status, code", [(502, "ServiceException"), (500, "ServiceException")])
def test_a_5xx_from_invoke_is_an_error_sample_after_one_attempt(status, code):
    standin = StandIn("http://127.0.0.1:9")          # nothing behind it: never reached
    try:
        standin.fail("POST", INVOKE_PATH, 100, status, code, "Internal failure")
        target, copy = target_invoking(standin.url)
        invoked, alive = target.invoke(copy, {})
        assert standin.count("POST", INVOKE_PATH) == 1   # it may have run: not sent again
        assert not alive and invoked.duration_ms is None and invoked.e2e_ms >= 0
        assert invoked.error["type"] == code and invoked.error["phase"] == "invoke"
    finally:
        standin.close()


def test_throttled_invokes_are_retried_a_bounded_number_of_times():
    from coldbench.targets.aws.client import INVOKE_ATTEMPTS

    standin = StandIn("http://127.0.0.1:9")
    try:
        standin.throttle("POST", INVOKE_PATH, 100)          # throttled for good
        target, copy = target_invoking(standin.url)
        invoked, _ = target.invoke(copy, {})
        assert standin.count("POST", INVOKE_PATH) == INVOKE_ATTEMPTS == 3
        assert invoked.error["type"] == "TooManyRequestsException"
        assert invoked.e2e_ms < 1000                         # the last try alone, not the waits
    finally:
        standin.close()


def test_an_invoke_that_cannot_connect_is_retried_then_an_error_sample():
    target, copy = target_invoking(f"http://127.0.0.1:{free_port()}")   # nothing listens
    invoked, alive = target.invoke(copy, {})
    assert not alive and invoked.error["type"] == "EndpointConnectionError"


# API errors become one line -------------------------------------------------------------

KEY_ID = "COLDBENCHTESTKEYID"
SECRET = "coldbench-test-secret-not-a-real-one"
DENIED = "User: arn:aws:iam::123456789012:user/bench is not authorized to perform: {}"


def cli_environment() -> dict:
    environment = {**os.environ, **DUMMY_ENVIRONMENT, "AWS_ACCESS_KEY_ID": KEY_ID,
                   "AWS_SECRET_ACCESS_KEY": SECRET}
    environment.pop("AWS_SESSION_TOKEN")
    return environment


def coldbench_roles(moto) -> list[str]:
    iam = boto(moto.url, "iam", REGION)
    return [r["RoleName"] for r in iam.list_roles(PathPrefix="/coldbench/")["Roles"]]


@pytest.mark.slow
def test_access_denied_while_deploying_is_one_line_and_exit_status_2(control_plane, tmp_path):
    moto, standin = control_plane
    rule = standin.fail("POST", r"^/$", 1, 403, "AccessDenied",
                        DENIED.format("iam:CreateRole"), body=r"Action=CreateRole", xml=True)
    result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "python",
                     "--memory", "128", "--endpoint-url", standin.url, "--yes",
                     "--output", tmp_path / "run.json", env=cli_environment(), timeout=600)
    assert rule.answered == 1
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "coldbench: error: AWS: CreateRole: AccessDenied: " + DENIED.format("iam:CreateRole"))
    assert "deleting 0 functions, 0 log groups and role coldbench-" in result.stderr  # cleanup ran
    assert KEY_ID not in result.stderr and SECRET not in result.stderr
    assert coldbench_roles(moto) == []


def test_access_denied_while_cleanup_lists_is_one_line_and_exit_status_2(control_plane):
    moto, standin = control_plane
    rule = standin.fail("GET", r"^/2015-03-31/functions/?$", 1, 403, "AccessDeniedException",
                        DENIED.format("lambda:ListFunctions"))
    result = run_cli("cleanup", "--target", "aws", "--region", REGION,
                     "--endpoint-url", standin.url, "--dry-run", env=cli_environment())
    assert rule.answered == 1
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("coldbench: error: AWS: ListFunctions: "
                                     "AccessDeniedException: " + DENIED.format("lambda:ListFunctions"))


# what the run records for its cleanup ---------------------------------------------------

def control_clients(url: str):
    from coldbench.targets.aws.client import Clients, Endpoints
    return Clients(Endpoints(region=REGION, endpoint_url=url), attempts=1)


def test_a_resource_is_recorded_for_cleanup_before_it_is_created(control_plane):
    from coldbench.targets.aws import resources

    moto, standin = control_plane
    clients = control_clients(standin.url)
    run_id = resources.new_run_id()
    tags = {resources.TAG_RUN: run_id}
    ledger = resources.Ledger()
    function = resources.function_name(run_id, "python", 128, "x86_64", False, "c1")
    standin.fail("POST", r"^/$", 1, 500, "ServiceFailure", body=r"Action=CreateRole", xml=True)
    standin.fail("POST", r"^/$", 1, 500, "ServiceUnavailableException",
                 body=rf'"logGroupName": "/aws/lambda/coldbench-{run_id}-')
    standin.fail("POST", r"^/2015-03-31/functions$", 1, 500, "ServiceException")
    # each answer may hide a create that happened: the names are listed all the same
    with pytest.raises(Exception):
        resources.create_role(clients, run_id, tags, ledger)
    with pytest.raises(Exception):
        resources.create_log_group(clients, function, tags, ledger)
    with pytest.raises(Exception):
        resources.create_function(clients, {"FunctionName": function}, ledger)
    assert ledger.role == resources.role_name(run_id)
    assert ledger.log_groups == [resources.log_group(function)]
    assert ledger.functions == [function]
    assert resources.delete(clients, [
        resources.Resource("function", function, run_id),
        resources.Resource("log group", ledger.log_groups[0], run_id),
        resources.Resource("role", ledger.role, run_id)]) == []


def test_a_resource_of_this_run_that_already_exists_is_taken_as_ours(control_plane):
    import io
    import zipfile

    from coldbench.targets.aws import resources

    moto, _ = control_plane
    clients = control_clients(moto.url)
    run_id = resources.new_run_id()
    tags = {resources.TAG_RUN: run_id}
    function = resources.function_name(run_id, "python", 128, "x86_64", False, "c1")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    first = resources.Ledger()
    arn = resources.create_role(clients, run_id, tags, first)
    spec = dict(FunctionName=function, Runtime="python3.12", Role=arn,
                Handler="handler.handler", Code={"ZipFile": code.getvalue()})
    resources.create_log_group(clients, function, tags, first)
    resources.create_function(clients, spec, first)
    # a second try of each create (its first answer lost): no error, still listed
    again = resources.Ledger()
    assert resources.create_role(clients, run_id, tags, again) == arn
    resources.create_log_group(clients, function, tags, again)
    assert resources.create_function(clients, spec, again)["FunctionName"] == function
    assert (again.role, again.log_groups, again.functions) == \
        (first.role, first.log_groups, first.functions)
    # a log group of someone else's is not ours to delete
    other = resources.Ledger()
    resources.create_log_group(clients, function, {resources.TAG_RUN: "ffffffff"}, other)
    assert other.log_groups == []
    assert resources.delete(clients, [resources.Resource("function", function, run_id),
                                      resources.Resource("log group", first.log_groups[0], run_id),
                                      resources.Resource("role", first.role, run_id)]) == []
