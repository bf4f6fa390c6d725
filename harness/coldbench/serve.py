"""`coldbench serve`: the Lambda Invoke API over the local target's execution environments,
as ``sam local start-lambda`` offers it. Any AWS SDK pointed at it with an endpoint URL
invokes coldbench's functions on this machine:

    aws lambda invoke --endpoint-url http://127.0.0.1:3001 --log-type Tail \\
        --function-name coldbench-python-512 --payload '{"work": 100}' out.json

The API: ``POST /2015-03-31/functions/{name}/invocations[?Qualifier=...]`` with the
event as the body. The answer is the function's response (or its error document, with
``X-Amz-Function-Error: Unhandled``), ``X-Amz-Executed-Version``, and with
``X-Amz-Log-Type: Tail`` an ``X-Amz-Log-Result``: the base64 of the invocation's last
4 KB of log, START, the function's output, END and a REPORT line written as Lambda writes
it, from the local target's own clocks (Init Duration on a cold start, Status on a
timeout or a crash; see ``coldbench.targets.aws.lambda_report``). Invocation types RequestResponse,
Event (202, run in the background) and DryRun (204).

Function URLs: each function also answers HTTP requests of any method at
``/lambda-url/<function name>/<path>``, as its function URL would (payload format 2.0 in,
the HTTP answer out: ``environments/function_url.py``), so curl, a browser or a load tool
can call it; a request that finds no idle environment is a cold start:

    curl http://127.0.0.1:3001/lambda-url/coldbench-python-512/hello?name=me

Which function a name means. Names follow one grammar, so that no registry is needed:
``coldbench-<runtime>-<memory MB>``, optionally with a run id of 8 hex digits after
``coldbench-`` and any suffix after the memory size: ``coldbench-python-512`` and the AWS
target's ``coldbench-1a2b3c4d-python-512-arm64-c2`` both mean the built-in Python
function at 512 MB. ARNs and ``name:qualifier`` are accepted. ``--function DIR`` serves a
function folder of one runtime in place of that runtime's built-in one.

Environments are kept as Lambda keeps them: per function, version and configuration, an
invocation reuses an idle environment (warm) or starts a new one (cold, Init Duration);
concurrent invocations get environments of their own; idle ones are stopped after
``--idle-timeout``; one that timed out or crashed is not reused.

Configuration changes, and so forced cold starts. Lambda starts new environments after
any change to a function's configuration; that is how the AWS target forces a cold start
(a new environment variable, UpdateFunctionConfiguration, then Invoke). serve has no
control plane of its own; given ``--control-plane-url`` (the Lambda API endpoint that
holds the functions, e.g. a local AWS stand-in), it reads each invoked function's
configuration there (GetFunctionConfiguration with the invoke's qualifier) and treats a
changed configuration as Lambda does: idle environments of the old one are stopped and
the invocation starts a new environment. The memory size and timeout then come from that
configuration, and a version with READY provisioned concurrency
(GetProvisionedConcurrencyConfig) gets an environment initialised before the request, as
provisioned concurrency does. Without a control plane, a function's configuration is what
its name says and never changes. A function deployed as a container image (PackageType
Image) runs from that image: pulled from the registry of its ImageUri (GetFunction), with
ECR's GetAuthorizationToken from the control plane, and started in a container as the
docker target starts its images (``targets.docker.pulled``; needs a Docker engine and
root). The configuration's environment variables are not passed
to the local runtime process; SnapStart is not emulated (a version with SnapStart on
starts, and reports, an ordinary Init).

Limits, as Lambda sets them (AWS Lambda quotas; Invoke in the Lambda API reference):
a RequestResponse payload of at most 6 MB, an Event payload of at most 1 MB (413
``RequestEntityTooLargeException``, the body not read); a payload must be JSON (400
``InvalidRequestContentException``, for Event invokes too, before the 202);
``X-Amz-Invocation-Type`` is RequestResponse, Event or DryRun (400 ``ValidationException``);
at most ``--max-concurrency`` invocations at once (default 1,000, Lambda's default
concurrent executions per account and Region), and with a control plane at most a
function's reserved concurrency: past either, 429 ``TooManyRequestsException`` with
Lambda's ``Reason``, for Event invokes too (Lambda would queue those and retry a throttled
one for up to six hours; serve has no queue, so the caller sees the throttle at once).
HTTP itself: a request must arrive whole (request line, headers and body) within
``--read-timeout`` seconds of the connection going quiet (an idle keep-alive connection
is closed after as long; a body that stalls is answered 408), ``Content-Length`` must be a
number that the body fills (400 ``InvalidRequestContentException`` otherwise), and a body
sent with ``Transfer-Encoding`` is refused with 411 (every AWS SDK sends a length).
"""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import json
import math
import re
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

