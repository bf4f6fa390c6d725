"""Property-based fuzzing of coldbench's two hand-written HTTP servers: `coldbench serve`
(with the real Python function behind it) and the Runtime API server. Hypothesis makes
request lines, headers (Content-Length variants, Transfer-Encoding, huge and many
headers), bodies (chunked ones with bad chunks among them), cut anywhere, sent over real
sockets; after each, the server must have answered or closed the connection within its
read timeout, and must still serve a valid request. Derandomized, and bounded to a few
tens of seconds each."""

import socket
import time
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coldbench.environments import runtime_api
from coldbench.environments.runtime_api import RuntimeAPI

READ_TIMEOUT_S = 0.5
FUZZ = settings(derandomize=True, database=None, deadline=timedelta(seconds=20),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example,
                                       HealthCheck.function_scoped_fixture])

INVOKE = "/2015-03-31/functions/coldbench-python-256/invocations"
SERVE_PATHS = [INVOKE, INVOKE + "?Qualifier=1", INVOKE + "?Qualifier=", "/", "*",
               "/2015-03-31/functions/coldbench-python-99999/invocations",
               "/2015-03-31/functions/%ZZ%00/invocations",
               "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:"
               "coldbench-python-128/invocations",
               "/2015-03-31/functions/" + "a" * 300 + "/invocations"]
RUNTIME_PATHS = ["/2018-06-01/runtime/invocation/next",
                 "/2018-06-01/runtime/invocation/unknown/response",
                 "/2018-06-01/runtime/invocation/unknown/error",
                 "/2018-06-01/runtime/init/error", "/", "/2018-06-01/runtime/invocation/"]


def header_values(name: str):
    if name == "Content-Length":
        return st.one_of(st.integers(-10, 10 ** 25).map(str),
                         st.sampled_from(["abc", "", " 5", "5 ", "1e3", "0x10", "-0", "2, 2",
                                          "٣", "9" * 5000]))
    if name == "Transfer-Encoding":
        return st.sampled_from(["chunked", "gzip", "chunked, gzip", "identity", "", "CHUNKED"])
    if name == "X-Amz-Invocation-Type":
        return st.sampled_from(["RequestResponse", "Event", "DryRun", "Bogus", "", "event"])
    if name == "Connection":
        return st.sampled_from(["close", "keep-alive", "Upgrade", ""])
    if name == "Expect":
        return st.sampled_from(["100-continue", "bogus"])
    return st.text(max_size=20)


@st.composite
def header_lines(draw):
    name = draw(st.sampled_from(["Content-Length", "Transfer-Encoding", "X-Amz-Invocation-Type",
                                 "X-Amz-Log-Type", "Connection", "Expect", "Host"])
                | st.text(min_size=0, max_size=12))
    value = draw(header_values(name))
    separator = draw(st.sampled_from([": ", ":", " : ", ""]))
    return (name + separator + value).encode("utf-8", "surrogatepass")


@st.composite
def chunked(draw, body: bytes) -> bytes:
    """``body`` in chunks, some of them wrong: a size that lies, is not hex, or no end."""
    out = b""
    rest = body
    while rest:
        size = draw(st.integers(1, max(1, len(rest))))
        chunk, rest = rest[:size], rest[size:]
        told = draw(st.sampled_from(["right", "right", "right", "more", "less", "nothex",
                                     "negative", "extension"]))
        size_text = {"right": f"{len(chunk):x}", "more": f"{len(chunk) + 3:x}",
                     "less": f"{max(0, len(chunk) - 1):x}", "nothex": "zz",
                     "negative": f"-{len(chunk):x}",
                     "extension": f"{len(chunk):x};name=value"}[told]
        out += size_text.encode() + b"\r\n" + chunk + b"\r\n"
    if draw(st.booleans()):
        out += b"0\r\n\r\n"
    return out


