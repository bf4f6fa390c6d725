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

from coldbench.environments import extensions_api
from coldbench.environments.base import ControlPlane, decode_response
from coldbench.environments.extensions import ExternalExtensions
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
# Once a request's first byte is in, the rest must follow within this many seconds (a
# runtime sends a request in one go; waiting for the next request has no limit, since a
# runtime is silent while its handler runs, and ends when the environment closes).
READ_TIMEOUT_S = 10.0


@dataclass
class Invocation:
    """One event on its way through the runtime, with the instants the server saw."""

    event: bytes
    deadline_ms: int
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace: str = field(default_factory=lambda: (f"Root=1-{int(time.time()):08x}-"
                                                f"{uuid.uuid4().hex[:24]};Sampled=0"))
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
        self.runtime_ready_ns: int | None = None    # the runtime's first GET /next
        self.init_done_ns: int | None = None        # ... and every extension ready
        # the Extensions and Telemetry APIs, when the environment has external extensions
        self.extensions: extensions_api.ExtensionsAPI | None = None
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
                try:
                    request = reader.request()
                except BadRequest as exc:       # answered, then the connection is closed
                    conn.sendall(_response(400, json.dumps(
                        {"errorType": "InvalidRequest", "errorMessage": str(exc)}).encode(),
                        (("Connection", "close"),)))
                    return
                if request is None:
                    return
                if not self._handle(conn, *request):
                    return
        except (OSError, ValueError):
            pass   # a runtime killed mid-request resets its connection; a request that
            #        stalls past READ_TIMEOUT_S is dropped: expected, not news
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _handle(self, conn: socket.socket, at: int, method: str, path: str,
                headers: dict[str, str], body: bytes) -> bool:
        """Answer one request; False when the connection is to be closed."""
        if self.extensions is not None and (path.startswith(extensions_api.PREFIX)
                                            or path in extensions_api.SUBSCRIPTION_PATHS):
            answer = self.extensions.handle(at, method, path, headers, body)
            if answer is None:
                return False
            conn.sendall(_response(*answer))
            return headers.get("connection", "").lower() != "close"
        if method == "GET" and path == _NEXT:
            if self.runtime_ready_ns is None:
                self._first_next(at)
            invocation = self._queue.get()
            if invocation is None:            # shutting down: leave the runtime waiting
                self._queue.put(None)
                return False
            trace = invocation.trace
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
        self.runtime_ready_ns = at_ns
        self.init_ready()

    def init_ready(self) -> None:
        """Init is over once the runtime and every registered extension have asked for
        their next event (AWS Lambda Developer Guide, "Lambda Extensions API")."""
        with self._lock:
            if self.init_done_ns is not None or self.runtime_ready_ns is None:
                return
            if self.extensions is not None and not self.extensions.all_ready():
                return
            extensions_ready = self.extensions.ready_ns() if self.extensions else None
            self.init_done_ns = max(self.runtime_ready_ns, extensions_ready or 0)
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


_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 409: "Conflict"}


def _response(status: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS[status]}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class BadRequest(ValueError):
    """A request that is not HTTP/1.1 as the Runtime API's clients speak it."""