from coldbench import build, runtimes
from coldbench.build import Artifact
from coldbench.environments.base import LocalEnvironment
from coldbench.errors import UsageError
from coldbench.phases import billed_ms
from coldbench.targets.aws.lambda_report import Report
from coldbench.environments import function_url
from coldbench.targets.docker.pulled import PulledImages
from coldbench.targets.local.target import LocalTarget
from coldbench.workflows.options import MEMORY_MAX_MB, MEMORY_MIN_MB
from coldbench.signals import sigterm_as_interrupt

API_VERSION = "2015-03-31"
# Each function's URL: http://HOST:PORT/lambda-url/<function name>/<path>, any method
# (``environments/function_url.py``: payload format 2.0)
URL_PREFIX = "/lambda-url/"
_INVOKE_PATH = re.compile(rf"^/{API_VERSION}/functions/(?P<name>[^/]+)/invocations/?$")
NAME = re.compile(r"^coldbench-(?:(?P<run>[0-9a-f]{8})-)?(?P<runtime>[a-z]+)-(?P<memory>\d+)"
                  r"(?:-[A-Za-z0-9_-]+)?$")
_ARN = re.compile(r"^(?:arn:[\w-]+:lambda:[\w-]+:)?(?:\d{12}:)?(?:function:)?"
                  r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$")
LOG_TAIL_BYTES = 4096
# Lambda's limits on an invocation's payload (AWS Lambda quotas, "Invocation payload
# (request and response)", and Invoke in the Lambda API reference: "For synchronous
# invocations, the maximum payload size is 6 MB. For asynchronous invocations, the maximum
# payload size is 1 MB." The asynchronous limit was 256 KB until 2025.)
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_EVENT_PAYLOAD_BYTES = 1024 * 1024
# Invoke's InvocationType (Lambda API reference: "Valid Values: Event | RequestResponse |
# DryRun"); Lambda answers any other value with a 400 ValidationException.
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
# Lambda's default concurrent executions per account and Region (AWS Lambda quotas,
# "Concurrent executions: 1,000").
DEFAULT_MAX_CONCURRENCY = 1000
# Lambda's largest function timeout (AWS Lambda quotas, "Function timeout: 900 seconds").
MAX_TIMEOUT_S = 900.0
# How long a request may take to arrive whole, and an idle keep-alive connection may stay
# open: ample for a 6 MB body over loopback or a LAN, short enough that clients that stall
# cannot hold serve's threads.
DEFAULT_READ_TIMEOUT_S = 30.0
LATEST = "$LATEST"
# Fields of a configuration that describe its state, not the configuration itself.
_VOLATILE = {"ResponseMetadata", "State", "StateReason", "StateReasonCode",
             "LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"}


class ServeError(Exception):
    """An error of the Invoke API itself (not of the function): status, AWS error type,
    and any fields Lambda adds to its error document (a throttle's ``Reason``)."""

    def __init__(self, status: int, error_type: str, message: str, **fields: str):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.fields = fields


def check_settings(host: str, port: int, timeout_s: float, idle_timeout_s: float,
                   read_timeout_s: float, max_concurrency: int,
                   control_plane_url: str | None) -> None:
    """Refuse settings serve cannot work with (UsageError), before anything is built or
    bound."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port (0..65535; 0: any free port)")
    for option, seconds, most in (("--timeout", timeout_s, MAX_TIMEOUT_S),
                                  ("--idle-timeout", idle_timeout_s, math.inf),
                                  ("--read-timeout", read_timeout_s, math.inf)):
        if not (math.isfinite(seconds) and 0 < seconds <= most):
            bound = f" up to {most:g}" if math.isfinite(most) else ""
            raise UsageError(f"{option} {seconds} is not a positive number of "
                             f"seconds{bound}")
    if max_concurrency < 1:
        raise UsageError(f"--max-concurrency {max_concurrency} must be at least 1")
    check_host(host, port)
    if control_plane_url is not None:
        check_endpoint_url(control_plane_url)


def check_host(host: str, port: int) -> None:
    """An IP address, or a name that resolves (as the bind would resolve it); what looks
    like an address (digits and dots, or a colon) must be one, and is not looked up."""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        if not host or ":" in host or all(c.isdigit() or c == "." for c in host):
            raise UsageError(f"--host {host!r} is not an IP address") from None
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        raise UsageError(f"--host {host!r} is not an address of this machine: {exc}") from None


def check_endpoint_url(url: str) -> None:
    """An http(s) URL with a host and, if any, a valid port."""
    try:
        parts = urlsplit(url)
        parts.port      # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"--control-plane-url {url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--control-plane-url {url!r} is not an http(s) URL with a host, "
                         "e.g. http://127.0.0.1:5000")


@dataclass(frozen=True)
class Resolved:
    """What an invoke is for: which built function, at which settings, in which revision."""

    key: tuple[str, str]          # (function name, qualifier)
    artifact: Artifact
    memory_mb: int
    timeout_s: float
    revision: str
    version: str                  # what X-Amz-Executed-Version says
    image_uri: str | None = None  # PackageType Image: the image it runs
    reserved: int | None = None   # the function's reserved concurrency, if it has one


@dataclass
class Idle:
    environment: LocalEnvironment
    since: float
    log_offset: int


@dataclass
class Pool:
    revision: str
    idle: list[Idle] = field(default_factory=list)


class LambdaApi:
    """The Lambda API endpoint that holds the functions' configurations."""

    def __init__(self, endpoint_url: str, region: str):
        import boto3   # only when serve follows a control plane
        from botocore.config import Config

        check_endpoint_url(endpoint_url)
        self._client = boto3.session.Session(region_name=region).client(
            "lambda", endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 3},
                          connect_timeout=5, read_timeout=30))
        self._errors = self._client.exceptions

    def check(self) -> None:
        """Refuse (UsageError) a control plane that does not answer the Lambda API."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.list_functions(MaxItems=1)
        except (BotoCoreError, ClientError) as exc:
            raise UsageError(f"--control-plane-url {self._client.meta.endpoint_url}: the "
                             f"Lambda API's ListFunctions failed: {exc}") from None

    def reserved_concurrency(self, name: str) -> int | None:
        """The function's reserved concurrency (GetFunctionConcurrency), None if unset."""
        try:
            answer = self._client.get_function_concurrency(FunctionName=name)
        except Exception:   # a control plane without the API: no reservation
            return None
        return answer.get("ReservedConcurrentExecutions")

    def configuration(self, name: str, qualifier: str) -> dict:
        try:
            return self._client.get_function_configuration(FunctionName=name,
                                                           Qualifier=qualifier)
        except self._errors.ResourceNotFoundException as exc:
            raise ServeError(404, "ResourceNotFoundException",
                             exc.response["Error"].get("Message", str(exc))) from None

    def image_uri(self, name: str, qualifier: str) -> str:
        """The ImageUri of a container-image function (GetFunction has it)."""
        return self._client.get_function(FunctionName=name,
                                         Qualifier=qualifier)["Code"]["ImageUri"]

    def registry_auth(self, uri: str) -> dict | None:
        """Credentials for pulling ``uri``: ECR's GetAuthorizationToken at the control
        plane's endpoint; None (anonymous) where it has none."""
        import boto3

        ecr = boto3.session.Session(region_name=self._client.meta.region_name).client(
            "ecr", endpoint_url=self._client.meta.endpoint_url)
        try:
            data = ecr.get_authorization_token()["authorizationData"][0]
        except Exception:
            return None
        username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
        return {"username": username, "password": password,
                "serveraddress": data["proxyEndpoint"]}

    def provisioned_ready(self, name: str, qualifier: str) -> bool:
        if qualifier == LATEST:
            return False
        try:
            config = self._client.get_provisioned_concurrency_config(FunctionName=name,
                                                                     Qualifier=qualifier)
        except Exception:   # none configured, or a control plane without the API
            return False
        return config.get("Status") == "READY"


