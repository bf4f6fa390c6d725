"""`coldbench serve`: the Lambda Invoke API over local environments, driven by real boto3
over HTTP, with the REPORT lines Lambda would write."""

import base64
import json
import threading

import pytest

from coldbench.targets.aws.lambda_report import find
from coldbench.serve import NAME
from conftest import invoke_client


def invoke(lam, name="coldbench-python-256", event=None, **extra):
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {"work": 10}).encode(),
                          LogType="Tail", **extra)
    log = base64.b64decode(response["LogResult"]).decode()
    return response, json.loads(response["Payload"].read()), log, find(log)


@pytest.mark.slow
def test_a_cold_then_a_warm_invocation(serving):
    lam = invoke_client(serving().address)
    response, payload, log, report = invoke(lam)
    assert response["StatusCode"] == 200 and response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert payload["cold"] is True and payload["runtime"] == "python"
    assert log.startswith(f"START RequestId: {report.request_id} Version: $LATEST\n")
    assert f"END RequestId: {report.request_id}\n" in log
    assert report.init_duration_ms > 0 and report.memory_size_mb == 256
    assert report.billed_duration_ms >= report.init_duration_ms + report.duration_ms
    assert report.status is None

    _, again, _, warm = invoke(lam)
    assert again["cold"] is False and again["instance_id"] == payload["instance_id"]
    assert warm.init_duration_ms is None and warm.request_id != report.request_id


def test_names_map_to_runtime_and_memory():
    assert NAME.match("coldbench-python-512")["memory"] == "512"
    aws = NAME.match("coldbench-1a2b3c4d-java-1769-arm64-ss-c2")
    assert (aws["runtime"], aws["memory"], aws["run"]) == ("java", "1769", "1a2b3c4d")
    assert NAME.match("my-function") is None


@pytest.mark.slow
def test_unknown_functions_and_invocation_types(serving):
    lam = invoke_client(serving().address)
    with pytest.raises(lam.exceptions.ResourceNotFoundException, match="coldbench-<runtime>"):
        lam.invoke(FunctionName="my-function")
    with pytest.raises(lam.exceptions.ResourceNotFoundException, match="runtimes python"):
        lam.invoke(FunctionName="coldbench-go-128")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:coldbench-python-128"
    assert lam.invoke(FunctionName=arn, InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName=arn, InvocationType="Event")["StatusCode"] == 202


@pytest.mark.slow
def test_a_handler_error_keeps_the_environment(serving, fixture_function):
    lam = invoke_client(serving(fixture_function("handler_error")).address)
    response, payload, log, report = invoke(lam)
    assert response["FunctionError"] == "Unhandled"
    assert payload == {"errorType": "ValueError",
                       "errorMessage": "bad request: this function always fails"}
    assert report.status is None and report.init_duration_ms is not None
    _, _, _, second = invoke(lam)
    assert second.init_duration_ms is None          # the same environment served again


@pytest.mark.slow
def test_a_timeout_is_reported_and_the_next_start_is_cold(serving, fixture_function):
    lam = invoke_client(serving(fixture_function("timeout"), timeout_s=1).address)
    response, payload, log, report = invoke(lam)
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Sandbox.Timedout"
    assert report.status == "timeout" and 900 < report.duration_ms < 3000
    assert "Task timed out after 1.00 seconds" in log
    assert invoke(lam)[3].init_duration_ms is not None


@pytest.mark.slow
def test_out_of_memory_is_reported_as_lambda_does(serving, fixture_function):
    lam = invoke_client(serving(fixture_function("oom")).address)
    response, payload, log, report = invoke(lam, "coldbench-python-128")
    assert payload["errorType"] == "Runtime.OutOfMemory"
    assert (report.status, report.error_type) == ("error", "Runtime.OutOfMemory")
    assert "\tStatus: error\tError Type: Runtime.OutOfMemory" in log


@pytest.mark.slow
def test_concurrent_invocations_get_environments_of_their_own(serving, fixture_function):
    server = serving()
    lam = invoke_client(server.address)
    instances = []

    def one():
        instances.append(invoke(lam, event={"work": 200000})[1]["instance_id"])
    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(instances)) == 2


@pytest.mark.slow
def test_bad_requests_are_answered_as_lambda_answers_them(serving):
    """A memory size outside 128..10240 MB and a payload over the 6 MB limit of a
    synchronous invoke get Lambda's own exceptions, and no environment is started."""
    from botocore.exceptions import ClientError

    lam = invoke_client(serving().address)
    with pytest.raises(ClientError) as raised:
        invoke(lam, name="coldbench-python-99999")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "128..10240" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName="coldbench-python-256",
                   Payload=json.dumps({"blob": "x" * (7 * 1024 * 1024)}).encode())
    assert raised.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
