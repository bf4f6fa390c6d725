"""One invocation of a deployed copy: Invoke with the log tail (``LogType=Tail``), retried
only when Lambda certainly did not run it (``client.INVOKE_NOT_SENT``), and Lambda's
REPORT line (``lambda_report``) as an ``Invoked``: Init Duration (or Restore Duration
under SnapStart), Duration and Max Memory Used; every result carries the region it ran in."""

from __future__ import annotations

import base64
import json

from coldbench.phases import ms_between, now_ns
from coldbench.targets.aws import lambda_report as reports
from coldbench.targets.aws.client import (INVOKE_ATTEMPTS, INVOKE_NOT_SENT, Clients, describe,
                                          error_code, invoke_backoff)
from coldbench.targets.aws.copies import Copy
from coldbench.targets.base import Invoked


def invoke(clients: Clients, copy: Copy, event: dict,
           attempts: int = INVOKE_ATTEMPTS) -> tuple[Invoked, bool]:
    """One invocation with the log tail; the sample and whether the environment lives on.
    Throttled or unsent invokes are tried again up to ``attempts`` in all (1: a throttle is
    the sample, as in a burst)."""
    params = dict(FunctionName=copy.function, Payload=json.dumps(event).encode(),
                  LogType="Tail")
    if copy.version is not None:
        params["Qualifier"] = copy.version
    for attempt in range(1, attempts + 1):
        started = now_ns()           # each try is timed on its own
        try:
            response = clients.invoke.invoke(**params)
            payload = response["Payload"].read()
            break
        except Exception as exc:  # noqa: BLE001 - a failed invoke is a sample with an error
            e2e_ms = ms_between(started, now_ns())
            kind = error_code(exc) or type(exc).__name__
            if kind in INVOKE_NOT_SENT and attempt < attempts:
                invoke_backoff(attempt)
                continue
            return Invoked(duration_ms=None, e2e_ms=e2e_ms, extra={"region": clients.region},
                           error={"type": kind, "phase": "invoke",
                                  "message": describe(exc)}), False
    e2e_ms = ms_between(started, now_ns())
    log = base64.b64decode(response.get("LogResult") or "").decode("utf-8", "replace")
    try:
        document = json.loads(payload or b"null")
    except ValueError:
        document = payload.decode("utf-8", "replace")
    extra = {"region": clients.region, "function_name": copy.function,
             "executed_version": response.get("ExecutedVersion")}
    return sample(reports.find(log), document, bool(response.get("FunctionError")), e2e_ms,
                  extra)


def sample(report: reports.Report | None, document, failed: bool, e2e_ms: float,
           extra: dict, missing: str = "the invoke's log tail had no REPORT line",
           ) -> tuple[Invoked, bool]:
    """The sample of an invocation whose REPORT line is ``report`` and answer ``document``
    (``failed``: the function raised, timed out or crashed), and whether its environment
    lives on; ``missing``: the error's message when there is no REPORT."""
    if report is None:
        return Invoked(duration_ms=None, e2e_ms=e2e_ms, response=document, extra=extra,
                       error={"type": "Coldbench.NoReport", "phase": "invoke",
                              "message": missing}), False
    extra |= {"request_id": report.request_id,
              "billed_duration_ms": report.billed_duration_ms,
              "memory_size_mb": report.memory_size_mb,
              "report_cold": report.cold}
    if report.restore_duration_ms is not None:
        extra |= {"restore_ms": report.restore_duration_ms,
                  "billed_restore_ms": report.billed_restore_duration_ms}
    if report.status is not None:
        extra["lambda_status"] = report.status
    result = Invoked(duration_ms=report.duration_ms,
                     init_ms=(report.init_duration_ms if report.init_duration_ms is not None
                              else report.restore_duration_ms),
                     max_memory_mb=float(report.max_memory_used_mb), e2e_ms=e2e_ms,
                     extra=extra)
    if failed:
        body = document if isinstance(document, dict) else {}
        kind = ("Sandbox.Timedout" if report.status == "timeout" else
                report.error_type or body.get("errorType") or "Runtime.Unknown")
        result.error = {"type": kind, "phase": "invoke",
                        "message": str(body.get("errorMessage") or document)[:500]}
    else:
        result.response = document
    # after a timeout or a crash Lambda resets the environment: the next one is new
    return result, report.status is None
