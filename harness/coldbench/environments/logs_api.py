"""The Lambda Logs API (version 2020-08-15) of coldbench's Runtime API server, which
extensions written before the Telemetry API still use.

What Lambda does, and so what this does (AWS Lambda Developer Guide, "Lambda Logs API"):

- An extension subscribes with ``PUT /2020-08-15/logs`` and its
  ``Lambda-Extension-Identifier``: the streams it wants (``types``: ``platform``,
  ``function``, ``extension``), buffering (``maxItems`` 1,000-10,000, ``maxBytes``
  262,144-1,048,576, ``timeoutMs`` 25-30,000; defaults 10,000, 262,144 and 1,000) and a
  destination in the environment: ``HTTP`` (a JSON array of records per request) or ``TCP``
  (newline-delimited JSON). Success is ``200 "OK"``; a bad request is a 400
  ``Logs.ValidationError``. A duplicate subscription is no second one; an extension that
  subscribed with one of the Logs and Telemetry APIs cannot subscribe with the other.
- Records are ``{"time", "type", "record"}``: ``function`` and ``extension`` lines;
  ``platform.start`` and ``platform.end`` (``{"requestId"}``), ``platform.report``
  (``{"requestId", "metrics"}``: durationMs, billedDurationMs, memorySizeMB,
  maxMemoryUsedMB, and initDurationMs after a cold start), ``platform.extension`` and
  ``platform.logsSubscription``; ``platform.fault`` (a line: "RequestId: ID Process
  exited before completing request") when the runtime ends during an invocation; with
  ``schemaVersion`` "2021-03-18" also
  ``platform.runtimeDone`` (``{"requestId", "status"}``: success, failure or timeout).
  The Telemetry API's init events have no counterpart here.

The events are the environment's Telemetry API events (``telemetry.py``), with the same
instants, each put into the Logs API's shape.
"""

from __future__ import annotations

from coldbench.environments import telemetry as telemetry_api

API_VERSION = "2020-08-15"
PATH = f"/{API_VERSION}/logs"
SCHEMAS = ("2020-08-15", "2021-03-18")
VALIDATION_ERROR = "Logs.ValidationError"
PROTOCOLS = ("HTTP", "TCP")
_RUNTIME_DONE_STATUS = {"success": "success", "error": "failure", "failure": "failure",
                        "timeout": "timeout"}


def _record(kind: str, record: object, schema: str) -> object | None:
    """A Telemetry API event's record as the Logs API of ``schema`` delivers it (None:
    the Logs API has no such record)."""
    if kind in ("function", "extension", "platform.extension", "platform.logsSubscription",
                "platform.end", "platform.fault"):
        return record
    if kind == "platform.start":
        return {"requestId": record["requestId"]}
    if kind == "platform.report":
        return {"requestId": record["requestId"], "metrics": record["metrics"]}
    if kind == "platform.runtimeDone" and schema == "2021-03-18":
        status = "timeout" if record.get("errorType") == "Sandbox.Timedout" else record["status"]
        return {"requestId": record["requestId"],
                "status": _RUNTIME_DONE_STATUS.get(status, "failure")}
    return None


def parse_subscription(extension: str, request: dict) -> telemetry_api.Subscription:
    """A ``PUT /logs`` request (``telemetry.read_request``) as a subscription;
    ``telemetry.SubscriptionError`` names what is wrong (answered as a
    ``Logs.ValidationError``)."""
    subscription = telemetry_api.parse_subscription(extension, request, PROTOCOLS)
    schema = request.get("schemaVersion") or API_VERSION
    if schema not in SCHEMAS:
        raise telemetry_api.SubscriptionError(f"schemaVersion must be {' or '.join(SCHEMAS)}")
    subscription.translate = lambda kind, record: _record(kind, record, schema)
    subscription.announcement = "platform.logsSubscription"
    return subscription
