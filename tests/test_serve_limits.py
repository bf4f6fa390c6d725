"""`coldbench serve` holds requests to Lambda's limits and answers bad ones as Lambda does:
invocation types, payload sizes and JSON for Event invokes too, a concurrency limit with
429 TooManyRequestsException, and HTTP a client cannot use to hold a thread (a read
timeout; a Content-Length that is not a number the body fills is answered 400). Real boto3
over HTTP where a client could send it, raw sockets where only a broken client would."""

import functools
import json
import os
import socket
import threading
import time

import pytest

from aws_standin import DUMMY_ENVIRONMENT
from coldbench.serve import MAX_EVENT_PAYLOAD_BYTES, Server
from conftest import exchange, invoke_client, run_cli

READ_TIMEOUT_S = 1.0
INVOKE = "/2015-03-31/functions/coldbench-python-256/invocations"


@pytest.fixture
def serving(serving):
    """conftest's, with a read timeout short enough to wait for."""
    return functools.partial(serving, read_timeout_s=READ_TIMEOUT_S)


def port_of(server) -> int:
    return int(server.address.rsplit(":", 1)[1])


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def error_type(answer: bytes) -> str:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    return next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                if line.startswith("x-amzn-errortype:"))


def post(length_header: str, body: bytes, extra: str = "") -> bytes:
    return (f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\n{length_header}{extra}\r\n").encode() + body


def still_serves(server) -> None:
    """A valid invocation after the bad request is answered."""
    response = invoke_client(server.address).invoke(FunctionName="coldbench-python-256",
                                                    Payload=b'{"work": 1}')
    assert response["StatusCode"] == 200 and "FunctionError" not in response


# HTTP: lengths and time ---------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "+5", "0x10", "", "5, 6"])
def test_a_content_length_that_is_not_a_number_is_answered_400(serving, value):
    server = serving()
    answer, _ = exchange(server.address, post(f"Content-Length: {value}\r\n", b"{}"))
    assert status_of(answer) == 400, answer
    assert error_type(answer) == "invalidrequestcontentexception"
    assert b"connection: close" in answer.lower()
    still_serves(server)


@pytest.mark.slow
def test_two_different_content_lengths_are_answered_400(serving):
    answer, _ = exchange(serving().address,
                         post("Content-Length: 2\r\nContent-Length: 3\r\n", b"{} "))
    assert status_of(answer) == 400, answer


@pytest.mark.slow
def test_a_body_shorter_than_its_content_length_is_answered_408_within_the_read_timeout(
        serving):
    server = serving()
    answer, took = exchange(server.address, post("Content-Length: 100\r\n", b'{"work": 1'))
    assert status_of(answer) == 408, answer
    assert READ_TIMEOUT_S * 0.9 < took < READ_TIMEOUT_S + 3
    still_serves(server)


@pytest.mark.slow
def test_a_request_that_stalls_before_its_headers_end_is_closed_within_the_read_timeout(
        serving):
    server = serving()
    answer, took = exchange(server.address, f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\n".encode())
    assert answer == b"" and took < READ_TIMEOUT_S + 3
    still_serves(server)


@pytest.mark.slow
def test_a_request_trickled_a_byte_at_a_time_is_cut_off_at_the_read_timeout(serving):
    """A per-read timeout alone would let a byte every half second hold a thread for ever:
    the whole request has one deadline."""
    server = serving()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as sock:
        closed = False
        for byte in post("Content-Length: 2\r\n", b"{}"):
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(READ_TIMEOUT_S / 4)
            if time.monotonic() - started > READ_TIMEOUT_S + 3:
                break
        if not closed:
            try:
                closed = sock.recv(65536) == b""
            except ConnectionResetError:
                closed = True
    assert closed and time.monotonic() - started < READ_TIMEOUT_S + 4
    still_serves(server)


@pytest.mark.slow
def test_an_idle_kept_alive_connection_is_closed_after_the_read_timeout(serving):
    server = serving()
    answer, took = exchange(server.address, b"")
    assert answer == b"" and took < READ_TIMEOUT_S + 3


@pytest.mark.slow
def test_a_chunked_body_is_refused_with_411(serving):
    server = serving()
    answer, _ = exchange(server.address,
                         post("Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n"))
    assert status_of(answer) == 411, answer
    still_serves(server)


@pytest.mark.slow
@pytest.mark.parametrize("request_bytes, status", [
    (f"POST /{'a' * 70000} HTTP/1.1\r\n\r\n".encode(), 414),
    (post("Content-Length: 2\r\n" + "X-Many: v\r\n" * 101, b"{}"), 431),
    (post("Content-Length: 2\r\nX-Huge: " + "h" * 70000 + "\r\n", b"{}"), 431),
], ids=["request line over 64 KB", "over 100 headers", "header line over 64 KB"])
def test_oversized_heads_are_answered_as_documented(serving, request_bytes, status):
    server = serving()
    answer, _ = exchange(server.address, request_bytes)
    assert status_of(answer) == status, answer[:200]
    still_serves(server)


# Invocation types, Event payloads ---------------------------------------------------------

@pytest.mark.slow
def test_an_unknown_invocation_type_is_a_validation_exception(serving):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as raised:
        invoke_client(serving().address).invoke(FunctionName="coldbench-python-256",
                                                InvocationType="Bogus", Payload=b"{}")
    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "ValidationException"
    assert "Value 'Bogus' at 'invocationType'" in error["Message"]


@pytest.mark.slow
@pytest.mark.parametrize("invocation_type", ["Event", "RequestResponse"])
@pytest.mark.parametrize("payload", [b"{not json", b'{"x": NaN}', b"[" * 100000])
def test_a_payload_that_is_not_json_is_refused_for_either_type(serving, invocation_type,
                                                               payload):
    lam = invoke_client(serving().address)
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="coldbench-python-256", InvocationType=invocation_type,
                   Payload=payload)


@pytest.mark.slow
def test_an_event_payload_is_held_to_lambdas_asynchronous_limit(serving):
    from botocore.exceptions import ClientError

    lam = invoke_client(serving().address)

    def payload(size: int) -> bytes:
        text = json.dumps({"blob": ""})
        return json.dumps({"blob": "x" * (size - len(text))}).encode()

    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName="coldbench-python-256", InvocationType="Event",
                   Payload=payload(MAX_EVENT_PAYLOAD_BYTES + 1))
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert raised.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert "too large for the Event invocation type (limit 1048576 bytes)" in \
        raised.value.response["Error"]["Message"]
    # 5.9 MB: within the synchronous limit, over the asynchronous one
    with pytest.raises(ClientError):
        lam.invoke(FunctionName="coldbench-python-256", InvocationType="Event",
                   Payload=payload(int(5.9 * 1024 * 1024)))
    accepted = lam.invoke(FunctionName="coldbench-python-256", InvocationType="Event",
                          Payload=payload(MAX_EVENT_PAYLOAD_BYTES))
    assert accepted["StatusCode"] == 202