class _Reader:
    """HTTP/1.1 requests from one connection, as (instant, method, path, headers, body);
    the instant is when the read that brought the request's last byte returned. A request
    that has begun must arrive whole within ``timeout_s`` (TimeoutError); a malformed one
    raises BadRequest."""

    def __init__(self, conn: socket.socket, timeout_s: float | None = None):
        self.conn = conn
        self.timeout_s = READ_TIMEOUT_S if timeout_s is None else timeout_s
        self.buffer = bytearray()
        self.received_ns = 0             # when the last bytes read arrived
        self.deadline: float | None = None
        self._timed = False              # the socket has a timeout set

    def _more(self) -> bool:
        # the socket's timeout is touched only when a request takes more than one read,
        # so that the usual request (one read) costs no extra system call
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request did not arrive in time")
            self.conn.settimeout(left)
            self._timed = True
        elif self._timed:
            self.conn.settimeout(None)
            self._timed = False
        data = self.conn.recv(_RECV_BYTES)
        self.received_ns = now_ns()
        if not data:
            return False
        self.buffer += data
        return True

    def _line(self) -> bytes | None:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > _MAX_HEAD_BYTES:
                raise BadRequest("a line longer than 64 KB")
            if not self._more():
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
        self.deadline = None              # waiting for a request: no limit
        if not self.buffer and not self._more():
            return None
        self.deadline = time.monotonic() + self.timeout_s
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if len(self.buffer) > _MAX_HEAD_BYTES:
                raise BadRequest("request head larger than 64 KB")
            if not self._more():
                return None
        if end > _MAX_HEAD_BYTES:
            raise BadRequest("request head larger than 64 KB")
        head = self.buffer[:end].decode("latin-1")
        del self.buffer[:end + 4]
        method, path, headers = _parse_head(head)
        if "transfer-encoding" in headers:
            if headers["transfer-encoding"].lower() != "chunked":
                raise BadRequest(f"Transfer-Encoding {headers['transfer-encoding']!r} "
                                 "is not chunked")
            body = self._chunked()
        else:
            body = self._exactly(_content_length(headers.get("content-length", "0")))
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
            size_text = line.split(b";")[0].strip()
            if not (0 < len(size_text) <= 15 and
                    all(c in b"0123456789abcdefABCDEF" for c in size_text)):
                raise BadRequest(f"bad chunk size {line[:40]!r}")
            size = int(size_text, 16)
            if size == 0:
                while (trailer := self._line()) not in (b"", None):
                    pass
                return None if trailer is None else b"".join(chunks)
            chunk = self._exactly(size + 2)          # the chunk and its CRLF
            if chunk is None:
                return None
            if chunk[-2:] != b"\r\n":
                raise BadRequest("a chunk longer than its size")
            chunks.append(chunk[:-2])


