"""The Lambda Extensions API (version 2020-01-01) of coldbench's Runtime API server: the
protocol and its state (``extensions.py`` runs an environment's extensions through the
phases).

What Lambda does, and so what this does (AWS Lambda Developer Guide, "Lambda Extensions
API" and "Understanding the Lambda execution environment lifecycle"):

- External extensions are the executables in ``/opt/extensions``. Lambda starts them all,
  in parallel, before the runtime, in the same execution environment, with the function's
  variables and ``AWS_LAMBDA_RUNTIME_API``.
- Each registers (``POST /extension/register``, header ``Lambda-Extension-Name``, body
  ``{"events": ["INVOKE", "SHUTDOWN"]}``) and is answered with its
  ``Lambda-Extension-Identifier`` and the function's name, version and handler. The
  runtime starts once every extension has registered, not once it is ready ("Lambda does
  not wait until /extension/event/next to start the runtime init - it starts runtime init
  after /extension/register", AWS's answer in hashicorp/vault-lambda-extension#61).
- Init ends when every registered extension has called ``GET /extension/event/next`` and
  the runtime has called ``/runtime/invocation/next``: Init Duration covers all of it.
- Invoke: an extension registered for ``INVOKE`` gets the event when the runtime does.
  The runtime's response ends the function's Duration; the environment takes no next
  event until every such extension has called ``/event/next`` again (the post-runtime
  extension time, which Lambda bills and reports as ``PostRuntimeExtensionsDuration``).
- Shutdown ("Understand the Lambda execution environment lifecycle", Shutdown phase):
  with registered extensions the phase is capped at 2,000 ms. The runtime gets SIGTERM
  and up to 300 ms to end (500 ms for a runtime with an internal extension); "Lambda
  allocates the remainder of the 2,000 ms limit for external extensions to shut down":
  ``SHUTDOWN`` with that deadline, then SIGKILL to what remains. Without extensions the
  phase takes 0 ms.
- Errors, with Lambda's types: an extension that exits before shutdown is
  ``Extension.Crash``; one that posts ``/extension/init/error`` or ``/extension/exit/error``
  fails the environment with the type it gave (``Lambda-Extension-Function-Error-Type``);
  one that is not ready when init's time is up ends init as a timeout.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from coldbench.environments import logs_api, telemetry as telemetry_api
from coldbench.errors import UsageError

API_VERSION = "2020-01-01"
PREFIX = f"/{API_VERSION}/extension/"
EVENTS = ("INVOKE", "SHUTDOWN")
NAME_HEADER = "lambda-extension-name"
ID_HEADER = "lambda-extension-identifier"
ERROR_TYPE_HEADER = "lambda-extension-function-error-type"
ACCEPT_FEATURE_HEADER = "lambda-extension-accept-feature"
#: the Shutdown phase's limit with external extensions, of which the runtime keeps up to
#: 300 ms after its SIGTERM (500 ms with an internal extension)
SHUTDOWN_LIMIT_MS = 2000
RUNTIME_SHUTDOWN_MS = 300
INTERNAL_RUNTIME_SHUTDOWN_MS = 500
CRASH = "Extension.Crash"
LAUNCH_ERROR = "Extension.LaunchError"

#: the subscription paths beside the Extensions API's: the Telemetry and the Logs API
SUBSCRIPTION_PATHS = (telemetry_api.PATH, logs_api.PATH)

Answer = tuple[int, bytes, tuple[tuple[str, str], ...]]


@dataclass
class Extension:
    """One registered extension and the instants the server saw of it."""

    name: str
    identifier: str
    events: tuple[str, ...]
    registered_ns: int
    ready_ns: int | None = None        # its first /event/next: its init is over
    last_next_ns: int | None = None    # its latest /event/next
    waiting: bool = False              # blocked in /event/next, nothing to do
    error: dict | None = None          # from /init/error or /exit/error
    subscribed_with: str | None = None  # the Telemetry or the Logs API's path
    events_queue: queue.Queue = field(default_factory=queue.Queue)


def _answer(status: int, document: object, *headers: tuple[str, str]) -> Answer:
    return status, json.dumps(document).encode(), headers


def _refusal(status: int, error_type: str, message: str) -> Answer:
    return _answer(status, {"errorType": error_type, "errorMessage": message})


class ExtensionsAPI:
    """The Extensions API of one environment. ``handle`` answers a request (blocking in
    ``/event/next`` until there is an event); the control plane reads the state under
    ``changed``, a condition notified on every change."""

    def __init__(self, function_name: str, function_version: str, handler: str,
                 account_id: str, telemetry: telemetry_api.Telemetry,
                 on_ready: Callable[[], None] = lambda: None):
        self.function = {"functionName": function_name, "functionVersion": function_version,
                         "handler": handler, "accountId": account_id}
        self.telemetry = telemetry
        self.on_ready = on_ready           # an extension became ready during init
        self.extensions: dict[str, Extension] = {}     # by identifier
        self.changed = threading.Condition()
        self.init_over = False             # registration closes with init

    # the protocol ----------------------------------------------------------------------

    def handle(self, at_ns: int, method: str, path: str, headers: dict[str, str],
               body: bytes) -> Answer | None:
        """The answer to one request under ``PREFIX`` or the Telemetry API's path; None
        when the connection is to be closed without one (the environment is closing)."""
        if method == "POST" and path == PREFIX + "register":
            return self._register(at_ns, headers, body)
        if method == "PUT" and path in SUBSCRIPTION_PATHS:
            return self._subscribe(path, headers, body)
        extension = self.extensions.get(headers.get(ID_HEADER, ""))
        if extension is None:
            return _refusal(403, "Extension.UnknownExtensionIdentifier",
                            "missing or unknown Lambda-Extension-Identifier")
        if method == "GET" and path == PREFIX + "event/next":
            return self._next(extension, at_ns)
        if method == "POST" and path in (PREFIX + "init/error", PREFIX + "exit/error"):
            phase = path[len(PREFIX):].split("/")[0]
            fallback = "Extension.InitError" if phase == "init" else "Extension.ExitError"
            with self.changed:
                extension.error = {"type": headers.get(ERROR_TYPE_HEADER) or fallback,
                                   "message": f"extension {extension.name} reported an "
                                              f"{phase} error"
                                              + (f": {body[:300].decode('utf-8', 'replace')}"
                                                 if body else "")}
                self.changed.notify_all()
            return _answer(202, {"status": "OK"})
        return _refusal(404, "InvalidRequest", f"no such Extensions API call: {method} {path}")

    def _register(self, at_ns: int, headers: dict[str, str], body: bytes) -> Answer:
        name = headers.get(NAME_HEADER, "")
        try:
            events = json.loads(body or b"{}").get("events") or []
        except (ValueError, AttributeError):
            events = None
        if not name:
            return _refusal(400, "InvalidRequest", "Lambda-Extension-Name is missing")
        if not isinstance(events, list) or set(events) - set(EVENTS):
            return _refusal(400, "InvalidRequest", f"events must be a list of {', '.join(EVENTS)}")
        with self.changed:
            if self.init_over:
                return _refusal(403, "Extension.RegistrationClosed",
                                "extensions register during init only")
            if any(e.name == name for e in self.extensions.values()):
                return _refusal(409, "Extension.AlreadyRegistered",
                                f"an extension named {name} is registered already")
            extension = Extension(name, str(uuid.uuid4()), tuple(events), at_ns)
            self.extensions[extension.identifier] = extension
            self.changed.notify_all()
        # the account ID only for an extension that asks for it ("Lambda Extensions API",
        # Register: Lambda-Extension-Accept-Feature: accountId)
        features = {f.strip() for f in headers.get(ACCEPT_FEATURE_HEADER, "").split(",")}
        answer = {k: v for k, v in self.function.items()
                  if k != "accountId" or "accountId" in features}
        return _answer(200, answer, ("Lambda-Extension-Identifier", extension.identifier))

    def _subscribe(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """A Telemetry API or Logs API subscription ("Lambda Telemetry API", "Lambda Logs
        API"): "After subscribing using one of these APIs, any attempt to subscribe using
        the other API returns an error"; a duplicate subscription is none."""
        extension = self.extensions.get(headers.get(ID_HEADER, ""))
        if extension is None:
            return _refusal(403, "Extension.UnknownExtensionIdentifier",
                            "missing or unknown Lambda-Extension-Identifier")
        logs = path == logs_api.PATH
        refused = logs_api.VALIDATION_ERROR if logs else "ValidationError"
        parse = logs_api.parse_subscription if logs else telemetry_api.parse_subscription
        try:
            subscription = parse(extension.name, telemetry_api.read_request(body))
        except telemetry_api.SubscriptionError as exc:
            return _refusal(400, refused, str(exc))
        with self.changed:
            earlier = extension.subscribed_with
            if earlier is None:
                extension.subscribed_with = path
        if earlier not in (None, path):
            return _refusal(400, refused, f"extension {extension.name} subscribed with "
                                          f"{earlier} already: not with {path} too")
        if earlier is None:
            self.telemetry.subscribe(subscription)
        return 200, b'"OK"' if logs else b"OK", ()

    def _next(self, extension: Extension, at_ns: int) -> Answer | None:
        first = False
        with self.changed:
            if extension.ready_ns is None:
                extension.ready_ns = first = at_ns
            extension.last_next_ns = at_ns
            extension.waiting = True
            self.changed.notify_all()
        if first:
            self.telemetry.emit("platform.extension",
                                {"name": extension.name, "state": "Ready",
                                 "events": list(extension.events)}, at_ns)
            self.on_ready()
        event = extension.events_queue.get()
        if event is None:                  # closing: no event will come
            extension.events_queue.put(None)
            return None
        return 200, event, (("Lambda-Extension-Event-Identifier", str(uuid.uuid4())),)

    # what the control plane asks -------------------------------------------------------

    def registered(self) -> list[Extension]:
        with self.changed:
            return list(self.extensions.values())

    def all_ready(self) -> bool:
        """Every registered extension has called /event/next at least once."""
        return all(e.ready_ns is not None for e in self.registered())

    def ready_ns(self) -> int | None:
        """When the last registered extension became ready."""
        return max((e.ready_ns for e in self.registered() if e.ready_ns), default=None)

    def reported_error(self) -> dict | None:
        return next((e.error for e in self.registered() if e.error is not None), None)

    def invoke_listeners(self) -> list[Extension]:
        return [e for e in self.registered() if "INVOKE" in e.events]

    def invoke(self, request_id: str, deadline_ms: int, function_arn: str, trace: str) -> None:
        """Hand an INVOKE event to every extension registered for it."""
        event = json.dumps({"eventType": "INVOKE", "deadlineMs": deadline_ms,
                            "requestId": request_id, "invokedFunctionArn": function_arn,
                            "tracing": {"type": "X-Amzn-Trace-Id", "value": trace}}).encode()
        with self.changed:
            for extension in self.invoke_listeners():
                extension.waiting = False
                extension.events_queue.put(event)

    def idle_ns(self, listeners: list[Extension]) -> int | None:
        """When the last of ``listeners`` called /event/next again; None while one works."""
        with self.changed:
            if not all(e.waiting for e in listeners):
                return None
            return max((e.last_next_ns for e in listeners), default=None)

    def shutdown(self, reason: str, deadline_ms: int) -> list[Extension]:
        """Hand a SHUTDOWN event to every extension registered for it; those."""
        event = json.dumps({"eventType": "SHUTDOWN", "shutdownReason": reason,
                            "deadlineMs": deadline_ms}).encode()
        with self.changed:
            listeners = [e for e in self.extensions.values() if "SHUTDOWN" in e.events]
            for extension in listeners:
                extension.waiting = False
                extension.events_queue.put(event)
        return listeners

    def close(self) -> None:
        """Leave no request waiting: every /event/next still open is closed."""
        with self.changed:
            for extension in self.extensions.values():
                extension.events_queue.put(None)
            self.changed.notify_all()


def external_extensions(opt_dir: Path | None) -> list[Path]:
    """The external extensions of an environment whose /opt is ``opt_dir``: the
    executable files in its ``extensions`` folder, by name."""
    folder = opt_dir / "extensions" if opt_dir is not None else None
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and os.access(p, os.X_OK))


def not_executable(opt_dir: Path) -> list[Path]:
    """The files of an /opt's extensions folder that are not executable (Lambda could not
    start them: ``Extension.LaunchError``)."""
    folder = opt_dir / "extensions"
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.iterdir())
            if not path.is_dir() and not os.access(path, os.X_OK)]


def check_extensions(opt_dir: Path) -> None:
    """Refuse an /opt whose extensions folder holds a file that is not executable, before
    anything is measured."""
    for path in not_executable(opt_dir)[:1]:
        raise UsageError(f"extension '{path}' is not executable: Lambda could not start "
                         f"it (chmod +x it)")
