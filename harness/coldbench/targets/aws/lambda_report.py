"""Lambda's REPORT line: the platform's own figures for one invocation.

Lambda writes one REPORT line at the end of every invocation, to CloudWatch Logs and to
the tail an invoke returns with ``LogType=Tail`` (base64 in ``LogResult``), for example::

    REPORT RequestId: 8f507cfc-...\tDuration: 15.74 ms\tBilled Duration: 147 ms\t
    Memory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms

Fields, as the Lambda Developer Guide defines them ("Working with Lambda function logs",
"Monitoring for Lambda SnapStart"):

- ``Duration``: the invocation phase; ``Billed Duration``: what is billed, in whole ms,
  by the rule ``phases.billed_ms`` (since August 2025 it includes the Init phase of
  on-demand cold starts, so a cold line reads Billed = ceil(Init + Duration));
- ``Init Duration``: only on the invocation that waited for a new environment's init;
- ``Restore Duration`` and ``Billed Restore Duration``: instead of Init Duration, when a
  SnapStart version restored its snapshot (cold start = Restore Duration + Duration);
- ``Status: timeout``, or ``Status: error`` with ``Error Type: Runtime.OutOfMemory`` (and
  other ``Runtime.*`` types), when the platform ended the invocation; absent otherwise.

Fields are separated by tabs in logs and by runs of spaces where a page rendered them.

A function whose log format is JSON (``LoggingConfig.LogFormat``) has the same figures
written as a ``platform.report`` record, one JSON object on its own line, the schema of the
Telemetry API's ``platform.report`` event (Lambda Developer Guide, "Lambda Telemetry API
Event schema reference"; "Configuring JSON and plain text log formats")::

    {"time": "2026-11-30T10:15:02.187Z", "type": "platform.report",
     "record": {"requestId": "8f507cfc-...", "status": "success",
                "metrics": {"durationMs": 15.74, "billedDurationMs": 147, "memorySizeMB": 128,
                            "maxMemoryUsedMB": 56, "initDurationMs": 130.49}}}

with ``restoreDurationMs`` and ``billedRestoreDurationMs`` after a SnapStart restore, and
``status`` "timeout", "error" or "failure" (with ``errorType``) instead of "success".
``find`` reads both formats.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Longer names first: "Billed Restore Duration" must not be read as "Duration".
_FIELD = re.compile(r"(?:^|\s)(Billed Restore Duration|Restore Duration|Billed Duration|"
                    r"Init Duration|Max Memory Used|Memory Size|Duration|RequestId|Status|"
                    r"Error Type): (\S+)")
_REPORT = "REPORT RequestId:"


@dataclass(frozen=True)
class Report:
    """The figures of one REPORT line (milliseconds and megabytes, as Lambda prints them)."""

    request_id: str
    duration_ms: float
    billed_duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None
    restore_duration_ms: float | None = None
    billed_restore_duration_ms: float | None = None
    status: str | None = None        # "timeout" or "error"; None when the invocation ended normally
    error_type: str | None = None    # with status "error", e.g. "Runtime.OutOfMemory"

    @property
    def cold(self) -> bool:
        """The invocation waited for a new environment: it initialised or restored one."""
        return self.init_duration_ms is not None or self.restore_duration_ms is not None

    def line(self) -> str:
        """The line as Lambda writes it (tab-separated; a trailing tab unless a status ends it)."""
        fields = [f"REPORT RequestId: {self.request_id}",
                  f"Duration: {self.duration_ms:.2f} ms",
                  f"Billed Duration: {self.billed_duration_ms:.0f} ms",
                  f"Memory Size: {self.memory_size_mb} MB",
                  f"Max Memory Used: {self.max_memory_used_mb} MB"]
        if self.init_duration_ms is not None:
            fields.append(f"Init Duration: {self.init_duration_ms:.2f} ms")
        if self.restore_duration_ms is not None:
            fields.append(f"Restore Duration: {self.restore_duration_ms:.2f} ms")
            if self.billed_restore_duration_ms is not None:
                fields.append(f"Billed Restore Duration: {self.billed_restore_duration_ms:.0f} ms")
        if self.status is not None:
            fields.append(f"Status: {self.status}")
            if self.error_type is not None:
                fields.append(f"Error Type: {self.error_type}")
            return "\t".join(fields)
        return "\t".join(fields) + "\t"


def parse_line(line: str) -> Report | None:
    """The figures of one REPORT line; None if ``line`` is not one or lacks a required field."""
    start = line.find(_REPORT)
    if start < 0:
        return None
    fields = {name: value for name, value in _FIELD.findall(line[start + len("REPORT "):])}
    try:
        return Report(
            request_id=fields["RequestId"],
            duration_ms=float(fields["Duration"]),
            billed_duration_ms=float(fields["Billed Duration"]),
            memory_size_mb=int(fields["Memory Size"]),
            max_memory_used_mb=int(fields["Max Memory Used"]),
            init_duration_ms=_optional_float(fields.get("Init Duration")),
            restore_duration_ms=_optional_float(fields.get("Restore Duration")),
            billed_restore_duration_ms=_optional_float(fields.get("Billed Restore Duration")),
            status=fields.get("Status"),
            error_type=fields.get("Error Type"),
        )
    except (KeyError, ValueError):
        return None


_RECORD = '"platform.report"'


def parse_record(line: str) -> Report | None:
    """The figures of one JSON-format ``platform.report`` record; None if ``line`` is not
    one or lacks a required field."""
    start = line.find("{")
    if start < 0 or _RECORD not in line:
        return None
    try:
        document = json.loads(line[start:])
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("type") != "platform.report":
        return None
    record = document.get("record")
    try:
        metrics = record["metrics"]
        status = record.get("status")
        return Report(
            request_id=record["requestId"],
            duration_ms=float(metrics["durationMs"]),
            billed_duration_ms=float(metrics["billedDurationMs"]),
            memory_size_mb=int(metrics["memorySizeMB"]),
            max_memory_used_mb=int(metrics["maxMemoryUsedMB"]),
            init_duration_ms=_optional_float(metrics.get("initDurationMs")),
            restore_duration_ms=_optional_float(metrics.get("restoreDurationMs")),
            billed_restore_duration_ms=_optional_float(metrics.get("billedRestoreDurationMs")),
            status=None if status in (None, "success") else status,
            error_type=record.get("errorType"),
        )
    except (KeyError, TypeError, ValueError):
        return None


def find(log: str, request_id: str | None = None) -> Report | None:
    """The last REPORT line or ``platform.report`` record in a log tail (of ``request_id``
    when given)."""
    for line in reversed(log.splitlines()):
        report = parse_line(line) or parse_record(line)
        if report is not None and (request_id is None or report.request_id == request_id):
            return report
    return None


def _optional_float(value: str | float | None) -> float | None:
    return float(value) if value is not None else None
