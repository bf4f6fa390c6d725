"""The AWS target's idle sweep (``--idle``): natural cold starts, without a configuration
change.

Every idle sample has a function of its own (deployed with the others, ``idle_suffixes``),
so that no invocation of another sample resets its idle time and all of them wait at
once: the sweep takes about its longest interval, however many samples it has. A sample
is two invocations: the first (the function's first, a cold start, not kept), then,
``interval`` after the first one ended, the second, which is the sample. Nothing else
touches the function in between: no invocation, no configuration update. Whether Lambda
kept the first environment that long is what the second invocation's REPORT line says
(Init Duration or not) and the function's own ``cold`` flag confirms.

SnapStart configurations take no idle samples: their invocations go to published
versions, whose environments come from snapshots, another question.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Iterator

from coldbench.model import interval_text
from coldbench.targets.aws.copies import Copy, Group
from coldbench.targets.base import Invoked

STOP_POLL_S = 1.0                    # how often a long wait looks whether the run is ending


def idle_suffixes(plan, artifact) -> list[str]:
    """The names' suffixes of a configuration's idle functions, ``plan.idle_samples`` per
    interval in the order of ``plan.idle``: "i5m-1", "i0_5s-2" (none under SnapStart)."""
    if not plan.idle or not plan.idle_samples or getattr(artifact, "snapstart", False):
        return []
    return [f"i{interval_text(interval).replace('.', '_')}-{k}"
            for interval in plan.idle for k in range(1, plan.idle_samples + 1)]


def swept(configs) -> list:
    """The configurations an idle sweep measures (not the SnapStart ones)."""
    return [c for c in configs if not c.artifact.snapstart]


@dataclass
class Slot:
    """One idle sample: a function, its interval, and when its first invocation ended."""

    group: Group
    interval_s: float
    copy: Copy
    left: float = 0.0                     # time.monotonic() at the end of the first invoke


def slots(groups: dict, intervals: list[float], samples: int) -> list[Slot]:
    """The sweep's samples, configuration by configuration, interval by interval."""
    found = []
    for group in groups.values():
        copies = group.copies.get("idle", [])
        for i, interval in enumerate(intervals):
            found += [Slot(group, interval, copy)
                      for copy in copies[i * samples:(i + 1) * samples]]
    return found


def sweep(all_slots: list[Slot], invoke: Callable[[Copy], Invoked], workers: int,
          stop: threading.Event) -> Iterator[tuple[Slot, Invoked]]:
    """Invoke every slot's function, then again once its interval has passed since that
    invocation ended; yields each slot with its second invocation as soon as it ends
    (with ``idle_measured_s``, the idle time as the harness saw it, in its extra). A slot
    whose function failed, or whose first invocation failed, is yielded with that error.
    ``workers`` invocations at a time; KeyboardInterrupt once ``stop`` is set."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="coldbench-idle")
    pending: dict[Future, str] = {}
    due: list[tuple[float, int, Slot]] = []           # a heap, by second invocation's time
    order = itertools.count()

    def first(slot: Slot) -> tuple[Slot, Invoked]:
        result = invoke(slot.copy)
        # idle from the answer on: a request to a function URL then waits for its REPORT
        # line in CloudWatch Logs (``function_urls``), while the environment is idle already
        slot.left = time.monotonic() - result.extra.get("report_wait_ms", 0) / 1000
        return slot, result

    def second(slot: Slot) -> tuple[Slot, Invoked]:
        idle_s = time.monotonic() - slot.left
        result = invoke(slot.copy)
        result.extra["idle_measured_s"] = round(idle_s, 3)
        return slot, result

    try:
        for slot in all_slots:
            if slot.copy.failure is not None:
                yield slot, Invoked(duration_ms=None, error=dict(slot.copy.failure))
            else:
                pending[pool.submit(first, slot)] = "first"
        while pending or due:
            if stop.is_set():
                raise KeyboardInterrupt
            now = time.monotonic()
            while due and due[0][0] <= now:
                pending[pool.submit(second, heapq.heappop(due)[2])] = "second"
            timeout = min(STOP_POLL_S, max(0.0, due[0][0] - now) if due else STOP_POLL_S)
            if not pending:
                stop.wait(timeout)
                continue
            done, _ = wait(list(pending), timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                kind = pending.pop(future)
                slot, result = future.result()
                if kind == "second":
                    yield slot, result
                elif result.error is not None:
                    result.extra.pop("report_cold", None)   # said of the first, not a sample
                    result.error = dict(result.error, message=(
                        "the invocation before the idle interval failed, so nothing was "
                        f"left idle: {result.error.get('message', '')}"))
                    yield slot, result
                else:
                    heapq.heappush(due, (slot.left + slot.interval_s, next(order), slot))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
