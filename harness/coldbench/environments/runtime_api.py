"""coldbench's own Lambda Runtime API (version 2018-06-01), one server per environment.

This is where the phases are clocked: the server sees the runtime's first
``GET /runtime/invocation/next`` (the end of init), the moment the event is handed over,
and the moment the response or error arrives. ``phases.py`` turns these instants into
Lambda's figures.

The server must not show in the numbers: TCP_NODELAY on every connection (without it a
warm invocation reads about 40 ms, the delayed-ACK timer) and as little work as possible
between a request arriving and its timestamp being taken.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

API_VERSION = "2018-06-01"
_NEXT = f"/{API_VERSION}/runtime/invocation/next"
_INVOCATION = f"/{API_VERSION}/runtime/invocation/"
_INIT_ERROR = f"/{API_VERSION}/runtime/init/error"


def now_ns() -> int:
    """The one clock every phase is read from: monotonic, in nanoseconds."""
    return time.perf_counter_ns()


@dataclass
class Invocation:
    """One event on its way through the runtime, with the instants the server saw."""

    event: bytes
    deadline_ms: int
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    sent_ns: int | None = None        # event written to the runtime's GET /next
    done_ns: int | None = None        # response or error received in full
    response: bytes | None = None
    error: dict | None = None         # {"type", "message"} from POST .../error
    done: threading.Event = field(default_factory=threading.Event)


class RuntimeAPI:
    """The Lambda Runtime API for one execution environment, on 127.0.0.1.

    ``on_init_done`` is called (from the server thread) when the runtime first asks for
    an event, before any event is handed over: the local target applies the CPU limit
    there, since Lambda does not throttle init the way it throttles invocations.
    """

    def __init__(self, function_arn: str, on_init_done: Callable[[], None] | None = None):
        self.function_arn = function_arn
        self.on_init_done = on_init_done
        self.init_done_ns: int | None = None
        self.init_error: dict | None = None
        self.initialized = threading.Event()   # first GET /next, or an init error
        self._pending: dict[str, Invocation] = {}
        self._queue: queue.Queue[Invocation | None] = queue.Queue()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="runtime-api", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """``host:port``, the value of AWS_LAMBDA_RUNTIME_API."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def submit(self, event: bytes, timeout_s: float) -> Invocation:
        """Queue an event for the runtime's next ``GET /next``."""
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        invocation = Invocation(event=event, deadline_ms=deadline_ms)
        self._pending[invocation.request_id] = invocation
        self._queue.put(invocation)
        return invocation

    def close(self) -> None:
        """Stop serving; a runtime still waiting for an event gets its connection closed."""
        self._queue.put(None)
        self._server.shutdown()
        self._server.server_close()

    # called by the handler -------------------------------------------------------------

    def _first_next(self, at_ns: int) -> None:
        self.init_done_ns = at_ns
        try:
            if self.on_init_done is not None:
                self.on_init_done()
        except OSError as exc:      # the harness failed, not the function: say so
            self.init_error = {"type": "Coldbench.LimitFailed",
                               "message": f"applying the CPU limit after init failed: {exc}"}
        finally:
            self.initialized.set()

    def _finish(self, request_id: str, at_ns: int, body: bytes, error: dict | None) -> bool:
        invocation = self._pending.pop(request_id, None)
        if invocation is None:
            return False
        invocation.done_ns = at_ns
        if error is None:
            invocation.response = body
        else:
            invocation.error = error
        invocation.done.set()
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: RuntimeAPI

    def handle_error(self, request, client_address):
        pass   # a runtime killed mid-request resets its connection: expected, not news


def _error_from(body: bytes, header_type: str | None) -> dict:
    """Lambda's error document ({"errorType", "errorMessage"}) as {"type", "message"}."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    return {"type": document.get("errorType") or header_type or "Runtime.Unknown",
            "message": str(document.get("errorMessage") or body[:500].decode("utf-8", "replace"))}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # TCP_NODELAY on the accepted socket
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        at = now_ns()
        api = self.server.api
        if self.path != _NEXT:
            return self._reply(404, b'{"errorMessage":"not found"}')
        if api.init_done_ns is None:
            api._first_next(at)
        invocation = api._queue.get()
        if invocation is None:            # shutting down: leave the runtime waiting
            api._queue.put(None)
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(invocation.event)))
        self.send_header("Lambda-Runtime-Aws-Request-Id", invocation.request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", api.function_arn)
        self.send_header("Lambda-Runtime-Trace-Id",
                         f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0")
        self.end_headers()
        self.wfile.write(invocation.event)
        self.wfile.flush()
        invocation.sent_ns = now_ns()

    def do_POST(self):
        body = self._read_body()
        at = now_ns()
        api = self.server.api
        if self.path == _INIT_ERROR:
            api.init_error = _error_from(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
            api.initialized.set()
            return self._reply(202, b'{"status":"OK"}')
        if self.path.startswith(_INVOCATION):
            request_id, _, kind = self.path[len(_INVOCATION):].partition("/")
            if kind in ("response", "error"):
                error = None if kind == "response" else _error_from(
                    body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
                self._reply(202, b'{"status":"OK"}')
                api._finish(request_id, at, body, error)   # a late or unknown id is ignored
                return
        self._reply(404, b'{"errorMessage":"not found"}')

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass              # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