# Concurrency --------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("second", ["RequestResponse", "Event"])
@pytest.mark.parametrize("first", ["RequestResponse", "Event"])
def test_past_the_concurrency_limit_invokes_get_429_too_many_requests(
        serving, fixture_function, first, second):
    """The timeout fixture holds its environment for the whole timeout: with
    --max-concurrency 1 any invoke meanwhile, of either type, is throttled as Lambda
    throttles it; once it is over, invokes run again."""
    from botocore.exceptions import ClientError

    server = serving(fixture_function("timeout"), timeout_s=3, max_concurrency=1)
    lam = invoke_client(server.address)
    holder = threading.Thread(target=lam.invoke, kwargs=dict(
        FunctionName="coldbench-python-256", InvocationType=first, Payload=b"{}"))
    holder.start()
    deadline = time.monotonic() + 10
    while server.concurrency.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName="coldbench-python-256", InvocationType=second, Payload=b"{}")
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response["Reason"] == "ConcurrentInvocationLimitExceeded"
    assert response["Type"] == "User"
    holder.join(30)
    while server.concurrency.in_flight and time.monotonic() < deadline + 10:
        time.sleep(0.05)                 # an Event holder ends in the background
    assert lam.invoke(FunctionName="coldbench-python-256", InvocationType="DryRun",
                      Payload=b"{}")["StatusCode"] == 204
    again = lam.invoke(FunctionName="coldbench-python-256", InvocationType=second, Payload=b"{}")
    assert again["StatusCode"] in (200, 202)