class Concurrency:
    """Invocations in flight, held to the account's limit and to functions' reserved
    concurrency as Lambda holds them (Lambda function scaling; Invoke's
    TooManyRequestsException). A reserved function counts against its reservation only;
    the account's limit is not lowered by reservations."""

    def __init__(self, limit: int):
        self.limit = limit
        self._unreserved = 0
        self._by_function: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, function: str, reserved: int | None) -> None:
        """Count one more invocation of ``function``, or refuse it with Lambda's 429."""
        with self._lock:
            running = self._by_function.get(function, 0)
            if reserved is not None and running >= reserved:
                raise ServeError(429, "TooManyRequestsException",
                                 f"Rate Exceeded. ({function} has a reserved concurrency "
                                 f"of {reserved})", Reason="ReservedFunctionConcurrent"
                                 "InvocationLimitExceeded")
            if reserved is None:
                if self._unreserved >= self.limit:
                    raise ServeError(429, "TooManyRequestsException",
                                     f"Rate Exceeded. ({self.limit} invocations in flight: "
                                     "serve's --max-concurrency)",
                                     Reason="ConcurrentInvocationLimitExceeded")
                self._unreserved += 1
            self._by_function[function] = running + 1

    @property
    def in_flight(self) -> int:
        """Invocations running now, reserved functions' included."""
        with self._lock:
            return sum(self._by_function.values())

    def release(self, function: str, reserved: int | None) -> None:
        with self._lock:
            self._by_function[function] -= 1
            if not self._by_function[function]:
                del self._by_function[function]
            if reserved is None:
                self._unreserved -= 1


