"""The Runtime API server speaks Lambda's protocol (2018-06-01): a client plays the runtime."""

import json
import threading
import time

import httpx
import pytest

from coldbench.environments.runtime_api import RuntimeAPI

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"


@pytest.fixture
def api():
    calls = []
    server = RuntimeAPI(ARN, on_init_done=lambda: calls.append("init done"))
    server.calls = calls
    yield server
    server.close()


def base(api):
    return f"http://{api.address}/2018-06-01/runtime"


def test_next_hands_over_the_event_with_lambdas_headers(api):
    invocation = api.submit(b'{"work": 1}', timeout_s=5)
    with httpx.Client() as runtime:
        reply = runtime.get(f"{base(api)}/invocation/next")
        assert reply.status_code == 200
        assert reply.content == b'{"work": 1}'
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["lambda-runtime-aws-request-id"] == invocation.request_id
        assert reply.headers["lambda-runtime-invoked-function-arn"] == ARN
        assert reply.headers["lambda-runtime-trace-id"].startswith("Root=1-")
        deadline = int(reply.headers["lambda-runtime-deadline-ms"])
        assert 0 < deadline - time.time() * 1000 <= 5000
        assert api.calls == ["init done"] and api.init_done_ns is not None
        answer = runtime.post(f"{base(api)}/invocation/{invocation.request_id}/response",
                              content=b'{"ok": true}')
        assert answer.status_code == 202
    assert invocation.done.wait(1)
    assert invocation.response == b'{"ok": true}' and invocation.error is None
    assert invocation.done_ns > invocation.sent_ns


def test_error_document_becomes_type_and_message(api):
    invocation = api.submit(b"{}", timeout_s=5)
    with httpx.Client() as runtime:
        runtime.get(f"{base(api)}/invocation/next")
        runtime.post(f"{base(api)}/invocation/{invocation.request_id}/error",
                     headers={"Lambda-Runtime-Function-Error-Type": "Unhandled"},
                     json={"errorType": "ValueError", "errorMessage": "bad"})
    assert invocation.done.wait(1)
    assert invocation.error == {"type": "ValueError", "message": "bad"}


def test_init_error_is_recorded(api):
    with httpx.Client() as runtime:
        reply = runtime.post(f"{base(api)}/init/error",
                             json={"errorType": "Runtime.ImportModuleError", "errorMessage": "no"})
    assert reply.status_code == 202
    assert api.initialized.is_set()
    assert api.init_error == {"type": "Runtime.ImportModuleError", "message": "no"}


def test_chunked_response_body_is_read_whole(api):
    invocation = api.submit(b"{}", timeout_s=5)

    def body():
        yield b'{"part":'
        yield b' 1}'

    with httpx.Client() as runtime:
        runtime.get(f"{base(api)}/invocation/next")
        runtime.post(f"{base(api)}/invocation/{invocation.request_id}/response", content=body())
    assert invocation.done.wait(1)
    assert json.loads(invocation.response) == {"part": 1}


def test_next_waits_for_an_event(api):
    got = {}

    def runtime():
        with httpx.Client(timeout=5) as client:
            got["reply"] = client.get(f"{base(api)}/invocation/next")

    thread = threading.Thread(target=runtime)
    thread.start()
    assert api.initialized.wait(2)
    time.sleep(0.1)
    assert "reply" not in got                      # long poll: nothing to hand over yet
    api.submit(b'{"late": true}', timeout_s=5)
    thread.join(5)
    assert got["reply"].json() == {"late": True}


def test_unknown_paths_and_ids(api):
    with httpx.Client() as runtime:
        assert runtime.get(f"{base(api)}/nothing").status_code == 404
        late = runtime.post(f"{base(api)}/invocation/unknown-id/response", content=b"{}")
        assert late.status_code == 202             # Lambda ignores a late or unknown answer



def test_the_hand_over_is_timed_before_the_write(api):
    """A fast runtime can answer on a second connection while the thread that handed the
    event over has not run again after its write (seen with Rust: Durations of 0.02 ms):
    the hand-over's instant is taken before the event is written, so Duration is never
    shorter than the runtime's round trip."""
    from coldbench.phases import now_ns

    class Connection:                  # records when the event's write began
        def sendall(self, data):
            self.written_ns = now_ns()

    invocation = api.submit(b"{}", timeout_s=5)
    conn = Connection()
    assert api._handle(conn, now_ns(), "GET", "/2018-06-01/runtime/invocation/next", {}, b"")
    assert invocation.sent_ns is not None and invocation.sent_ns <= conn.written_ns
