"""The Lambda Telemetry API (version 2022-07-01) of coldbench's Runtime API server.

An extension subscribes with ``PUT /2022-07-01/telemetry`` (AWS Lambda Developer Guide,
"Lambda Telemetry API", "Telemetry API reference"): the streams it wants (``platform``,
``function``, ``extension``), how events are buffered (``maxItems`` 1,000-10,000,
``maxBytes`` 262,144-1,048,576, ``timeoutMs`` 25-30,000; defaults 10,000, 262,144 and
1,000) and an HTTP destination. Lambda then POSTs JSON arrays of events to it, each
``{"time", "type", "record"}`` ("Telemetry API Event schema reference"). A batch leaves
when ``maxItems`` or ``maxBytes`` is reached or ``timeoutMs`` after its first event; what
was emitted before the subscription during init is delivered too.

Events carry the instants coldbench's phases are clocked from (``phases.now_ns``, put on
the wall clock once per process), so ``platform.initReport``'s duration is the sample's
``init_ms`` and ``platform.runtimeDone``'s is its ``duration_ms``. Delivery runs on a
thread per subscription and never holds up an invocation.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import urlsplit

from coldbench.phases import now_ns

API_VERSION = "2022-07-01"
PATH = f"/{API_VERSION}/telemetry"
STREAMS = ("platform", "function", "extension")
# (minimum, maximum, default) of each buffering setting ("Telemetry API reference")
BUFFERING = {"maxItems": (1_000, 10_000, 10_000),
             "maxBytes": (262_144, 1_048_576, 262_144),
             "timeoutMs": (25, 30_000, 1_000)}
# An extension's listener resolves as "sandbox.localdomain" inside Lambda's sandbox; here
# it listens on this machine's loopback.
SANDBOX_HOSTS = ("sandbox.localdomain", "sandbox", "localhost")
_DELIVERY_TIMEOUT_S = 2.0
_RETRIES = 20                      # a listener may bind just after it subscribed
_RETRY_S = 0.05
# the wall clock of a phases.now_ns() instant
_WALL_OFFSET_NS = time.time_ns() - now_ns()


def wall_time(instant_ns: int) -> str:
    """An instant as the Telemetry API writes times: ISO 8601, UTC, milliseconds."""
    moment = datetime.fromtimestamp((instant_ns + _WALL_OFFSET_NS) / 1e9, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class SubscriptionError(ValueError):
    """A subscription request Lambda would refuse with a ValidationError."""


def as_telemetry(kind: str, record: object) -> object | None:
    """An event's record as the Telemetry API delivers it (None: not one of its events)."""
    return None if kind in NOT_TELEMETRY else record


# the Logs API's own events (``logs_api.py``), which the Telemetry API does not deliver
NOT_TELEMETRY = frozenset({"platform.logsSubscription", "platform.end", "platform.fault"})


@dataclass
class Subscription:
    extension: str
    host: str
    port: int
    path: str
    types: frozenset[str]
    max_items: int
    max_bytes: int
    timeout_ms: int
    # the API it came through: how an event's record is delivered (None: not at all),
    # which event announces it, and how a batch is framed ("HTTP": a JSON array in a
    # POST; "TCP": newline-delimited JSON)
    translate: Callable[[str, object], object | None] = as_telemetry
    announcement: str = "platform.telemetrySubscription"
    protocol: str = "HTTP"
    pending: list[bytes] = field(default_factory=list)
    first_ns: int | None = None
    sending: bool = False              # a batch is on its way
    delivered: int = 0
    failed: int = 0