def parse_event(payload: bytes):
    """An invoke's event: its payload as strict JSON (no NaN or Infinity, which Lambda's
    parser and the runtimes' refuse), an empty payload being ``{}``."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    try:
        return json.loads(payload or b"{}", parse_constant=refuse)
    except (ValueError, RecursionError) as exc:
        raise ServeError(400, "InvalidRequestContentException",
                         f"Could not parse request body into json: {exc}") from None


def revision_of(configuration: dict) -> str:
    """A digest of everything a configuration says, so that any change is seen."""
    stable = {k: v for k, v in configuration.items() if k not in _VOLATILE}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()


class Server:
    """The Invoke API on ``host:port``; ``serve_forever`` until ``close``."""

    def __init__(self, artifacts: dict[str, Artifact], host: str = "127.0.0.1", port: int = 3001,
                 timeout_s: float = 60.0, cpu_model: str = "lambda", limits: bool = True,
                 idle_timeout_s: float = 600.0, control_plane: LambdaApi | None = None,
                 max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
                 read_timeout_s: float = DEFAULT_READ_TIMEOUT_S):
        self.artifacts = artifacts
        self.timeout_s = timeout_s
        self.read_timeout_s = read_timeout_s
        self.concurrency = Concurrency(max_concurrency)
        self.cpu_model = cpu_model
        self.limits = limits
        self.idle_timeout_s = idle_timeout_s
        self.control_plane = control_plane
        self._targets: dict[float, LocalTarget] = {}
        self._pulled = None           # container-image functions' images, once one is invoked
        self._pools: dict[tuple[str, str], Pool] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._serving = False
        try:
            self._httpd = _HTTPServer((host, port), _Handler)
        except OSError as exc:     # in use, not an address of this machine, not allowed
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._httpd.app = self
        self._reaper = threading.Thread(target=self._reap, name="serve-reaper", daemon=True)
        self._reaper.start()

    @property
    def address(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self._serving = True
        self._httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        """Stop serving and stop every environment. Safe to call twice."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._serving:
            self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            idle = [i for pool in self._pools.values() for i in pool.idle]
            self._pools.clear()
            targets = list(self._targets.values())
        for entry in idle:
            entry.environment.close()
        for target in targets:
            target.close()
        if self._pulled is not None:
            self._pulled.close()

    # which function ------------------------------------------------------------------

    def resolve(self, function: str, qualifier: str | None) -> Resolved:
        match = _ARN.match(function)
        if not match:
            raise ServeError(400, "ValidationException", f"invalid function name '{function}'")
        name = match["name"]
        qualifier = qualifier or match["qualifier"] or LATEST
        parsed = NAME.match(name)
        if not parsed:
            raise ServeError(404, "ResourceNotFoundException",
                             f"Function not found: {name} (coldbench serve knows names "
                             "like coldbench-<runtime>-<memory MB>)")
        artifact = self.artifacts.get(parsed["runtime"])
        if artifact is None:
            raise ServeError(404, "ResourceNotFoundException",
                             f"Function not found: {name} (this serve has the runtimes "
                             f"{', '.join(self.artifacts) or 'none'})")
        version = qualifier if qualifier.isdigit() else LATEST
        if self.control_plane is None:
            memory_mb = int(parsed["memory"])
            if not MEMORY_MIN_MB <= memory_mb <= MEMORY_MAX_MB:
                raise ServeError(400, "InvalidParameterValueException",
                                 f"MemorySize {memory_mb} MB of {name} is outside Lambda's "
                                 f"{MEMORY_MIN_MB}..{MEMORY_MAX_MB} MB")
            return Resolved((name, qualifier), artifact, memory_mb, self.timeout_s,
                            revision="static", version=version)
        configuration = self.control_plane.configuration(name, qualifier)
        image_uri = (self.control_plane.image_uri(name, qualifier)
                     if configuration.get("PackageType") == "Image" else None)
        return Resolved((name, qualifier), artifact, int(configuration["MemorySize"]),
                        float(configuration.get("Timeout", self.timeout_s)),
                        revision=revision_of(configuration), version=version,
                        image_uri=image_uri,
                        reserved=self.control_plane.reserved_concurrency(name))

    # environments ----------------------------------------------------------------------

    def _target(self, timeout_s: float) -> LocalTarget:
        with self._lock:
            if timeout_s not in self._targets:
                self._targets[timeout_s] = LocalTarget(timeout_s=timeout_s,
                                                       cpu_model=self.cpu_model,
                                                       limits=self.limits)
            return self._targets[timeout_s]

    def _images(self):
        with self._lock:
            if self._pulled is None:
                self._pulled = PulledImages(auth=self.control_plane.registry_auth)
            return self._pulled

    def _take(self, resolved: Resolved) -> Idle | None:
        """An idle environment of this revision, after retiring those of older ones."""
        retired = []
        with self._lock:
            pool = self._pools.get(resolved.key)
            if pool is None or pool.revision != resolved.revision:
                if pool is not None:
                    retired = pool.idle
                pool = self._pools[resolved.key] = Pool(resolved.revision)
            entry = pool.idle.pop() if pool.idle else None
        for old in retired:
            old.environment.close()
        return entry

    def _give_back(self, resolved: Resolved, entry: Idle) -> None:
        with self._lock:
            pool = self._pools.get(resolved.key)
            if (entry.environment.alive and not self._closed.is_set() and pool is not None
                    and pool.revision == resolved.revision):
                entry.since = time.monotonic()
                pool.idle.append(entry)
                return
        entry.environment.close()

    def _reap(self) -> None:
        while not self._closed.wait(min(5.0, max(0.2, self.idle_timeout_s / 4))):
            now = time.monotonic()
            stale = []
            with self._lock:
                for pool in self._pools.values():
                    stale += [i for i in pool.idle if now - i.since > self.idle_timeout_s]
                    pool.idle = [i for i in pool.idle if now - i.since <= self.idle_timeout_s]
            for entry in stale:
                entry.environment.close()

    # invoking --------------------------------------------------------------------------

    def invoke_url(self, function: str, request) -> "function_url.HttpResponse":
        """One request to ``function``'s URL (``URL_PREFIX``)."""
        return _invoke_url(self, function, request)

    def invoke(self, function: str, qualifier: str | None, payload: bytes,
               tail: bool) -> tuple[bytes, dict[str, str]]:
        """Run one invocation (RequestResponse); the response body and headers."""
        event = parse_event(payload)
        resolved = self.resolve(function, qualifier)
        self.concurrency.acquire(resolved.key[0], resolved.reserved)
        try:
            return self._run(resolved, event, tail)
        finally:
            self.concurrency.release(resolved.key[0], resolved.reserved)

    def invoke_event(self, function: str, qualifier: str | None, payload: bytes) -> None:
        """Accept one Event invocation and run it in the background; what Lambda refuses
        (a bad payload, an unknown function, no concurrency left) raises ServeError first."""
        event = parse_event(payload)
        resolved = self.resolve(function, qualifier)
        self.concurrency.acquire(resolved.key[0], resolved.reserved)

        def run() -> None:
            try:
                self._run(resolved, event, False)
            except Exception:   # an Event invocation has no caller to tell
                pass
            finally:
                self.concurrency.release(resolved.key[0], resolved.reserved)
        threading.Thread(target=run, name="serve-event", daemon=True).start()

    def _run(self, resolved: Resolved, event, tail: bool) -> tuple[bytes, dict[str, str]]:
        entry = self._take(resolved)
        if entry is None:
            provisioned = (self.control_plane is not None and
                           self.control_plane.provisioned_ready(*resolved.key))
            if resolved.image_uri:
                environment = self._images().start(resolved.artifact, resolved.image_uri,
                                                   resolved.memory_mb, resolved.timeout_s,
                                                   provisioned)
            else:
                environment = self._target(resolved.timeout_s).start(
                    resolved.artifact, resolved.memory_mb, provisioned=provisioned)
            entry = Idle(environment, time.monotonic(), log_offset=0)
        request_id = str(uuid.uuid4())
        invoked = entry.environment.invoke(event)
        output, entry.log_offset = _read_from(entry.environment, entry.log_offset)
        self._give_back(resolved, entry)

        headers = {"X-Amz-Executed-Version": resolved.version, "x-amzn-RequestId": request_id}
        if invoked.error is None:
            body = json.dumps(invoked.response).encode()
        else:
            headers["X-Amz-Function-Error"] = "Unhandled"
            body = json.dumps({"errorType": invoked.error.get("type", "Runtime.Unknown"),
                               "errorMessage": invoked.error.get("message", "")}).encode()
            output = output or invoked.error.get("log", "")
        if tail:
            log = log_tail(request_id, resolved, invoked, output)
            headers["X-Amz-Log-Result"] = base64.b64encode(log.encode()).decode()
        return body, headers