def _parse_head(head: str) -> tuple[str, str, dict[str, str]]:
    request_line, *header_lines = head.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1].startswith("/") or \
            not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {request_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name:
            raise BadRequest(f"bad header line {line[:80]!r}")
        if name == "content-length" and headers.get(name, value.strip()) != value.strip():
            raise BadRequest("two different Content-Length headers")
        headers[name] = value.strip()
    return parts[0], parts[1], headers


def _content_length(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 15):
        raise BadRequest(f"bad Content-Length {text[:40]!r}")
    return int(text)


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
    the sandbox's network just before the runtime starts (before its external extensions,
    when it has some: ``extensions.py``), and clocks init and invocations as ``phases.py``
    defines them."""

    def __init__(self):
        self.api: RuntimeAPI | None = None
        self.extensions: ExternalExtensions | None = None
        self._init_outcome = "done"

    def command(self, environment, argv, env):
        """With external extensions (``/opt/extensions``) the API opens now: they start,
        and the runtime starts once they have registered (or failed)."""
        argv = exec_wrapper(environment.artifact.function.runtime, argv, env)
        paths = extensions_api.external_extensions(environment.opt_dir)
        if paths:
            with environment.sandbox.network():
                self.api = RuntimeAPI(environment.function_arn, environment.sandbox.init_done)
            self.extensions = ExternalExtensions(environment, self.api, paths)
            self.extensions.start(env | {"AWS_LAMBDA_RUNTIME_API": self.api.address})
        return argv, env

    def before_exec(self, environment):
        def open_api() -> dict[str, str]:
            if self.api is None:
                self.api = RuntimeAPI(environment.function_arn, environment.sandbox.init_done)
            return {"AWS_LAMBDA_RUNTIME_API": self.api.address}
        return open_api

    def _init_start_ns(self, environment) -> int:
        """Init starts with the first extension's start, else with the runtime's."""
        if self.extensions is not None:
            return self.extensions.started_ns
        return environment.sandbox.started_ns

    def _wait(self, environment, done: threading.Event, deadline_ns: Callable[[], int]) -> str:
        """Wait for ``done`` until ``deadline_ns()``: "done", "exited" (the runtime
        ended), "extension" (an extension failed) or "timeout"."""
        while not done.wait(_POLL_S):
            if self.extensions is not None and self.extensions.crashed() is not None:
                return "extension"
            if not environment.sandbox.running():
                return "done" if done.is_set() else "exited"
            if now_ns() > deadline_ns():
                return "timeout"
        return "done"

    def wait_initialized(self, environment) -> None:
        deadline = self._init_start_ns(environment) + int(environment.timeout_s * 1e9)
        self._init_outcome = self._wait(environment, self.api.initialized, lambda: deadline)
        if self.extensions is not None:
            self.extensions.init_over(self._init_error(environment, self._init_outcome))

    def _init_error(self, environment, outcome: str) -> dict | None:
        if self.extensions is not None and (crash := self.extensions.crashed()) is not None:
            return crash | {"phase": "init"}
        if self.api.init_error:
            return self.api.init_error | {"phase": "init"}
        if outcome == "timeout":
            error = environment.timed_out("init")
            if self.extensions is not None and self.extensions.not_ready():
                error["message"] += (" (extensions not ready: "
                                     f"{', '.join(self.extensions.not_ready())})")
            return error
        return environment.exit_error("init") if outcome != "done" else None

    def invoke(self, environment, event: dict, first: bool) -> tuple[Invoked, bool]:
        api = self.api
        timeout_ns = int(environment.timeout_s * 1e9)
        init_start = self._init_start_ns(environment)
        if not api.initialized.is_set():
            self._init_outcome = self._wait(environment, api.initialized,
                                            lambda: init_start + timeout_ns)
        error = self._init_error(environment, self._init_outcome)
        if self.extensions is not None:
            self.extensions.init_over(error)
        if error is not None:
            return Invoked(duration_ms=None, error=error), False
        # On Lambda a cold environment's init starts with its first request: that request
        # has an Init Duration even when a fast runtime finished init before invoke() ran.
        cold = first and not environment.provisioned
        init_ms = ms_between(init_start, api.init_done_ns) if cold else None

        invocation = api.submit(json.dumps(event).encode(), environment.timeout_s)
        listeners = self.extensions.invoke(invocation) if self.extensions is not None else []
        submitted = now_ns()
        # the timeout counts from the event's hand-over, as Lambda's does
        outcome = self._wait(environment, invocation.done,
                             lambda: (invocation.sent_ns or submitted) + timeout_ns)
        if outcome != "done":
            error = (environment.timed_out("invoke") if outcome == "timeout"
                     else self.extensions.crashed() | {"phase": "invoke"}
                     if outcome == "extension" else environment.exit_error("invoke"))
            duration = ms_between(invocation.sent_ns, now_ns()) if invocation.sent_ns else None
            if self.extensions is not None:
                self.extensions.invoke_failed(invocation, error)
            return Invoked(duration_ms=duration, init_ms=init_ms, error=error), False
        result = Invoked(duration_ms=ms_between(invocation.sent_ns, invocation.done_ns),
                         init_ms=init_ms)
        if invocation.error is not None:
            result.error = invocation.error | {"phase": "invoke"}
        else:
            result.response = decode_response(invocation.response)
        if self.extensions is not None:
            return self.extensions.after_runtime(invocation, listeners, result, cold)
        return result, True

    def close(self) -> None:
        try:
            if self.extensions is not None:
                self.extensions.close()      # Lambda's Shutdown phase: up to 2 s
        finally:
            if self.api is not None:
                self.api.close()


def exec_wrapper(runtime, argv: list[str], env: dict[str, str]) -> list[str]:
    """The runtime's command line behind the script ``AWS_LAMBDA_EXEC_WRAPPER`` names, for
    Lambda's managed runtimes (AWS Lambda Developer Guide, "Modifying the runtime
    environment", wrapper scripts): the script gets the command line as its arguments.
    OS-only runtimes (``provided.*``) run their bootstrap as it is."""
    wrapper = env.get("AWS_LAMBDA_EXEC_WRAPPER")
    if not wrapper or (runtime.lambda_runtime or "").startswith("provided"):
        return argv
    return [wrapper, *argv]
