"""Each phase of an invocation, defined once, the way Lambda defines it.

All figures are milliseconds as floats, read from one monotonic clock, ``now_ns`` (or, on
AWS, from Lambda's own REPORT line).

- ``init_ms``: the runtime process is spawned -> its first ``GET /runtime/invocation/next``.
  With external extensions, from the first extension's start to the last of the runtime
  and the extensions asking for their next event (AWS: "Lambda Extensions API").
  Lambda's "Init Duration". Only a cold invocation has one. On AWS with SnapStart a new
  environment restores a snapshot instead, and Lambda's "Restore Duration" stands here
  (AWS: SnapStart cold start = Restore Duration + Duration); the sample's ``restore_ms``
  says so.
- ``duration_ms``: the event is handed to the runtime -> its ``/response`` or ``/error``
  has arrived. Lambda's "Duration".
- ``billed_ms``: what Lambda bills for the invocation, its "Billed Duration": the rule is
  ``billed_ms`` below.
- ``e2e_ms``: what the caller waited, from its invoke request to the result, creation of
  the execution environment included for a cold invocation.
- ``max_memory_mb``: measured peak memory of the execution environment (its cgroup), never
  the configured size. Lambda's "Max Memory Used".
- cold start: what a request that lands on a new environment spends inside Lambda,
  ``init_ms + duration_ms`` (Lambda's Init Duration plus Duration). Where a control plane
  folds init into the first invocation's Duration and reports no init of its own, it is
  that Duration.
"""

from __future__ import annotations

import math
import time
from datetime import date

NS_PER_MS = 1_000_000

# Duration is rounded up to the next 1 ms since December 2020, to the next 100 ms before
# (AWS News Blog, "New for AWS Lambda - 1ms Billing Granularity Adds Cost Savings",
# 2020-12-01: "Duration: 27.55 ms  Billed Duration: 28 ms", formerly 100 ms).
MS_GRANULARITY_FROM = date(2020, 12, 1)
# The INIT phase of on-demand invocations is billed, like Duration, since 2025-08-01 (AWS
# Compute Blog, "AWS Lambda standardizes billing for INIT Phase", 2025-04-29). Before, it
# was billed only for custom (OS-only, ``provided.*``) runtimes and container images; ZIP
# functions on managed runtimes had it free.
INIT_BILLED_FROM = date(2025, 8, 1)
OS_ONLY_RUNTIMES = "provided"          # prefix of the Lambda runtime identifiers


def now_ns() -> int:
    """The one clock every phase is read from: monotonic, in nanoseconds."""
    return time.perf_counter_ns()


def ms_between(start_ns: int, end_ns: int) -> float:
    return (end_ns - start_ns) / NS_PER_MS


def init_billed(on: date, lambda_runtime: str | None = None, image: bool = False) -> bool:
    """Whether Lambda bills the INIT phase of an on-demand cold start on day ``on``."""
    return (on >= INIT_BILLED_FROM or image
            or (lambda_runtime or "").startswith(OS_ONLY_RUNTIMES))


def billed_ms(duration_ms: float | None, init_ms: float | None = None,
              billed_restore_ms: float | None = None, *, lambda_runtime: str | None = None,
              image: bool = False, on: date | None = None) -> float | None:
    """Lambda's Billed Duration of one invocation on day ``on`` (default today).

    - Duration plus whatever of the environment's start is billed with it, rounded up to
      the next 1 ms (100 ms before ``MS_GRANULARITY_FROM``).
    - On-demand cold start (``init_ms``): Init Duration is added where ``init_billed``.
    - SnapStart cold start: Billed Restore Duration is added, not Restore Duration ("You
      are not charged for the time it takes to restore a snapshot": Lambda Developer
      Guide, "Monitoring for Lambda SnapStart"); a REPORT line of 2023 reads Duration
      306.34 ms, Billed Restore Duration 303 ms, Billed Duration 610 ms.
    - Provisioned concurrency: its INIT runs when the concurrency is allocated and is paid
      with the allocation (Lambda pricing page), so its invocations have no ``init_ms``
      and are billed their Duration. Warm invocations likewise.
    """
    if duration_ms is None:
        return None
    on = on or date.today()
    started = 0.0
    if billed_restore_ms is not None:
        started = billed_restore_ms
    elif init_ms is not None and init_billed(on, lambda_runtime, image):
        started = init_ms
    step = 1 if on >= MS_GRANULARITY_FROM else 100
    # to the nanosecond first: 100.1 + 0.9 is 101.00000000000001 in floating point
    return float(math.ceil(round(duration_ms + started, 6) / step) * step)


def cold_start_ms(init_ms: float | None, duration_ms: float | None) -> float | None:
    if duration_ms is None:
        return None
    return (init_ms or 0.0) + duration_ms
