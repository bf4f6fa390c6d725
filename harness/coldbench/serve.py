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
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
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
from coldbench.environments.base import Environment
from coldbench.errors import UsageError
from coldbench.phases import billed_ms
from coldbench.targets.aws.lambda_report import Report
from coldbench.targets.local.target import LocalTarget
from coldbench.workflows.options import MEMORY_MAX_MB, MEMORY_MIN_MB
from coldbench.workflows.signals import sigterm_as_interrupt

API_VERSION = "2015-03-31"
_INVOKE_PATH = re.compile(rf"^/{API_VERSION}/functions/(?P<name>[^/]+)/invocations/?$")
NAME = re.compile(r"^coldbench-(?:(?P<run>[0-9a-f]{8})-)?(?P<runtime>[a-z]+)-(?P<memory>\d+)"
                  r"(?:-[A-Za-z0-9_-]+)?$")
_ARN = re.compile(r"^(?:arn:[\w-]+:lambda:[\w-]+:)?(?:\d{12}:)?(?:function:)?"
                  r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$")
LOG_TAIL_BYTES = 4096
# Lambda's limit on a synchronous invocation's payload (AWS Lambda quotas: "Invocation
# payload (request and response): 6 MB each for synchronous")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
LATEST = "$LATEST"
# Fields of a configuration that describe its state, not the configuration itself.
_VOLATILE = {"ResponseMetadata", "State", "StateReason", "StateReasonCode",
             "LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"}


class ServeError(Exception):
    """An error of the Invoke API itself (not of the function): status, AWS error type."""

    def __init__(self, status: int, error_type: str, message: str):
        super().__init__(message)
        self.status = status
        self.error_type = error_type


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


@dataclass
class Idle:
    environment: Environment
    since: float
    log_offset: int


@dataclass
class Pool:
    revision: str
    idle: list[Idle] = field(default_factory=list)


class ControlPlane:
    """The Lambda API endpoint that holds the functions' configurations."""

    def __init__(self, endpoint_url: str, region: str):
        import boto3   # only when serve follows a control plane
        from botocore.config import Config

        self._client = boto3.session.Session(region_name=region).client(
            "lambda", endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 3},
                          connect_timeout=5, read_timeout=30))
        self._errors = self._client.exceptions

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


def revision_of(configuration: dict) -> str:
    """A digest of everything a configuration says, so that any change is seen."""
    stable = {k: v for k, v in configuration.items() if k not in _VOLATILE}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()


class Server:
    """The Invoke API on ``host:port``; ``serve_forever`` until ``close``."""

    def __init__(self, artifacts: dict[str, Artifact], host: str = "127.0.0.1", port: int = 3001,
                 timeout_s: float = 60.0, cpu_model: str = "lambda", limits: bool = True,
                 idle_timeout_s: float = 600.0, control_plane: ControlPlane | None = None):
        self.artifacts = artifacts
        self.timeout_s = timeout_s
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
        self._httpd = _HTTPServer((host, port), _Handler)
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
                        image_uri=image_uri)

    # environments ----------------------------------------------------------------------

    def _target(self, timeout_s: float) -> LocalTarget:
        with self._lock:
            if timeout_s not in self._targets:
                self._targets[timeout_s] = LocalTarget(timeout_s=timeout_s,
                                                       cpu_model=self.cpu_model,
                                                       limits=self.limits)
            return self._targets[timeout_s]

    def _images(self):
        from coldbench.targets.docker.pulled import PulledImages

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

    def invoke(self, function: str, qualifier: str | None, payload: bytes,
               tail: bool) -> tuple[bytes, dict[str, str]]:
        """Run one invocation; the response body and headers."""
        try:
            event = json.loads(payload or b"{}")
        except ValueError:
            raise ServeError(400, "InvalidRequestContentException",
                             "Could not parse request body into json") from None
        resolved = self.resolve(function, qualifier)
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


def _read_from(environment: Environment, offset: int) -> tuple[str, int]:
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_POST(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True       # the body is not read
            return self._error(ServeError(
                413, "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the "
                "InvokeFunction operation"))
        body = self.rfile.read(length)
        match = _INVOKE_PATH.match(url.path)
        if not match:
            return self._error(ServeError(404, "UnknownOperationException",
                                          f"coldbench serve has no operation at {url.path}"))
        qualifier = (parse_qs(url.query).get("Qualifier") or [None])[0]
        function = unquote(match["name"])
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        tail = self.headers.get("X-Amz-Log-Type", "None") == "Tail"
        app = self.server.app
        try:
            if invocation_type == "DryRun":
                app.resolve(function, qualifier)
                return self._reply(204, b"", {})
            if invocation_type == "Event":
                app.resolve(function, qualifier)
                threading.Thread(target=_quietly, args=(app.invoke, function, qualifier, body,
                                                        False), daemon=True).start()
                return self._reply(202, b"", {})
            payload, headers = app.invoke(function, qualifier, body, tail)
        except ServeError as exc:
            return self._error(exc)
        except Exception as exc:   # noqa: BLE001 - the caller gets Lambda's service error
            return self._error(ServeError(500, "ServiceException",
                                          f"{type(exc).__name__}: {exc}"))
        self._reply(200, payload, headers)

    def _error(self, exc: ServeError) -> None:
        body = json.dumps({"Type": "User", "message": str(exc)}).encode()
        self._reply(exc.status, body, {"x-amzn-ErrorType": exc.error_type})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _quietly(call: Callable, *args) -> None:
    try:
        call(*args)
    except Exception:   # an Event invocation has no caller to tell
        pass


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
