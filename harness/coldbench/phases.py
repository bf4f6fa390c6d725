"""Each phase of an invocation, defined once, the way Lambda defines it.

All figures are milliseconds as floats, read from the monotonic clock of
``runtime_api.now_ns`` (or, on AWS, from Lambda's own REPORT line).

- ``init_ms``: the runtime process is spawned -> its first ``GET /runtime/invocation/next``.
  Lambda's "Init Duration". Only a cold invocation has one. On AWS with SnapStart a new
  environment restores a snapshot instead, and Lambda's "Restore Duration" stands here
  (AWS: SnapStart cold start = Restore Duration + Duration); the sample's ``restore_ms``
  says so.
- ``duration_ms``: the event is handed to the runtime -> its ``/response`` or ``/error``
  has arrived. Lambda's "Duration".
- ``billed_ms``: ``duration_ms`` rounded up to the next whole millisecond, as Lambda bills
  invocations since December 2020.
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

NS_PER_MS = 1_000_000


def ms_between(start_ns: int, end_ns: int) -> float:
    return (end_ns - start_ns) / NS_PER_MS


def billed_ms(duration_ms: float) -> float:
    return float(math.ceil(duration_ms))


def cold_start_ms(init_ms: float | None, duration_ms: float | None) -> float | None:
    if duration_ms is None:
        return None
    return (init_ms or 0.0) + duration_ms