def _invoke_url(server: "Server", function: str,
                request: function_url.HttpRequest) -> function_url.HttpResponse:
    """A function URL request: its 2.0 event invoked as any invocation is (a cold start
    when no environment is idle), the answer as a function URL gives it."""
    event = function_url.event(request, function)
    body, headers = server.invoke(function, None, json.dumps(event).encode(), tail=False)
    failed = "X-Amz-Function-Error" in headers
    return function_url.response(None if failed else json.loads(body), failed)


def _read_from(environment: LocalEnvironment, offset: int) -> tuple[str, int]:
    """What the runtime wrote to its log since ``offset``."""
    return environment.sandbox.log(offset)


def report_for(request_id: str, resolved: Resolved, invoked) -> Report:
    """The REPORT line Lambda would write for this invocation."""
    error = invoked.error or {}
    status = error_type = None
    if error.get("type") == "Sandbox.Timedout":
        status = "timeout"
    elif error and (error.get("phase") == "init" or error.get("type") in
                    ("Runtime.ExitError", "Runtime.OutOfMemory")):
        status, error_type = "error", error.get("type")
    duration = invoked.duration_ms or 0.0
    return Report(request_id=request_id, duration_ms=duration,
                  billed_duration_ms=billed_ms(duration, invoked.init_ms),
                  memory_size_mb=resolved.memory_mb,
                  max_memory_used_mb=round(invoked.max_memory_mb or 0),
                  init_duration_ms=invoked.init_ms, status=status, error_type=error_type)