def test_a_reserved_function_is_throttled_at_its_reservation_only():
    from coldbench.serve import Concurrency, ServeError

    limits = Concurrency(limit=2)
    limits.acquire("reserved", 1)
    with pytest.raises(ServeError) as raised:
        limits.acquire("reserved", 1)
    assert (raised.value.status, raised.value.fields["Reason"]) == \
        (429, "ReservedFunctionConcurrentInvocationLimitExceeded")
    limits.acquire("a", None)
    limits.acquire("b", None)             # the reserved one does not count against the 2
    with pytest.raises(ServeError) as raised:
        limits.acquire("c", None)
    assert raised.value.fields["Reason"] == "ConcurrentInvocationLimitExceeded"
    limits.release("reserved", 1)        # a slot given back can be taken again
    limits.acquire("reserved", 1)
    limits.release("a", None)
    limits.acquire("c", None)
    with pytest.raises(ServeError):       # a reservation of 0 throttles every invoke
        limits.acquire("zero", 0)


# The command's options ----------------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    (["--port", "-1"], "--port"),
    (["--port", "70000"], "--port"),
    (["--host", "256.1.1.1"], "--host"),           # (no name is looked up: no DNS here)
    (["--host", "::1::1"], "--host"),
    (["--host", ""], "--host"),
    (["--control-plane-url", "not a url"], "--control-plane-url"),
    (["--control-plane-url", "http://127.0.0.1:99999"], "--control-plane-url"),
    (["--control-plane-url", "ftp://127.0.0.1"], "--control-plane-url"),
    (["--timeout", "nan"], "--timeout"),
    (["--timeout", "inf"], "--timeout"),
    (["--timeout", "0"], "--timeout"),
    (["--timeout", "901"], "--timeout"),
    (["--idle-timeout", "nan"], "--idle-timeout"),
    (["--read-timeout", "-1"], "--read-timeout"),
    (["--max-concurrency", "0"], "--max-concurrency"),
])
def test_bad_options_are_one_line_and_exit_2_before_anything_is_built(args, says):
    result = run_cli("serve", "--runtimes", "python", *args, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in result.stderr, \
        result.stderr
    assert "building" not in result.stderr


def test_a_control_plane_that_does_not_answer_is_refused():
    from aws_standin import free_port

    result = run_cli("serve", "--runtimes", "python", "--control-plane-url",
                     f"http://127.0.0.1:{free_port()}", timeout=120,
                     env={**os.environ, **DUMMY_ENVIRONMENT})
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "the Lambda API's ListFunctions failed: Could not connect" in result.stderr


@pytest.mark.slow
def test_a_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("serve", "--runtimes", "python", "--port", port, timeout=600)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"cannot listen on 127.0.0.1:{port}" in last and "in use" in last, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.aws
@pytest.mark.slow
def test_a_functions_reserved_concurrency_from_the_control_plane_is_held(
        serving, fixture_function, monkeypatch):
    """With a control plane (moto's server), PutFunctionConcurrency's reservation caps
    the function: past it, 429 with Reason ReservedFunctionConcurrentInvocationLimitExceeded,
    though the account's limit is far off."""
    import io
    import zipfile

    from botocore.exceptions import ClientError

    from aws_standin import MotoServer, boto
    from coldbench.serve import LambdaApi

    for key, value in DUMMY_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    moto = MotoServer()
    try:
        role = boto(moto.url, "iam").create_role(
            RoleName="coldbench-test", AssumeRolePolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
        control = boto(moto.url, "lambda")
        control.create_function(FunctionName="coldbench-python-256", Runtime="python3.12",
                                Role=role, Handler="app.handler", Timeout=3, MemorySize=256,
                                Code={"ZipFile": code.getvalue()})
        control.put_function_concurrency(FunctionName="coldbench-python-256",
                                         ReservedConcurrentExecutions=1)
        server = serving(fixture_function("timeout"),
                         control_plane=LambdaApi(moto.url, "us-east-1"))
        lam = invoke_client(server.address)
        holder = threading.Thread(target=lam.invoke, kwargs=dict(
            FunctionName="coldbench-python-256", InvocationType="Event", Payload=b"{}"))
        holder.start()
        holder.join(30)
        with pytest.raises(ClientError) as raised:
            lam.invoke(FunctionName="coldbench-python-256", Payload=b"{}")
        response = raised.value.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert server.concurrency.limit == 1000
    finally:
        moto.close()


def test_an_address_not_of_this_machine_is_a_usage_error():
    from coldbench.errors import UsageError

    with pytest.raises(UsageError, match="cannot listen on 192.0.2.1:0"):
        Server({}, host="192.0.2.1", port=0)          # TEST-NET-1: no machine's address
