"""Local stand-ins for AWS that speak its wire protocol, for the AWS target's tests.

- ``MotoServer``: moto's server (``moto[server]``) as a subprocess on 127.0.0.1: Lambda's
  control plane, IAM, CloudWatch Logs and STS.
- ``StandIn``: a small HTTP proxy in front of it for what moto does not do: it answers
  the provisioned-concurrency API itself (moto 5 has none: PUT, GET and DELETE
  /2019-09-30/functions/{name}/provisioned-concurrency, IN_PROGRESS then READY, as Lambda
  answers), and it can answer chosen Lambda calls with Lambda's throttling error (HTTP 429,
  TooManyRequestsException) a given number of times, or chosen calls with another error
  (``fail``: a 5xx, AccessDenied). Everything else goes to moto as is. It keeps the body
  of every request (``sent``), and can rewrite the log tail of Invoke answers
  (``rewrite_log``): what Lambda reports and ``coldbench serve`` does not (a SnapStart
  restore, proactive initialization, the JSON log format), in front of serve. It can
  answer JSON-protocol calls itself by their X-Amz-Target (``answer``): ECR's image calls,
  whose images are in a real registry moto does not have (registry_standin.py). It answers
  the deletion of a published version itself (``deleted_versions``): moto numbers a new
  version by how many exist, so a deleted version's number would be given again, which
  Lambda never does.
- ``serve``: ``coldbench serve`` as a subprocess, for invocations.

Credentials are dummy ones, in the environment the tests set (``DUMMY_ENVIRONMENT``).
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

DUMMY_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s} s")


class MotoServer:
    def __init__(self):
        self.port = free_port()
        env = {**os.environ, **DUMMY_ENVIRONMENT, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        stop(self.process)


_FUNCTION = re.compile(r"^/2015-03-31/functions/[^/]+$")
_PROVISIONED = re.compile(r"^/2019-09-30/functions/(?P<name>[^/]+)/provisioned-concurrency$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Throttle:
    """Answer ``times`` requests matching ``method`` and ``path`` (a regex), and ``body``
    (a regex) if given, with 429, or with the error ``fail`` gives."""

    method: str
    path: str
    times: int
    answered: int = 0
    body: str | None = None
    status: int = 429
    code: str = "TooManyRequestsException"
    message: str = "Rate exceeded"
    xml: bool = False            # IAM and STS (query protocol) answer errors in XML

    def answer(self) -> tuple[int, bytes, dict]:
        if self.xml:
            data = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{self.code}</Code>"
                    f"<Message>{self.message}</Message></Error>"
                    "<RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
                    "</ErrorResponse>").encode()
            return self.status, data, {"Content-Type": "text/xml"}
        # Lambda's REST-JSON errors name their type in a header, CloudWatch Logs' JSON
        # errors in "__type": both are given
        document = {"Type": "User", "message": self.message, "__type": self.code}
        if self.status == 429:
            document["Reason"] = "CallerRateLimitExceeded"
        return (self.status, json.dumps(document).encode(),
                {"Content-Type": "application/json", "x-amzn-ErrorType": self.code})


@dataclass
class LogRewrite:
    path: str
    change: Callable[[str], str]
    times: int | None = None
    answered: int = 0


@dataclass
class StandIn:
    """The proxy. ``ready_after``: GETs of a provisioned-concurrency config that answer
    IN_PROGRESS before it is READY."""

    backend: str
    ready_after: int = 1
    # seconds a function stays LastUpdateStatus InProgress after a configuration update,
    # as on Lambda (moto finishes updates at once)
    update_s: float = 0.0
    requests: list[tuple[str, str]] = field(default_factory=list)
    throttles: list[Throttle] = field(default_factory=list)
    provisioned: dict[tuple[str, str], dict] = field(default_factory=dict)
    deleted_versions: list[tuple[str, str]] = field(default_factory=list)  # (function, version)
    overrides: list[tuple[str, str, Callable[[dict], dict]]] = field(default_factory=list)
    updates: list[tuple[str, float]] = field(default_factory=list)    # (function, when)
    bodies: list[tuple[str, str, bytes]] = field(default_factory=list)
    rewrites: list[LogRewrite] = field(default_factory=list)
    answers: dict[str, Callable[[dict], tuple[int, dict]]] = field(default_factory=dict)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._updated: dict[str, float] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.standin = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def throttle(self, method: str, path: str, times: int) -> Throttle:
        rule = Throttle(method, path, times)
        with self._lock:
            self.throttles.append(rule)
        return rule

    def fail(self, method: str, path: str, times: int, status: int, code: str,
             message: str = "", body: str | None = None, xml: bool = False) -> Throttle:
        """Answer ``times`` matching requests with the error ``code`` and HTTP ``status``."""
        rule = Throttle(method, path, times, body=body, status=status, code=code,
                        message=message or code, xml=xml)
        with self._lock:
            self.throttles.append(rule)
        return rule

    def override(self, method: str, path: str, change: Callable[[dict], dict]) -> None:
        """Pass moto's JSON answers to ``method`` on ``path`` (a regex) through ``change``:
        how a function stuck in a failed update looks, which moto never shows."""
        with self._lock:
            self.overrides.append((method, path, change))

    def _changed(self, method: str, path: str, data: bytes) -> bytes:
        function = re.match(r"^/2015-03-31/functions/([^/]+)(/configuration)?$", path)
        with self._lock:
            changes = [c for m, p, c in self.overrides if m == method and re.search(p, path)]
            if function and method == "PUT" and function.group(2):
                self._updated[unquote(function.group(1))] = time.monotonic()
                self.updates.append((unquote(function.group(1)), time.monotonic()))
            elif function and method == "GET" and \
                    time.monotonic() - self._updated.get(unquote(function.group(1)), -1e9) \
                    < self.update_s:
                changes.append(_in_progress)
        for change in changes:
            data = json.dumps(change(json.loads(data))).encode()
        return data

    def answer(self, target: str, call: Callable[[dict], tuple[int, dict]]) -> None:
        """Answer requests whose X-Amz-Target is ``target`` with ``call(request document)``:
        (status, document; an error document names its type in "__type")."""
        with self._lock:
            self.answers[target] = call

    def rewrite_log(self, path: str, change: Callable[[str], str],
                    times: int | None = None) -> "LogRewrite":
        """Pass the log tail (``X-Amz-Log-Result``, decoded) of answers to POSTs whose path
        and query match ``path`` (a regex) through ``change``; ``times`` answers, or all."""
        rule = LogRewrite(path, change, times)
        with self._lock:
            self.rewrites.append(rule)
        return rule

    def _rewritten(self, method: str, path: str, headers: list[tuple[str, str]]):
        with self._lock:
            rules = [r for r in self.rewrites if method == "POST" and re.search(r.path, path)
                     and (r.times is None or r.answered < r.times)]
            for rule in rules:
                rule.answered += 1
        changed = []
        for name, value in headers:
            if name.lower() == "x-amz-log-result":
                log = base64.b64decode(value).decode("utf-8", "replace")
                for rule in rules:
                    log = rule.change(log)
                value = base64.b64encode(log.encode()).decode()
            changed.append((name, value))
        return changed

    def sent(self, method: str, path: str) -> list[dict]:
        """The JSON bodies of the requests that reached the stand-in, in order."""
        with self._lock:
            return [json.loads(body or b"{}") for m, p, body in self.bodies
                    if m == method and re.search(path, p)]

    def count(self, method: str, path: str) -> int:
        """Requests that reached the stand-in (throttled ones included)."""
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and re.search(path, p))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # what the handler calls -----------------------------------------------------------

    def _throttled(self, method: str, path: str, body: bytes) -> Throttle | None:
        with self._lock:
            self.requests.append((method, path))
            self.bodies.append((method, path, body))
            for rule in self.throttles:
                if rule.method == method and re.search(rule.path, path) and \
                        (rule.body is None or re.search(rule.body, body.decode("latin-1"))) \
                        and rule.answered < rule.times:
                    rule.answered += 1
                    return rule
        return None

    def _provisioned(self, method: str, name: str, qualifier: str, body: bytes):
        key = (name, qualifier)
        with self._lock:
            if method == "PUT":
                wanted = json.loads(body or b"{}").get("ProvisionedConcurrentExecutions", 1)
                self.provisioned[key] = {"RequestedProvisionedConcurrentExecutions": wanted,
                                         "polls": 0}
                return 202, self._document(key)
            if key not in self.provisioned:
                return 404, {"Type": "User", "message": "No Provisioned Concurrency Config "
                             f"found for this function: {name}:{qualifier}",
                             "__type": "ProvisionedConcurrencyConfigNotFoundException"}
            if method == "DELETE":
                del self.provisioned[key]
                return 204, None
            self.provisioned[key]["polls"] += 1
            return 200, self._document(key)

    def _document(self, key) -> dict:
        entry = self.provisioned[key]
        ready = entry["polls"] > self.ready_after
        wanted = entry["RequestedProvisionedConcurrentExecutions"]
        return {"RequestedProvisionedConcurrentExecutions": wanted,
                "AvailableProvisionedConcurrentExecutions": wanted if ready else 0,
                "AllocatedProvisionedConcurrentExecutions": wanted if ready else 0,
                "Status": "READY" if ready else "IN_PROGRESS",
                "LastModified": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")}


def _in_progress(document: dict) -> dict:
    configuration = document.get("Configuration", document)
    configuration["LastUpdateStatus"] = "InProgress"
    return document


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _handle(self):
        standin: StandIn = self.server.standin
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        rule = standin._throttled(self.command, url.path, body)
        if rule is not None:
            status, data, headers = rule.answer()
            return self._send(status, data, headers)
        answer = standin.answers.get(self.headers.get("X-Amz-Target", ""))
        if answer is not None:
            status, document = answer(json.loads(body or b"{}"))
            error = {"x-amzn-ErrorType": document["__type"]} if "__type" in document else {}
            return self._send(status, json.dumps(document).encode(),
                              {"Content-Type": "application/x-amz-json-1.1", **error})
        qualifier = (parse_qs(url.query).get("Qualifier") or [""])[0]
        if self.command == "DELETE" and _FUNCTION.match(url.path) and qualifier.isdigit():
            # Lambda never numbers a version again; moto numbers a new one by how many
            # exist, so its list is kept whole and the deletion answered here
            with standin._lock:
                standin.deleted_versions.append((unquote(url.path.rsplit("/", 1)[1]),
                                                 qualifier))
            return self._send(204, b"", {})
        match = _PROVISIONED.match(url.path)
        if match:
            qualifier = (parse_qs(url.query).get("Qualifier") or [""])[0]
            status, document = standin._provisioned(self.command, unquote(match["name"]),
                                                    qualifier, body)
            headers = ({"x-amzn-ErrorType": document.pop("__type")}
                       if document and "__type" in document else {})
            return self._reply(status, document, headers)
        backend = urlsplit(standin.backend)
        connection = http.client.HTTPConnection(backend.hostname, backend.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            if answer.status == 200 and data.startswith(b"{"):
                data = standin._changed(self.command, url.path, data)
            self.send_response(answer.status)
            for name, value in standin._rewritten(self.command, self.path,
                                                  answer.getheaders()):
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            connection.close()

    def _reply(self, status: int, document, headers: dict):
        data = b"" if document is None else json.dumps(document).encode()
        self._send(status, data, {"Content-Type": "application/json", **headers})

    def _send(self, status: int, data: bytes, headers: dict):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = _handle


class Serve:
    """``coldbench serve`` as a user starts it, on a free port."""

    def __init__(self, *args: str, env: dict | None = None):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "coldbench", "serve", "--port", "0", *args],
            env={**os.environ, **DUMMY_ENVIRONMENT, **(env or {})},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        deadline = time.monotonic() + 600        # a first build may take a while
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                raise RuntimeError(f"serve ended before listening: {''.join(self.lines)}")
            self.lines.append(line)
            match = re.search(r"Invoke API on (http://\S+)", line)
            if match:
                self.url = match.group(1)
                break
        threading.Thread(target=self._drain, daemon=True).start()

    @classmethod
    def following(cls, control_plane_url: str, runtimes: str, idle_timeout_s: float,
                  region: str = "us-east-1", env: dict | None = None) -> Serve:
        """``coldbench serve`` of ``runtimes`` following the control plane at
        ``control_plane_url``: it offers the functions that control plane holds."""
        return cls("--runtimes", runtimes, "--control-plane-url", control_plane_url,
                   "--region", region, "--idle-timeout", str(idle_timeout_s), env=env)

    def _drain(self):
        for line in self.process.stderr:
            self.lines.append(line)

    def close(self) -> None:
        stop(self.process, timeout_s=30)         # SIGTERM: serve stops its environments


def stop(process: subprocess.Popen, timeout_s: float = 10) -> None:
    """SIGTERM, then SIGKILL if ``process`` has not ended within ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serve_behind(control_plane_url: str, runtimes: str, idle_timeout_s: float,
                 region: str = "us-east-1"):
    """`Serve.following` the control plane, and a stand-in in front of serve that counts
    (and may rewrite) the invocations on their way: yields that stand-in; both stopped
    at the end."""
    serve = Serve.following(control_plane_url, runtimes, idle_timeout_s, region)
    try:
        front = StandIn(serve.url)
        try:
            yield front
        finally:
            front.close()
    finally:
        serve.close()


