"""AWS's Runtime Interface Emulator (RIE): the control plane of AWS's container images and
of ``sam local invoke``. Built here from its Go module, and driven as its users drive it:
an HTTP POST per invocation, one at a time.

What it reports, read in its source at the pinned version (internal/lambda/rie/handlers.go)
and checked against it running:
- it starts the runtime on the first invocation, so init is folded into that invocation.
  Its REPORT line's "Init Duration" times an asynchronous call (a few microseconds) and its
  "Max Memory Used" echoes the configured size, so coldbench uses neither: it records what
  the client sees and reads memory from the environment's cgroup;
- a function error is answered 200 with Lambda's error document, and no header says so;
- a timeout is answered 200 with the text "Task timed out after N.00 seconds";
- a failed init and a runtime that exits are answered 502, with no END or REPORT line;
- two invocations at once make it panic: callers send one at a time;
- it starts the runtime in a process group of its own and kills that group when it gets
  SIGTERM; a SIGKILLed RIE leaves its runtime behind.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from coldbench.environments.base import ControlPlane, out_of_memory
from coldbench.errors import MissingToolchain, UsageError
from coldbench.phases import ms_between, now_ns
from coldbench.model import Invoked
from coldbench.tools import cache_root, run_tool

MODULE = "github.com/aws/aws-lambda-runtime-interface-emulator"
PACKAGE = f"{MODULE}/cmd/aws-lambda-rie"
# The repository's tags (v1.x) are not module versions the Go module proxy serves, so the
# emulator is pinned by pseudo-version: the newest commit the proxy had when this was set.
VERSION = "v0.0.0-20261030222936-bef5c4ba774d"
# Where AWS's base images place it, and where coldbench's images place it too.
IN_IMAGE = "/usr/local/bin/aws-lambda-rie"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# What AWS's images listen on (the RIE's defaults).
INVOKE_PORT = 8080

NO_PROVISIONED = ("--api rie cannot measure provisioned concurrency: the emulator "
                  "initialises the runtime on the first invocation; pass --provisioned 0")
GO_HINT = "the RIE is built from its Go module: install Go 1.26 or newer"
_ERROR_KEYS = {"errorType", "errorMessage", "requestId", "stackTrace", "errorCause"}
_REQUEST_ID = re.compile(r"RequestId: (\S*)")
_CONNECT_POLL_S = 0.002
# how long past its own timeout the client waits for the emulator's answer
ANSWER_GRACE_S = 5


def executable() -> Path:
    """The emulator's binary for this machine, built into coldbench's cache on first use
    the way its own Makefile builds releases (static, without symbols)."""

    binary = cache_root() / "rie" / VERSION / "aws-lambda-rie"
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        raise MissingToolchain(f"rie: 'go' not found: {GO_HINT}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with open(binary.parent / ".lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)      # another run may be building it right now
        if binary.is_file():
            return binary
        print(f"coldbench: building the emulator: go install {PACKAGE}@{VERSION}",
              file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix=".building-", dir=binary.parent) as gobin:
            env = dict(os.environ, GOBIN=gobin, CGO_ENABLED="0", GOOS="linux",
                       GOFLAGS="-buildvcs=false -trimpath")
            run_tool("rie", [go, "install", "-ldflags=-s -w", f"{PACKAGE}@{VERSION}"],
                     cwd=Path(gobin), env=env, timeout=900)
            os.replace(Path(gobin) / "aws-lambda-rie", binary)
    return binary


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1 (two emulators on one host need
    distinct invoke and Runtime API ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Reply:
    """The emulator's answer to one invocation, with the instants the client saw."""

    status: int | None            # None: no answer (connection closed or timed out)
    body: bytes
    sent_ns: int
    received_ns: int
    failure: str | None = None    # why there was no answer


class _Connection(http.client.HTTPConnection):
    """HTTP/1.1 over a socket made by ``connect``, which may open it in another network
    namespace; reconnects the same way if the emulator closed the connection."""

    def __init__(self, connect: Callable[[], socket.socket], timeout_s: float | None):
        super().__init__("127.0.0.1", timeout=timeout_s)
        self._connect = connect

    def connect(self) -> None:
        self.sock = self._connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.timeout)


class Client:
    """Invocations of one emulator, one at a time, on one kept-alive connection made by
    ``connect`` (a function that returns a connected socket)."""

    def __init__(self, connect: Callable[[], socket.socket]):
        self._connection = _Connection(connect, timeout_s=None)

    def wait_listening(self, alive: Callable[[], bool], deadline_ns: int) -> bool:
        """Connect as soon as the emulator listens; False when the process behind it ended
        or the deadline passed first."""
        while self._connection.sock is None:
            try:
                self._connection.connect()
            except ConnectionRefusedError:
                if not alive() or now_ns() > deadline_ns:
                    return False
                time.sleep(_CONNECT_POLL_S)
        return True

    def invoke(self, event: bytes, timeout_s: float) -> Reply:
        """POST ``event``; waits at most ``timeout_s`` for the answer."""
        self._connection.timeout = timeout_s
        if self._connection.sock is not None:
            self._connection.sock.settimeout(timeout_s)
        sent = now_ns()
        try:
            self._connection.request("POST", INVOKE_PATH, body=event,
                                     headers={"Content-Type": "application/json"})
            response = self._connection.getresponse()
            body = response.read()
        except TimeoutError:
            self.close()
            return Reply(None, b"", sent, now_ns(), "timeout")
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Reply(None, b"", sent, now_ns(), f"connection lost ({exc.__class__.__name__})")
        return Reply(response.status, body, sent, now_ns())

    def close(self) -> None:
        self._connection.close()


