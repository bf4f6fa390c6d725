"""coldbench's own Lambda Runtime API (version 2018-06-01), one server per environment.

This is where the phases are clocked: the server sees the runtime's first
``GET /runtime/invocation/next`` (the end of init), the moment the event is handed over,
and the moment the response or error arrives. ``phases.py`` turns these instants into
Lambda's figures.

The server must not show in the numbers, so it is a few lines of HTTP/1.1 over plain
sockets rather than ``http.server``, whose header parsing (the email package) and
polling shutdown cost more than the fastest runtimes' whole invocation:

- TCP_NODELAY on every connection (without it a warm invocation reads about 40 ms, the
  delayed-ACK timer);
- one thread per connection, blocked in ``recv``: a request is timed the moment the read
  that brought its last byte returned, before it is parsed;
- an answer leaves in one ``sendall``, and the event's instant is taken right before it.

The runtimes' clients send only what the API defines: ``GET .../invocation/next``,
``POST .../invocation/{id}/response``, ``POST .../invocation/{id}/error`` and
``POST .../init/error``, with ``Content-Length`` or chunked bodies.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from coldbench.environments.base import ControlPlane, decode_response
from coldbench.model import Invoked
from coldbench.phases import ms_between, now_ns

API_VERSION = "2018-06-01"
_NEXT = f"/{API_VERSION}/runtime/invocation/next"
_INVOCATION = f"/{API_VERSION}/runtime/invocation/"
_INIT_ERROR = f"/{API_VERSION}/runtime/init/error"
_ERROR_TYPE = "lambda-runtime-function-error-type"
_ACCEPTED = b'{"status":"OK"}'
_NOT_FOUND = b'{"errorMessage":"not found"}'
_RECV_BYTES = 65536
_MAX_HEAD_BYTES = 64 * 1024


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
    """The Lambda Runtime API for one execution environment, on 127.0.0.1 of the network
    namespace it is made in.

    ``on_init_done`` is called (from a connection's thread) when the runtime first asks
    for an event, before any event is handed over: the CPU limit is applied there, since
    Lambda does not throttle init the way it throttles invocations.
    """

    def __init__(self, function_arn: str, on_init_done: Callable[[], None] | None = None):
        self.function_arn = function_arn
        self.on_init_done = on_init_done
        self.init_done_ns: int | None = None
        self.init_error: dict | None = None
        self.initialized = threading.Event()   # first GET /next, or an init error
        self._pending: dict[str, Invocation] = {}
        self._queue: queue.Queue[Invocation | None] = queue.Queue()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        threading.Thread(target=self._accept, name="runtime-api", daemon=True).start()

    @property
    def address(self) -> str:
        """``host:port``, the value of AWS_LAMBDA_RUNTIME_API."""
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def submit(self, event: bytes, timeout_s: float) -> Invocation:
        """Queue an event for the runtime's next ``GET /next``."""
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        invocation = Invocation(event=event, deadline_ms=deadline_ms)
        self._pending[invocation.request_id] = invocation
        self._queue.put(invocation)
        return invocation

    def close(self) -> None:
        """Stop serving; a runtime still waiting for an event has its connection closed.
        Returns at once: the connections' threads end on their own."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections = list(self._connections)
        self._queue.put(None)
        for sock in [self._listener, *connections]:
            try:
                sock.shutdown(socket.SHUT_RDWR)     # wakes a thread blocked on it
            except OSError:
                pass
        self._listener.close()

    # the server ------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:                  # closed
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="runtime-api-conn",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = _Reader(conn)
        try:
            while True:
                request = reader.request()
                if request is None:
                    return
                if not self._handle(conn, *request):
                    return
        except (OSError, ValueError):
            pass   # a runtime killed mid-request resets its connection: expected, not news
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _handle(self, conn: socket.socket, at: int, method: str, path: str,
                headers: dict[str, str], body: bytes) -> bool:
        """Answer one request; False when the connection is to be closed."""
        if method == "GET" and path == _NEXT:
            if self.init_done_ns is None:
                self._first_next(at)
            invocation = self._queue.get()
            if invocation is None:            # shutting down: leave the runtime waiting
                self._queue.put(None)
                return False
            trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
            answer = _response(200, invocation.event, (
                ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
                ("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms)),
                ("Lambda-Runtime-Invoked-Function-Arn", self.function_arn),
                ("Lambda-Runtime-Trace-Id", trace)))
            # Taken before the write: a fast runtime can answer on another connection, whose
            # thread may record the response before this one runs again after sendall.
            invocation.sent_ns = now_ns()
            conn.sendall(answer)
            return True
        if method == "POST" and path == _INIT_ERROR:
            self.init_error = _error_from(body, headers.get(_ERROR_TYPE))
            self.initialized.set()
            conn.sendall(_response(202, _ACCEPTED))
            return True
        if method == "POST" and path.startswith(_INVOCATION):
            request_id, _, kind = path[len(_INVOCATION):].partition("/")
            if kind in ("response", "error"):
                error = None if kind == "response" else _error_from(body, headers.get(_ERROR_TYPE))
                conn.sendall(_response(202, _ACCEPTED))
                self._finish(request_id, at, body, error)   # a late or unknown id is ignored
                return headers.get("connection", "").lower() != "close"
        conn.sendall(_response(404, _NOT_FOUND))
        return headers.get("connection", "").lower() != "close"

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


_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found"}


def _response(status: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS[status]}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Reader:
    """HTTP/1.1 requests from one connection, as (instant, method, path, headers, body);
    the instant is when the read that brought the request's last byte returned."""

    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.buffer = bytearray()
        self.received_ns = 0             # when the last bytes read arrived

    def _more(self) -> bool:
        data = self.conn.recv(_RECV_BYTES)
        self.received_ns = now_ns()
        if not data:
            return False
        self.buffer += data
        return True

    def _line(self) -> bytes | None:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > _MAX_HEAD_BYTES or not self._more():
                return None
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 2]
        return line

    def _exactly(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if not self._more():
                return None
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def request(self) -> tuple[int, str, str, dict[str, str], bytes] | None:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if len(self.buffer) > _MAX_HEAD_BYTES or not self._more():
                return None
        head = self.buffer[:end].decode("latin-1")
        del self.buffer[:end + 4]
        request_line, *header_lines = head.split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        else:
            body = self._exactly(int(headers.get("content-length") or 0))
        if body is None:
            return None
        # the request was in once the read that completed it returned (usually its only
        # read): parsing it is not the runtime's time
        return self.received_ns, method, path, headers, body

    def _chunked(self) -> bytes | None:
        chunks = []
        while True:
            line = self._line()
            if line is None:
                return None
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self._line() not in (b"", None):
                    pass
                return b"".join(chunks)
            chunk = self._exactly(size + 2)          # the chunk and its CRLF
            if chunk is None:
                return None
            chunks.append(chunk[:-2])


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


# the control plane ---------------------------------------------------------------------

_POLL_S = 0.02          # how often a waiting invoke looks for a crash or a timeout


class RuntimeApiPlane(ControlPlane):
    """coldbench's Runtime API as an environment's control plane: the server is opened in
    the sandbox's network just before the runtime starts, and clocks init and invocations
    as ``phases.py`` defines them."""

    def __init__(self):
        self.api: RuntimeAPI | None = None
        self._init_outcome = "done"

    def before_exec(self, environment):
        def open_api() -> dict[str, str]:
            self.api = RuntimeAPI(environment.function_arn, environment.sandbox.init_done)
            return {"AWS_LAMBDA_RUNTIME_API": self.api.address}
        return open_api

    def _wait(self, environment, done: threading.Event, deadline_ns: Callable[[], int]) -> str:
        """Wait for ``done`` until ``deadline_ns()``: "done", "exited" (the runtime
        ended) or "timeout"."""
        while not done.wait(_POLL_S):
            if not environment.sandbox.running():
                return "done" if done.is_set() else "exited"
            if now_ns() > deadline_ns():
                return "timeout"
        return "done"

    def wait_initialized(self, environment) -> None:
        deadline = environment.sandbox.started_ns + int(environment.timeout_s * 1e9)
        self._init_outcome = self._wait(environment, self.api.initialized, lambda: deadline)

    def invoke(self, environment, event: dict, first: bool) -> tuple[Invoked, bool]:
        sandbox, api = environment.sandbox, self.api
        timeout_ns = int(environment.timeout_s * 1e9)
        if not api.initialized.is_set():
            outcome = self._wait(environment, api.initialized,
                                 lambda: sandbox.started_ns + timeout_ns)
        else:
            outcome = self._init_outcome
        if api.init_error:
            return Invoked(duration_ms=None, error=api.init_error | {"phase": "init"}), False
        if outcome != "done":
            error = (environment.timed_out("init") if outcome == "timeout"
                     else environment.exit_error("init"))
            return Invoked(duration_ms=None, error=error), False
        # On Lambda a cold environment's init starts with its first request: that request
        # has an Init Duration even when a fast runtime finished init before invoke() ran.
        init_ms = (ms_between(sandbox.started_ns, api.init_done_ns)
                   if first and not environment.provisioned else None)

        invocation = api.submit(json.dumps(event).encode(), environment.timeout_s)
        submitted = now_ns()
        # the timeout counts from the event's hand-over, as Lambda's does
        outcome = self._wait(environment, invocation.done,
                             lambda: (invocation.sent_ns or submitted) + timeout_ns)
        if outcome != "done":
            error = (environment.timed_out("invoke") if outcome == "timeout"
                     else environment.exit_error("invoke"))
            duration = ms_between(invocation.sent_ns, now_ns()) if invocation.sent_ns else None
            return Invoked(duration_ms=duration, init_ms=init_ms, error=error), False
        result = Invoked(duration_ms=ms_between(invocation.sent_ns, invocation.done_ns),
                         init_ms=init_ms)
        if invocation.error is not None:
            result.error = invocation.error | {"phase": "invoke"}
        else:
            result.response = decode_response(invocation.response)
        return result, True

    def close(self) -> None:
        if self.api is not None:
            self.api.close()
