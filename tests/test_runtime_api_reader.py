"""The Runtime API server's request reader with clients that break the protocol: a
malformed request is answered 400 and its connection closed, a request that stalls once
begun is dropped after the read timeout, and the server goes on serving the runtime.
Raw sockets, as a broken runtime client would write."""

import socket
import time

import httpx
import pytest

from coldbench.environments import runtime_api
from coldbench.environments.runtime_api import RuntimeAPI
from conftest import exchange

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"
READ_TIMEOUT_S = 1.0
RESPONSE = "/2018-06-01/runtime/invocation/{}/response"


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setattr(runtime_api, "READ_TIMEOUT_S", READ_TIMEOUT_S)
    server = RuntimeAPI(ARN)
    yield server
    server.close()


def serves_the_runtime(api) -> None:
    """A whole invocation, as a runtime's client makes it, still goes through."""
    invocation = api.submit(b'{"n": 1}', timeout_s=5)
    base = f"http://{api.address}/2018-06-01/runtime"
    with httpx.Client(timeout=5) as runtime:
        reply = runtime.get(f"{base}/invocation/next")
        request_id = reply.headers["lambda-runtime-aws-request-id"]
        assert runtime.post(f"{base}/invocation/{request_id}/response",
                            content=b'{"ok": 1}').status_code == 202
    assert invocation.done.wait(5) and invocation.response == b'{"ok": 1}'


def post(headers: str, body: bytes) -> bytes:
    return f"POST {RESPONSE.format('x')} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


@pytest.mark.parametrize("request_bytes", [
    post("Content-Length: -1\r\n", b"{}"),
    post("Content-Length: abc\r\n", b"{}"),
    post("Content-Length: 2\r\nContent-Length: 3\r\n", b"{} "),
    post("Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n"),
    post("Transfer-Encoding: chunked\r\n", b"1\r\n{}\r\n0\r\n\r\n"),       # chunk over its size
    post("Transfer-Encoding: chunked\r\n", b"-2\r\n{}\r\n0\r\n\r\n"),
    post("Transfer-Encoding: gzip\r\n", b"{}"),
    b"NONSENSE\r\n\r\n",
    b"GET  HTTP/1.1\r\n\r\n",
    b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET /x HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
], ids=["length -1", "length abc", "two lengths", "chunk size zz", "chunk over size",
        "chunk size -2", "gzip", "no request line", "empty path", "header without colon",
        "head over 64 KB"])
def test_a_malformed_request_is_answered_400_and_closed(api, request_bytes):
    answer, took = exchange(api.address, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer[:200]
    assert took < 3
    serves_the_runtime(api)


@pytest.mark.parametrize("request_bytes", [
    post("Content-Length: 100\r\n", b'{"a": 1'),                         # body short
    post("Transfer-Encoding: chunked\r\n", b"10\r\n{}"),                 # chunk short
    f"POST {RESPONSE.format('x')} HTTP/1.1\r\nContent-Le".encode(),    # head unfinished
], ids=["body short", "chunk short", "head unfinished"])
def test_a_request_that_stalls_once_begun_is_dropped_after_the_read_timeout(api, request_bytes):
    answer, took = exchange(api.address, request_bytes)
    assert answer == b""
    assert READ_TIMEOUT_S * 0.9 < took < READ_TIMEOUT_S + 3
    serves_the_runtime(api)


def test_a_quiet_connection_between_requests_is_kept(api):
    """A runtime is silent while its handler runs, for up to the function's timeout: the
    wait for the next request has no read timeout."""
    host, port = api.address.split(":")
    api.submit(b"{}", timeout_s=5)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        time.sleep(READ_TIMEOUT_S * 2)
        sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
