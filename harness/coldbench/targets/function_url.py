"""``--via url``: every invocation through a function URL, as an HTTP client calls it.

Any target's environments get an HTTP front door of Lambda's function URL shape
(``environments/function_url.py``: payload format 2.0 in, the HTTP answer out) on
127.0.0.1, one path per environment. A sample is one request sent with httpx: the client
observes its latency (``url_ms``, and the sample's ``e2e_ms``), while Init Duration and
Duration come from the Runtime API as for any invocation. A cold environment is started
inside the request, as Lambda starts one for a request that finds none, so a cold
request's latency holds the environment's creation, its init and the invocation. The
request's body is the plan's event as JSON; the function receives it as the 2.0 event's
``body``. Configurations measured this way are kept apart from those invoked directly
(``Variant.via`` "url").
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from coldbench.environments import function_url
from coldbench.targets.base import Environment, Invoked, Target

VIA = "url"                                   # the variant's ``via``: "via url"
_START_FAILURES = (OSError,)


class _FrontDoor(ThreadingHTTPServer):
    """The function URLs of one target's environments: /<environment>/<path>."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.environments: dict[str, "UrlEnvironment"] = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="function-url", daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request, client_address):
        pass                                    # a client that went away

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _FrontDoor

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _any(self):
        path, _, query = self.path.partition("?")
        _, name, *rest = path.split("/", 2)
        with self.server.lock:
            environment = self.server.environments.get(name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if environment is None:
            answer = function_url.HttpResponse(404, [("Content-Type", "application/json")],
                                               b'{"Message":null}')
        else:
            request = function_url.HttpRequest(
                method=self.command, path="/" + (rest[0] if rest else ""), query=query,
                headers=list(self.headers.items()), body=body,
                source_ip=self.client_address[0])
            answer = environment.serve(request)
        function_url.send(self, answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any


class UrlEnvironment(Environment):
    """An environment reached through its function URL; the inner one is started by the
    first request (or ahead, when provisioned)."""

    def __init__(self, owner: "UrlTarget", artifact, memory_mb: int, provisioned: bool,
                 name: str):
        import httpx    # only for --via url

        self.owner = owner
        self.artifact = artifact
        self.memory_mb = memory_mb
        self.name = name
        self.inner: Environment | None = None
        self.last: Invoked | None = None
        self._client = httpx.Client(base_url=f"{owner.door.address}/{name}",
                                    timeout=owner.timeout_s + 30)
        with owner.door.lock:
            owner.door.environments[name] = self
        if provisioned:
            self.inner = owner.inner.start(artifact, memory_mb, provisioned=True)

    @property
    def alive(self) -> bool:                    # noqa: D401 - the interface's attribute
        return self.inner is None or self.inner.alive

    @property
    def function_name(self) -> str:
        return f"{self.artifact.function.name}-{self.memory_mb}"

    def serve(self, request: function_url.HttpRequest) -> function_url.HttpResponse:
        """One request, in the front door's thread: the environment's invocation."""
        if self.inner is None:
            try:
                self.inner = self.owner.inner.start(self.artifact, self.memory_mb,
                                                    provisioned=False)
            except _START_FAILURES as exc:
                self.last = Invoked(duration_ms=None, error={
                    "type": "Coldbench.StartFailed", "phase": "init",
                    "message": f"the runtime could not be started: {exc}"})
                return function_url.response(None, failed=True)
        self.last = self.inner.invoke(function_url.event(request, self.function_name))
        return function_url.response(self.last.response, self.last.error is not None)

    def invoke(self, event: dict) -> Invoked:
        import httpx

        self.last = None
        started = time.perf_counter_ns()
        try:
            answer = self._client.post("/", content=json.dumps(event).encode(),
                                       headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            return Invoked(duration_ms=None, error={
                "type": "Coldbench.UrlRequestFailed", "phase": "invoke",
                "message": f"{type(exc).__name__}: {exc}"})
        latency_ms = (time.perf_counter_ns() - started) / 1e6
        invoked = self.last or Invoked(duration_ms=None, error={
            "type": "Coldbench.UrlRequestFailed", "phase": "invoke",
            "message": f"the function URL answered {answer.status_code} without invoking"})
        try:
            body = answer.json()
        except ValueError:
            body = answer.text
        return replace(invoked, response=body if invoked.error is None else invoked.response,
                       e2e_ms=latency_ms,
                       extra=dict(invoked.extra, url_ms=round(latency_ms, 3),
                                  url_status=answer.status_code))

    def close(self) -> None:
        with self.owner.door.lock:
            self.owner.door.environments.pop(self.name, None)
        self._client.close()
        if self.inner is not None:
            self.inner.close()


class UrlTarget(Target):
    """A target whose environments are invoked through function URLs."""

    def __init__(self, inner: Target, timeout_s: float):
        self.inner = inner
        self.name = inner.name
        self.timeout_s = timeout_s
        self.door = _FrontDoor()
        self._sequence = 0

    def prepare(self, configs, plan):
        return [replace(c, variant=c.variant.but(via=VIA))
                for c in self.inner.prepare(configs, plan)]

    def start(self, artifact, memory_mb: int, provisioned: bool) -> Environment:
        self._sequence += 1
        return UrlEnvironment(self, artifact, memory_mb, provisioned, f"e{self._sequence}")

    def describe(self) -> dict:
        return self.inner.describe() | {
            "via": "url", "url": "function URL shape, payload format 2.0, on 127.0.0.1; "
                                 "url_ms: the HTTP client's latency (httpx)"}

    def notes(self, memory_mb: int) -> list[str]:
        return self.inner.notes(memory_mb)

    def close(self) -> None:
        try:
            with self.door.lock:
                left = list(self.door.environments.values())
            for environment in left:
                environment.close()
            self.door.close()
        finally:
            self.inner.close()