def log_tail(request_id: str, resolved: Resolved, invoked, output: str) -> str:
    """The invocation's log as Lambda frames it, cut to its last 4 KB."""
    lines = [f"START RequestId: {request_id} Version: {resolved.version}"]
    lines += [line for line in output.splitlines() if line]
    error = invoked.error or {}
    if error.get("type") == "Sandbox.Timedout":
        lines.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z {request_id} "
                     f"Task timed out after {resolved.timeout_s:.2f} seconds")
    elif error.get("type") in ("Runtime.ExitError", "Runtime.OutOfMemory"):
        lines.append(f"RequestId: {request_id} Error: {error.get('message', '')}")
        lines.append(error["type"])
    lines.append(f"END RequestId: {request_id}")
    lines.append(report_for(request_id, resolved, invoked).line())
    data = ("\n".join(lines) + "\n").encode()
    return data[-LOG_TAIL_BYTES:].decode("utf-8", "ignore")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: Server

    def handle_error(self, request, client_address):
        pass   # a client that goes away mid-answer is not news


class _DeadlineReader(socket.SocketIO):
    """A connection's reading side that gives up at ``deadline`` (time.monotonic), however
    the bytes trickle in: a per-read timeout alone lets a client that sends a byte now and
    then hold a thread for ever."""

    def __init__(self, sock: socket.socket):
        super().__init__(sock, "rb")
        self.deadline: float | None = None

    def readinto(self, buffer) -> int:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request did not arrive in time")
            self._sock.settimeout(left)
        return super().readinto(buffer)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self):
        super().setup()
        self.rfile.close()               # the base class's reader, replaced by one with a deadline
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def handle_one_request(self):
        # the whole request (or the wait for it on a kept-alive connection) within the
        # read timeout; a request that misses it has its connection closed
        self._reader.deadline = time.monotonic() + self.server.app.read_timeout_s
        super().handle_one_request()

    def _url(self, body: bytes | None = None):
        """A request to a function's URL: /lambda-url/<function name>/<path>."""
        if body is None:
            body = self._body()
            if body is None:
                return
        self._reader.deadline = None     # nothing more is read until the answer is out
        url = urlsplit(self.path)
        name, _, rest = url.path[len(URL_PREFIX):].partition("/")
        request = function_url.HttpRequest(
            method=self.command, path="/" + rest, query=url.query,
            headers=list(self.headers.items()), body=body,
            source_ip=self.client_address[0])
        try:
            answer = self.server.app.invoke_url(unquote(name), request)
        except ServeError as exc:
            return self._error(exc)
        except Exception as exc:   # noqa: BLE001 - the caller gets Lambda's service error
            return self._error(ServeError(500, "ServiceException",
                                          f"{type(exc).__name__}: {exc}"))
        function_url.send(self, answer)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _url

    def do_POST(self):
        body = self._body()
        if body is None:
            return
        if self.path.startswith(URL_PREFIX):
            return self._url(body)
        self._reader.deadline = None     # nothing more is read until the answer is out
        url = urlsplit(self.path)
        match = _INVOKE_PATH.match(url.path)
        if not match:
            return self._error(ServeError(404, "UnknownOperationException",
                                          f"coldbench serve has no operation at {url.path}"))
        qualifier = (parse_qs(url.query).get("Qualifier") or [None])[0]
        function = unquote(match["name"])
        invocation_type = self._invocation_type()
        tail = self.headers.get("X-Amz-Log-Type", "None") == "Tail"
        app = self.server.app
        try:
            if invocation_type == "DryRun":
                app.resolve(function, qualifier)
                return self._reply(204, b"", {})
            if invocation_type == "Event":
                app.invoke_event(function, qualifier, body)
                return self._reply(202, b"", {})
            payload, headers = app.invoke(function, qualifier, body, tail)
        except ServeError as exc:
            return self._error(exc)
        except Exception as exc:   # noqa: BLE001 - the caller gets Lambda's service error
            return self._error(ServeError(500, "ServiceException",
                                          f"{type(exc).__name__}: {exc}"))
        self._reply(200, payload, headers)

    def _invocation_type(self) -> str:
        return self.headers.get("X-Amz-Invocation-Type", "RequestResponse")

    def _body(self) -> bytes | None:
        """The request's body, or None once the request has been answered (and the
        connection is to be closed): a body without a usable length, too large for the
        invocation type, shorter than it said, or late."""
        if "Transfer-Encoding" in self.headers:
            return self._refuse(ServeError(411, "LengthRequiredException",
                                           "send the payload with a Content-Length "
                                           "(Transfer-Encoding is not accepted)"))
        lengths = set(self.headers.get_all("Content-Length") or ["0"])
        text = lengths.pop().strip() if len(lengths) == 1 else ""
        if not (text.isascii() and text.isdigit()):
            return self._refuse(ServeError(400, "InvalidRequestContentException",
                                           "Content-Length must be one number of bytes"))
        # (a length of more digits than any limit has is over the limit: int() of a very
        # long string is refused, and slow)
        length = int(text) if len(text) <= 18 else 10 ** 18
        invocation_type = self._invocation_type()
        if invocation_type not in INVOCATION_TYPES:
            # Lambda answers an unknown type with a 400 ValidationException
            return self._refuse(ServeError(
                400, "ValidationException",
                f"1 validation error detected: Value '{invocation_type}' at "
                "'invocationType' failed to satisfy constraint: Member must satisfy enum "
                f"value set: [{', '.join(INVOCATION_TYPES)}]"))
        if invocation_type == "Event" and length > MAX_EVENT_PAYLOAD_BYTES:
            return self._refuse(ServeError(
                413, "RequestEntityTooLargeException",
                f"{length} byte payload is too large for the Event invocation type "
                f"(limit {MAX_EVENT_PAYLOAD_BYTES} bytes)"))
        if length > MAX_PAYLOAD_BYTES:
            return self._refuse(ServeError(
                413, "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the "
                "InvokeFunction operation"))
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            return self._refuse(ServeError(
                408, "RequestTimeoutException",
                f"the body did not arrive within {self.server.app.read_timeout_s:g} s"))
        if len(body) < length:
            return self._refuse(ServeError(400, "InvalidRequestContentException",
                                           f"the body ended after {len(body)} of the "
                                           f"{length} bytes of its Content-Length"))
        return body

    def _refuse(self, exc: ServeError) -> None:
        """Answer, then close: what is left of the request is not read."""
        self.close_connection = True
        self._error(exc)
        return None

    def _error(self, exc: ServeError) -> None:
        body = json.dumps({**exc.fields, "Type": "User", "message": str(exc)}).encode()
        self._reply(exc.status, body, {"x-amzn-ErrorType": exc.error_type})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        # a client that does not read its answer holds the thread no longer than a request
        self.connection.settimeout(self.server.app.read_timeout_s)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def artifacts_for(runtime_names: list[str], function_dir=None, handler: str | None = None,
                  on_status: Callable[[str], None] = lambda text: None) -> dict[str, Artifact]:
    """Build (or take from the cache) the functions serve offers, by runtime."""
    if function_dir is not None and len(runtime_names) != 1:
        raise UsageError("--function needs exactly one --runtime")
    found = {}
    for name in runtime_names:
        runtime = runtimes.get(name)
        function = (build.Function.user(runtime, function_dir, handler) if function_dir
                    else build.Function.builtin(runtime))
        on_status(f"building {function.name} ({name})")
        found[name] = build.build(function)
    return found


def main_loop(server: Server, announce: Callable[[str], None] = lambda text: None) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM); every environment is stopped after."""

    with sigterm_as_interrupt():
        try:
            announce(f"coldbench serve: Lambda Invoke API on {server.address} "
                     f"(functions coldbench-<runtime>-<memory MB>: "
                     f"{', '.join(server.artifacts)})")
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()


def stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