def boto(url: str, service: str, region: str = "us-east-1",
         key_id: str = DUMMY_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
         secret: str = DUMMY_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"], **options):
    """A boto3 client of ``service`` at ``url`` (moto, a stand-in, serve) with these
    credentials; ``options`` go to boto3.client as they are."""
    import boto3
    return boto3.client(service, endpoint_url=url, region_name=region,
                        aws_access_key_id=key_id, aws_secret_access_key=secret, **options)


def functions_in(url: str, region: str = "us-east-1") -> list[str]:
    """The names of the functions the control plane at ``url`` holds in ``region``."""
    return [f["FunctionName"] for f in boto(url, "lambda", region).list_functions()["Functions"]]


def left_in(url: str, region: str = "us-east-1") -> list[str]:
    """Every function, and every coldbench log group and role, the control plane at ``url``
    still holds in ``region``."""
    groups = [g["logGroupName"] for g in boto(url, "logs", region).describe_log_groups(
        logGroupNamePrefix="/aws/lambda/coldbench-")["logGroups"]]
    roles = [r["RoleName"]
             for r in boto(url, "iam", region).list_roles(PathPrefix="/coldbench/")["Roles"]]
    return functions_in(url, region) + groups + roles


@contextmanager
def moto_behind_standin():
    """moto's server, and the stand-in in front of it; both stopped at the end."""
    moto = MotoServer()
    try:
        standin = StandIn(moto.url)
        try:
            yield moto, standin
        finally:
            standin.close()
    finally:
        moto.close()


# What Lambda reports and serve does not, as rewrites of a log tail (``rewrite_log``) ------

_INIT = re.compile(r"\tInit Duration: ([0-9.]+) ms")
_REPORT_FIELDS = re.compile(r"(RequestId|Duration|Billed Duration|Memory Size|Max Memory Used|"
                            r"Init Duration): ([^\t]+?)(?: ms| MB)?(?=\t|$)")


def restored(log: str) -> str:
    """The tail of a SnapStart version's first invocation: its REPORT line with a Restore
    Duration (and Billed Restore Duration) where serve wrote an Init Duration."""
    def restore(match: re.Match) -> str:
        restore_ms = float(match.group(1))
        return (f"\tRestore Duration: {restore_ms:.2f} ms\t"
                f"Billed Restore Duration: {max(1, round(restore_ms / 4))} ms")
    return _INIT.sub(restore, log)


def as_json(log: str, init: bool = True) -> str:
    """The tail in Lambda's JSON log format: the REPORT line as a platform.report record
    (without its initDurationMs unless ``init``: an environment initialised before the
    request, as proactive initialization leaves it)."""
    lines = []
    for line in log.splitlines():
        if not line.startswith("REPORT RequestId:"):
            lines.append(line)
            continue
        fields = dict(_REPORT_FIELDS.findall(line))
        keep_init = init and "Init Duration" in fields
        duration = float(fields["Duration"])
        metrics = {"durationMs": duration,
                   "billedDurationMs": (int(float(fields["Billed Duration"])) if keep_init
                                        else math.ceil(duration)),
                   "memorySizeMB": int(fields["Memory Size"]),
                   "maxMemoryUsedMB": int(fields["Max Memory Used"])}
        if keep_init:
            metrics["initDurationMs"] = float(fields["Init Duration"])
        lines.append(json.dumps({"time": datetime.now(timezone.utc).isoformat(),
                                 "type": "platform.report",
                                 "record": {"requestId": fields["RequestId"],
                                            "metrics": metrics, "status": "success"}}))
    return "\n".join(lines) + "\n"


# Function URLs -------------------------------------------------------------------------

_URL_HOST = re.compile(r"^(?P<id>[0-9a-z]+)\.lambda-url\.(?P<region>[0-9a-z-]+)\.on\.aws$")
_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/"
                            r"(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
                            r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})$")