def read_request(body: bytes) -> dict:
    """A subscription request's body (``PUT /telemetry``, ``PUT /logs``) as the JSON
    object it must be; SubscriptionError when it is not one."""
    try:
        request = json.loads(body or b"{}")
    except ValueError as exc:
        raise SubscriptionError(f"the body is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise SubscriptionError("the body is not a JSON object")
    return request


def parse_subscription(extension: str, request: dict,
                       protocols: tuple[str, ...] = ("HTTP",)) -> Subscription:
    """A ``PUT /telemetry`` request (``read_request``) as a Subscription (the Logs API's
    too, whose destination may also be ``TCP``: ``protocols``); SubscriptionError names
    what is wrong."""
    types = request.get("types") or []
    if not isinstance(types, list) or not types or set(types) - set(STREAMS):
        raise SubscriptionError(f"types must be a non-empty list of {', '.join(STREAMS)}")
    destination = request.get("destination") or {}
    if not isinstance(destination, dict) or destination.get("protocol") not in protocols:
        raise SubscriptionError(f"destination.protocol must be {' or '.join(protocols)}")
    protocol = destination["protocol"]
    uri = urlsplit(str(destination.get("URI") or ""))
    if uri.scheme != protocol.lower() or not uri.hostname or not uri.port:
        raise SubscriptionError(f"destination.URI must be {protocol.lower()}://host:port"
                                + ("[/path]" if protocol == "HTTP" else ""))
    buffering = request.get("buffering") or {}
    if not isinstance(buffering, dict):
        raise SubscriptionError("buffering must be an object")
    settings = {}
    for name, (low, high, default) in BUFFERING.items():
        value = buffering.get(name, default)
        if not isinstance(value, int) or not low <= value <= high:
            raise SubscriptionError(f"buffering.{name} must be an integer from {low} to {high}")
        settings[name] = value
    host = "127.0.0.1" if uri.hostname in SANDBOX_HOSTS else uri.hostname
    return Subscription(extension, host, uri.port, uri.path or "/", frozenset(types),
                        settings["maxItems"], settings["maxBytes"], settings["timeoutMs"],
                        protocol=protocol)


class Telemetry:
    """The events of one execution environment and the subscriptions they go to."""

    def __init__(self):
        # (stream, type, record, instant) of every event since init start
        self._history: list[tuple[str, str, object, int]] = []
        self._subscriptions: list[Subscription] = []
        self._changed = threading.Condition()
        self._closed = False

    def emit(self, kind: str, record: object, at_ns: int | None = None) -> None:
        """One event of type ``kind`` ("platform.start", "function", ...) at ``at_ns``."""
        stream = kind.split(".")[0]
        at_ns = at_ns if at_ns is not None else now_ns()
        with self._changed:
            if self._closed:
                return
            self._history.append((stream, kind, record, at_ns))
            for subscription in self._subscriptions:
                if stream in subscription.types:
                    self._queue(subscription, kind, record, at_ns)
            self._changed.notify_all()

    def subscribe(self, subscription: Subscription) -> None:
        """Start delivering to ``subscription`` what its streams had and will have."""
        with self._changed:
            self._subscriptions.append(subscription)
            for stream, kind, record, at_ns in self._history:
                if stream in subscription.types:
                    self._queue(subscription, kind, record, at_ns)
        threading.Thread(target=self._deliver, args=(subscription,), name="telemetry",
                         daemon=True).start()
        self.emit(subscription.announcement,
                  {"name": subscription.extension, "state": "Subscribed",
                   "types": sorted(subscription.types)})

    @property
    def subscribed(self) -> bool:
        return bool(self._subscriptions)

    def flush(self, timeout_s: float) -> None:
        """Send what is buffered now (as Lambda does before a shutdown); wait up to
        ``timeout_s`` until it has been delivered (or dropped)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            for subscription in self._subscriptions:
                if subscription.pending:
                    subscription.first_ns = 0           # due at once
            self._changed.notify_all()
            while any(s.pending or s.sending for s in self._subscriptions):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _queue(self, subscription: Subscription, kind: str, record: object,
               at_ns: int) -> None:
        record = subscription.translate(kind, record)
        if record is None:
            return
        event = json.dumps({"time": wall_time(at_ns), "type": kind, "record": record}).encode()
        if not subscription.pending:
            subscription.first_ns = now_ns()
        subscription.pending.append(event)

    def _due(self, subscription: Subscription) -> float | None:
        """Seconds until the buffered batch is due (0: now); None when nothing is."""
        if not subscription.pending:
            return None
        size = sum(len(e) + 1 for e in subscription.pending)
        if len(subscription.pending) >= subscription.max_items or size >= subscription.max_bytes:
            return 0.0
        waited_ns = now_ns() - subscription.first_ns
        return max(0.0, subscription.timeout_ms / 1000 - waited_ns / 1e9)

    def _deliver(self, subscription: Subscription) -> None:
        while True:
            with self._changed:
                while not self._closed and (due := self._due(subscription)) != 0.0:
                    self._changed.wait(due)
                if self._closed:
                    return
                batch, size = [], 2
                while subscription.pending and len(batch) < subscription.max_items:
                    event = subscription.pending[0]
                    if batch and size + len(event) + 1 > subscription.max_bytes:
                        break
                    batch.append(subscription.pending.pop(0))
                    size += len(event) + 1
                subscription.first_ns = now_ns() if subscription.pending else None
                subscription.sending = True
            delivered = _delivered(subscription, batch)
            with self._changed:
                subscription.sending = False
                if delivered:
                    subscription.delivered += len(batch)
                else:
                    subscription.failed += len(batch)
                self._changed.notify_all()


def _delivered(subscription: Subscription, batch: list[bytes]) -> bool:
    """Whether one batch of events reached the destination; tried again while it refuses
    connections (a listener may bind just after it subscribed). A destination that never
    answers loses the batch, as Lambda drops what it cannot deliver."""
    send = _post if subscription.protocol == "HTTP" else _write
    for _ in range(_RETRIES):
        try:
            send(subscription, batch)
            return True
        except ConnectionRefusedError:
            time.sleep(_RETRY_S)
        except (OSError, http.client.HTTPException):
            return False
    return False


def _post(subscription: Subscription, batch: list[bytes]) -> None:
    """POST a batch as a JSON array (the ``HTTP`` protocol)."""
    connection = http.client.HTTPConnection(subscription.host, subscription.port,
                                            timeout=_DELIVERY_TIMEOUT_S)
    try:
        connection.request("POST", subscription.path, b"[" + b",".join(batch) + b"]",
                           {"Content-Type": "application/json"})
        connection.getresponse().read()
    finally:
        connection.close()


def _write(subscription: Subscription, batch: list[bytes]) -> None:
    """Write a batch as newline-delimited JSON (the Logs API's ``TCP`` protocol)."""
    with socket.create_connection((subscription.host, subscription.port),
                                  timeout=_DELIVERY_TIMEOUT_S) as connection:
        connection.sendall(b"".join(event + b"\n" for event in batch))


# The platform events of one environment, from the instants coldbench clocks phases by
# ("Telemetry API Event schema reference").

def init_events(telemetry: Telemetry, initialization_type: str, start_ns: int,
                runtime_ready_ns: int | None, done_ns: int | None,
                error_type: str | None = None) -> None:
    """platform.initStart, platform.initRuntimeDone and platform.initReport."""
    status = "success" if error_type is None else (
        "timeout" if error_type == "Sandbox.Timedout" else "error")
    base = {"initializationType": initialization_type, "phase": "init"}
    telemetry.emit("platform.initStart", base, start_ns)
    end_ns = done_ns or now_ns()
    done = base | {"status": status} | ({"errorType": error_type} if error_type else {})
    telemetry.emit("platform.initRuntimeDone", done, runtime_ready_ns or end_ns)
    telemetry.emit("platform.initReport", done | {
        "metrics": {"durationMs": round((end_ns - start_ns) / 1e6, 3)}}, end_ns)


def function_lines(telemetry: Telemetry, text: str, stream: str = "function") -> None:
    """What the runtime (or an extension) wrote, one event per line."""
    for line in text.splitlines():
        if line.strip():
            telemetry.emit(stream, line)


def invoke_events(telemetry: Telemetry, request_id: str, sent_ns: int, done_ns: int,
                  produced_bytes: int, error_type: str | None,
                  status: str | None = None) -> None:
    """platform.start and platform.runtimeDone: the function's Duration (and the Logs
    API's platform.end, at the same instant). ``status``: "timeout" or "failure" for an
    invocation the runtime did not answer; else from ``error_type``."""
    status = status or ("success" if error_type is None else "error")
    telemetry.emit("platform.start", {"requestId": request_id, "version": "$LATEST"}, sent_ns)
    telemetry.emit("platform.runtimeDone", {
        "requestId": request_id, "status": status,
        **({"errorType": error_type} if error_type else {}),
        "metrics": {"durationMs": round((done_ns - sent_ns) / 1e6, 3),
                    "producedBytes": produced_bytes}}, done_ns)
    telemetry.emit("platform.end", {"requestId": request_id}, done_ns)


def report_event(telemetry: Telemetry, request_id: str, at_ns: int, duration_ms: float,
                 billed_ms: float, memory_mb: int, max_memory_mb: float | None,
                 init_ms: float | None, error_type: str | None) -> None:
    """platform.report, once the extensions are done with the invocation."""
    metrics = {"durationMs": round(duration_ms, 3), "billedDurationMs": int(billed_ms),
               "memorySizeMB": memory_mb, "maxMemoryUsedMB": int(max_memory_mb or 0)}
    if init_ms is not None:
        metrics["initDurationMs"] = round(init_ms, 3)
    telemetry.emit("platform.report", {
        "requestId": request_id, "status": "success" if error_type is None else "error",
        **({"errorType": error_type} if error_type else {}), "metrics": metrics}, at_ns)