def timeout_setting(timeout_s: float) -> str:
    """AWS_LAMBDA_FUNCTION_TIMEOUT for the emulator: whole seconds, rounded up."""
    return str(max(1, math.ceil(timeout_s)))


@dataclass
class Exchange:
    """One invocation of an emulator as its client saw it."""

    response: object
    error: dict | None
    duration_ms: float                # request sent -> answer received
    received_ns: int
    fatal: bool                       # the emulator reset its runtime: the environment is gone


def exchange(client: Client, event: dict, timeout_s: float, first: bool,
             alive: Callable[[], bool], deadline_ns: int) -> Exchange | None:
    """Send ``event`` once the emulator listens; None if it never did (its process ended,
    or ``deadline_ns`` passed). The emulator times init and the invocation out itself (at
    ``timeout_setting``); the client waits that long for each, plus a grace period."""
    if not client.wait_listening(alive, deadline_ns):
        return None
    allowed = int(timeout_setting(timeout_s)) * (2 if first else 1) + ANSWER_GRACE_S
    reply = client.invoke(json.dumps(event).encode(), allowed)
    response, error = outcome(reply)
    fatal = reply.status != 200 or (error is not None and error["type"] == "Sandbox.Timedout")
    return Exchange(response, error, ms_between(reply.sent_ns, reply.received_ns),
                    reply.received_ns, fatal)


def outcome(reply: Reply) -> tuple[object, dict | None]:
    """``(response, error)`` of an answer, in coldbench's error shape {"type", "message",
    "phase"}; the phase of a 502 is "init" when the error belongs to no request."""
    if reply.status is None:
        return None, {"type": "Rie.NoAnswer", "phase": "invoke",
                      "message": f"the emulator gave no answer: {reply.failure}"}
    text = reply.body.decode("utf-8", "replace")
    try:
        document = json.loads(reply.body or b"null")
    except ValueError:
        document = text
    if reply.status == 200:
        if text.startswith("Task timed out after"):
            return None, {"type": "Sandbox.Timedout", "phase": "invoke", "message": text}
        if _is_error_document(document):
            return None, {"type": document["errorType"], "phase": "invoke",
                          "message": str(document["errorMessage"])}
        return document, None
    if isinstance(document, dict) and "errorType" in document:
        request_id = document.get("requestId")
        if request_id is None:
            found = _REQUEST_ID.search(str(document.get("errorMessage", "")))
            request_id = found[1] if found else ""
        return None, {"type": document["errorType"], "phase": "invoke" if request_id else "init",
                      "message": str(document.get("errorMessage", ""))}
    return None, {"type": f"Rie.Http{reply.status}", "phase": "invoke",
                  "message": f"the emulator answered {reply.status}: {text[:500]}"}


def _is_error_document(document: object) -> bool:
    return (isinstance(document, dict) and {"errorType", "errorMessage"} <= document.keys()
            and document.keys() <= _ERROR_KEYS)


class EmulatorPlane(ControlPlane):
    """AWS's emulator as an environment's control plane. ``executable``: the emulator to
    start around the runtime (a process sandbox); None where the sandbox's image starts
    it itself, listening on INVOKE_PORT (AWS's images, and coldbench's)."""

    provisioned = False

    def __init__(self, executable: Path | None = None):
        self.executable = executable
        self.port = INVOKE_PORT
        self.client: Client | None = None

    def command(self, environment, argv, env):
        env = env | {"AWS_LAMBDA_FUNCTION_TIMEOUT": timeout_setting(environment.timeout_s)}
        sandbox = environment.sandbox
        self.client = Client(lambda: _connect(sandbox, self.port))
        if self.executable is None:
            return argv, env
        self.port = free_port()
        api_port = free_port()
        while api_port == self.port:
            api_port = free_port()
        return [str(self.executable),
                "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
                "--runtime-api-address", f"127.0.0.1:{api_port}", *argv], env

    def wait_initialized(self, environment) -> None:
        raise UsageError(NO_PROVISIONED)

    def invoke(self, environment, event: dict, first: bool) -> tuple[Invoked, bool]:
        sandbox = environment.sandbox
        deadline = now_ns() + int(environment.timeout_s * 1e9)
        result = exchange(self.client, event, environment.timeout_s, first,
                          alive=sandbox.running, deadline_ns=deadline)
        if result is None:
            if not sandbox.running():
                return Invoked(duration_ms=None, error=environment.exit_error("init")), False
            return Invoked(duration_ms=None, error={
                "type": "Sandbox.Timedout", "phase": "init",
                "message": f"the emulator did not listen within "
                           f"{environment.timeout_s:g} seconds"}), False
        extra = {}
        if first:
            extra["first_response_ms"] = ms_between(sandbox.started_ns, result.received_ns)
            sandbox.init_done()   # the emulator does not tell when init ends: from here on
        error = result.error
        if error is not None and sandbox.out_of_memory():
            error = out_of_memory(error["phase"], environment.memory_mb)
        # after a fatal answer the emulator resets its runtime: the environment is gone
        return Invoked(duration_ms=result.duration_ms, response=result.response, error=error,
                       extra=extra), not result.fatal

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _connect(sandbox, port: int) -> socket.socket:
    with sandbox.network():
        return socket.create_connection(("127.0.0.1", port))