SIGNATURE_SKEW_S = 15 * 60         # SigV4: a request signed more than 15 minutes away is refused


def _hmac(key: bytes, text: str) -> bytes:
    import hmac
    return hmac.new(key, text.encode(), "sha256").digest()


def sigv4_problem(method: str, path: str, query: str, headers: dict[str, str], body: bytes,
                  secrets: dict[str, str], region: str) -> str | None:
    """Why a request's Signature Version 4 does not hold (None: it does), by the algorithm
    of the AWS General Reference ("Create a signed AWS API request"), written here from its
    text rather than taken from the client's signer, so a client that signs wrongly is
    caught: canonical request, string to sign, signing key, signature."""
    import hashlib
    import hmac
    from urllib.parse import quote

    lower = {k.lower(): v for k, v in headers.items()}
    match = _AUTHORIZATION.match(lower.get("authorization", ""))
    if not match:
        return "no SigV4 Authorization header"
    if match["key"] not in secrets:
        return f"unknown access key {match['key']}"
    if match["service"] != "lambda" or match["region"] != region:
        return f"credential scope {match['region']}/{match['service']}, not {region}/lambda"
    stamp = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "no X-Amz-Date"
    if abs((datetime.now(timezone.utc) - signed_at).total_seconds()) > SIGNATURE_SKEW_S \
            or stamp[:8] != match["date"]:
        return "signature expired"
    names = match["signed"].split(";")
    if "host" not in names or any(n not in lower for n in names):
        return "a signed header is missing"
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~"))
                   for k, v in parse_qs(query, keep_blank_values=True).items() for v in v)
    canonical = "\n".join([
        method, quote(path or "/", safe="/-_.~%"), "&".join(f"{k}={v}" for k, v in pairs),
        "".join(f"{n}:{' '.join(lower[n].split())}\n" for n in names), match["signed"],
        lower.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()])
    scope = f"{match['date']}/{region}/lambda/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secrets[match["key"]]).encode()
    for part in (match["date"], region, "lambda", "aws4_request"):
        key = _hmac(key, part)
    if not hmac.compare_digest(hmac.new(key, to_sign.encode(), "sha256").hexdigest(),
                               match["signature"]):
        return "the signature does not match"
    return None


