"""Reference workloads measured in the same run as the functions, so that a prediction is
made against this machine's speed at the moment of the run, not against the speed it had
when the calibration was made (``analysis/prediction.py``).

- The **hello reference**: the runtime's built-in function (``functions/<runtime>/``),
  measured cold beside the function, interleaved with it like any configuration
  (``reference_functions``). Its init is the runtime's own start-up, whose AWS figure is
  published; the function's init beyond it is the function's own work.
- The **CPU reference**: a fixed amount of CPU work (SHA-256 over 48 MiB, in a process of
  its own), timed after every cold sample (``cpu_reference_ms``), and the start of that
  process (the process-start reference). The function's own init work is
  counted in units of it: a machine that is twice as fast, or twice as busy, halves or
  doubles both.
"""

from __future__ import annotations

import subprocess
import sys
import time

from coldbench import build, runtimes

CPU_REFERENCE = ("SHA-256 over 48 MiB in a fresh process (this Python, -S), timed inside it, "
                 "after every cold sample")
SPAWN_REFERENCE = "the same process's start and exit: its wall time less the CPU reference"
# In a process of its own, long enough (about 50 ms here unloaded) to be scheduled as a
# runtime's init is: a short burst in a process that was sleeping runs ahead of busy
# processes and would not see the load the function's init sees.
_PROGRAM = """
import hashlib, time
block = bytes(range(256)) * 4096
started = time.perf_counter_ns()
digest = hashlib.sha256()
for _ in range(48):
    digest.update(block)
digest.digest()
print((time.perf_counter_ns() - started) / 1e6)
"""


def cpu_reference_ms() -> tuple[float, float]:
    """(CPU reference, process-start reference) in ms: what a fixed piece of CPU work, and
    starting the process that does it, take on this machine now, load included."""
    started = time.perf_counter_ns()
    done = subprocess.run([sys.executable, "-S", "-c", _PROGRAM], capture_output=True,
                          text=True, check=True)
    wall = (time.perf_counter_ns() - started) / 1e6
    cpu = float(done.stdout.strip())
    return cpu, wall - cpu


def reference_functions(wanted: list[build.Function]) -> list[build.Function]:
    """The built-in function of each runtime among ``wanted`` that is not measured already:
    the hello references a run adds so that every function has its runtime's beside it."""
    found = []
    for name in dict.fromkeys(f.runtime.name for f in wanted):
        hello = build.Function.builtin(runtimes.get(name))
        if not any(f.source == hello.source for f in wanted):
            found.append(hello)
    return found


def is_reference(function: build.Function) -> bool:
    """Whether ``function`` is its runtime's built-in (hello) function."""
    return function.source == build.Function.builtin(function.runtime).source