@st.composite
def requests(draw, paths: list[str]) -> tuple[bytes, bool]:
    """Raw request bytes, and whether the client then half-closes its side (otherwise it
    stalls, and the server's read timeout must end the connection)."""
    method = draw(st.sampled_from(["POST", "POST", "GET", "PUT", "HEAD", "DELETE", "BREW", ""])
                  | st.text(max_size=6))
    path = draw(st.sampled_from(paths) | st.text(max_size=40))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2", "", "HTTP/x"]))
    space = draw(st.sampled_from([" ", " ", "  ", "\t"]))
    end = draw(st.sampled_from(["\r\n", "\r\n", "\n", ""]))
    head = f"{method}{space}{path}{space}{version}".encode("utf-8", "surrogatepass") + end.encode()
    for line in draw(st.lists(header_lines(), max_size=6)):
        head += line + b"\r\n"
    extra = draw(st.sampled_from(["none", "none", "none", "huge header", "many headers"]))
    if extra == "huge header":
        head += b"X-Huge: " + b"h" * 70000 + b"\r\n"
    elif extra == "many headers":
        head += b"".join(b"X-%d: v\r\n" % i for i in range(150))
    body = draw(st.binary(max_size=300) | st.sampled_from(
        [b"", b"{}", b'{"work": 1}', b"[1, 2]", b'"text"', b"{not json", b"[" * 2000,
         b'{"x": NaN}']))
    if draw(st.booleans()):
        body = draw(chunked(body))
    data = head + b"\r\n" + body
    cut = draw(st.none() | st.integers(1, len(data)))
    if cut is not None:
        data = data[:cut]
    return data, draw(st.booleans())


def send(address: tuple[str, int], data: bytes, half_close: bool, patience_s: float,
         keeps_alive: bool) -> bytes:
    """Send ``data``; what came back. The server must close the connection within
    ``patience_s``, or, where it keeps connections open (``keeps_alive``), have answered."""
    with socket.create_connection(address, timeout=5) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            return b""                     # closed on us mid-send: an answer of its own
        sock.settimeout(0.1)
        answer = b""
        deadline = time.monotonic() + patience_s
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if keeps_alive and answer:
                    return answer
                assert time.monotonic() < deadline, \
                    f"no answer and not closed after {patience_s} s: sent {data[:300]!r}"
                continue
            except ConnectionResetError:
                return answer
            if not chunk:
                return answer
            answer += chunk


# serve ------------------------------------------------------------------------------

@pytest.fixture
def served(serving):
    return serving(read_timeout_s=READ_TIMEOUT_S, timeout_s=5)


def serve_still_answers(server) -> None:
    with httpx.Client(timeout=30) as http:
        reply = http.post(server.address + INVOKE, content=b'{"work": 1}')
    assert reply.status_code == 200 and reply.json()["runtime"] == "python", reply.text


@pytest.mark.slow
@settings(FUZZ, max_examples=100)
@given(request=requests(SERVE_PATHS))
def test_serve_answers_or_closes_every_request_and_keeps_serving(served, request):
    data, half_close = request
    host, port = served.address[len("http://"):].split(":")
    # an invocation that parses may start an environment: a cold start's time on top
    send((host, int(port)), data, half_close, READ_TIMEOUT_S + 10, keeps_alive=False)
    serve_still_answers(served)


# the Runtime API ----------------------------------------------------------------------

@pytest.fixture
def runtime_api_server():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime_api, "READ_TIMEOUT_S", READ_TIMEOUT_S)
        api = RuntimeAPI("arn:aws:lambda:us-east-1:000000000000:function:f")
        api.submitted = {}
        yield api
        api.close()


def submit(api) -> None:
    invocation = api.submit(b'{"n": 1}', timeout_s=5)
    api.submitted[invocation.request_id] = invocation


def runtime_still_served(api) -> None:
    """A GET /next and its response, as a runtime's client sends them, go through."""
    submit(api)
    base = f"http://{api.address}/2018-06-01/runtime"
    with httpx.Client(timeout=5) as runtime:
        reply = runtime.get(f"{base}/invocation/next")
        assert reply.status_code == 200
        request_id = reply.headers["lambda-runtime-aws-request-id"]
        assert runtime.post(f"{base}/invocation/{request_id}/response",
                            content=b'{"ok": 1}').status_code == 202
    assert api.submitted[request_id].done.wait(5)


@pytest.mark.slow
@settings(FUZZ, max_examples=120)
@given(request=requests(RUNTIME_PATHS))
def test_the_runtime_api_answers_or_closes_every_request_and_keeps_serving(
        runtime_api_server, request):
    data, half_close = request
    api = runtime_api_server
    submit(api)             # a GET /next among the fuzz has an event waiting
    submit(api)
    host, port = api.address.split(":")
    answer = send((host, int(port)), data, half_close, READ_TIMEOUT_S + 3, keeps_alive=True)
    assert not answer or answer.startswith(b"HTTP/1.1 "), answer[:200]
    runtime_still_served(api)