class FunctionUrls:
    """Lambda's function URLs, for the URLs moto hands out (CreateFunctionUrlConfig):
    an HTTPS request to ``<url-id>.lambda-url.<region>.on.aws`` arrives here with that host
    in its Host header. An AWS_IAM URL's request must carry a valid Signature Version 4 by
    a key of ``secrets`` (key id -> secret), else it is refused with 403 and the function
    is not run, as Lambda refuses it. An accepted request becomes a payload format 2.0
    event, invoked through ``invoke_url`` (``coldbench serve``) with the log tail; the log
    lines go to the function's CloudWatch log group in moto, as Lambda writes them, and the
    function's answer becomes the HTTP response, with the request id in
    ``x-amzn-RequestId`` (AWS Lambda Developer Guide, "Invoking Lambda function URLs")."""

    def __init__(self, control_plane: str, invoke_url: str, secrets: dict[str, str],
                 region: str = "us-east-1"):
        import boto3
        credentials = dict(aws_access_key_id=next(iter(secrets)),
                           aws_secret_access_key=next(iter(secrets.values())))
        self.lambda_ = boto3.client("lambda", endpoint_url=control_plane, region_name=region,
                                    **credentials)
        self.logs = boto3.client("logs", endpoint_url=control_plane, region_name=region,
                                 **credentials)
        self.invoke = boto3.client("lambda", endpoint_url=invoke_url, region_name=region,
                                   **credentials)
        self.secrets = secrets
        self.region = region
        self.refused: list[str] = []          # why each refused request was refused
        self.invoked: list[tuple[str, dict]] = []     # (function, 2.0 event)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _UrlHandler)
        self._server.daemon_threads = True
        self._server.urls = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def function_of(self, url_id: str) -> tuple[str, str] | None:
        """The function whose URL has this id, and the URL's AuthType (asked of moto)."""
        for page in self.lambda_.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                try:
                    config = self.lambda_.get_function_url_config(
                        FunctionName=function["FunctionName"])
                except self.lambda_.exceptions.ResourceNotFoundException:
                    continue
                if urlsplit(config["FunctionUrl"]).hostname.split(".")[0] == url_id:
                    return function["FunctionName"], config["AuthType"]
        return None

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes,
               source_ip: str) -> tuple[int, dict[str, str], bytes]:
        forbidden = (403, {"Content-Type": "application/json",
                           "x-amzn-ErrorType": "AccessDeniedException"},
                     b'{"Message":"Forbidden"}')
        host = _URL_HOST.match(headers.get("Host", "").split(":")[0])
        found = self.function_of(host["id"]) if host else None
        if found is None:
            return 404, {"Content-Type": "application/json"}, b'{"Message":null}'
        function, auth_type = found
        url = urlsplit(target)
        if auth_type == "AWS_IAM":
            problem = sigv4_problem(method, url.path, url.query, headers, body, self.secrets,
                                    host["region"])
            if problem is not None:
                with self._lock:
                    self.refused.append(problem)
                return forbidden
        event = url_event(method, url.path, url.query, headers, body, source_ip,
                          headers["Host"])
        with self._lock:
            self.invoked.append((function, event))
        answer = self.invoke.invoke(FunctionName=function, Payload=json.dumps(event).encode(),
                                    LogType="Tail")
        log = base64.b64decode(answer.get("LogResult") or "").decode("utf-8", "replace")
        request_id = (re.search(r"REPORT RequestId: (\S+)", log) or [None, None])[1] \
            or answer["ResponseMetadata"]["RequestId"]
        self.write_log(function, log)
        document = json.loads(answer["Payload"].read() or b"null")
        extra = {"x-amzn-RequestId": request_id}
        if answer.get("FunctionError"):
            return 502, {"Content-Type": "application/json", **extra}, \
                b'{"Message":"Internal Server Error"}'
        if isinstance(document, dict) and "statusCode" in document:
            data = document.get("body") or ""
            data = base64.b64decode(data) if document.get("isBase64Encoded") else data.encode()
            return int(document["statusCode"]), {**document.get("headers", {}), **extra}, data
        return 200, {"Content-Type": "application/json", **extra}, json.dumps(document).encode()

    def write_log(self, function: str, log: str) -> None:
        """The invocation's log lines in its log group, in a stream of its own."""
        group = f"/aws/lambda/{function}"
        stream = (f"{datetime.now(timezone.utc):%Y/%m/%d}/[$LATEST]"
                  f"{os.urandom(16).hex()}")
        try:
            self.logs.create_log_group(logGroupName=group)
        except self.logs.exceptions.ResourceAlreadyExistsException:
            pass
        self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now_ms = int(time.time() * 1000)
        lines = [line for line in log.splitlines() if line.strip()]
        if lines:
            self.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                {"timestamp": now_ms, "message": line} for line in lines])


def url_event(method: str, path: str, query: str, headers: dict[str, str], body: bytes,
              source_ip: str, host: str) -> dict:
    """The payload format 2.0 event of a function URL request ("Invoking Lambda function
    URLs": "Request payload format")."""
    lower = {k.lower(): v for k, v in headers.items()}
    now = time.time()
    url_id = host.split(".")[0]
    event = {"version": "2.0", "routeKey": "$default", "rawPath": path or "/",
             "rawQueryString": query, "headers": lower,
             "requestContext": {
                 "accountId": "123456789012", "apiId": url_id, "domainName": host,
                 "domainPrefix": url_id, "requestId": os.urandom(16).hex(),
                 "routeKey": "$default", "stage": "$default",
                 "http": {"method": method, "path": path or "/", "protocol": "HTTP/1.1",
                          "sourceIp": source_ip, "userAgent": lower.get("user-agent", "")},
                 "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                 "timeEpoch": int(now * 1000)},
             "isBase64Encoded": False}
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in
                                          parse_qs(query, keep_blank_values=True).items()}
    if body:
        event["body"] = body.decode("utf-8", "replace")
    return event


class _UrlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, data = self.server.urls.handle(
            self.command, self.path, dict(self.headers.items()), body, self.client_address[0])
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle
