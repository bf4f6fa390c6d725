"""Reference workloads measured in the same run as the functions, so that a prediction is
made against this machine's speed at the moment of the run, not against the speed it had
when the calibration was made (``analysis/prediction.py``).

- The **hello reference**: the runtime's built-in function (``functions/<runtime>/``),
  measured cold beside the function, interleaved with it like any configuration
  (``reference_functions``). Its init is the runtime's own start-up, whose AWS figure is
  published; the function's init beyond it is the function's own work.
- The **CPU reference**: a fixed amount of work of the kinds init does (``CPU_REFERENCE``),
  in a process of its own, after every cold sample (``cpu_reference_ms``): its wall and CPU
  time, and the start of that process (the process-start reference). The function's own init work is
  counted in units of it: a machine that is twice as fast, or twice as busy, halves or
  doubles both.
"""

from __future__ import annotations

import subprocess
import sys
import time

from coldbench import build
from coldbench.errors import UsageError
from coldbench.runtimes import anchor_of

CPU_REFERENCE = ("in a fresh process (this Python, -S), after every cold sample: compiling "
                 "and running 800 generated functions, a JSON round trip of their results, "
                 "sorting 50,000 strings, SHA-256 over 8 MiB; timed inside it")
SPAWN_REFERENCE = "the same process's start and exit: its wall time less the CPU reference"
# In a process of its own, and work of the kinds init does (compiling and running code,
# building objects, parsing, hashing): CPU time of memory-heavy work grows on a loaded
# machine (caches shared with the load) where a hash alone does not.
_PROGRAM = """
import hashlib, json, time
started, used = time.perf_counter_ns(), time.process_time_ns()
source = "\\n".join(f"def f{i}(a, b=1):\\n    x = [a, b, {i}]\\n    return {{'k': x, 'n': {i}}}"
                     for i in range(800))
space = {}
exec(compile(source, "<reference>", "exec"), space)
data = json.loads(json.dumps([space[f"f{i}"](i) for i in range(800)]))
words = sorted(str(i * 7919 % 10007) for i in range(50000))
digest = hashlib.sha256()
for _ in range(8):
    digest.update(bytes(range(256)) * 4096)
print((time.perf_counter_ns() - started) / 1e6, (time.process_time_ns() - used) / 1e6)
"""


def cpu_reference_ms() -> tuple[float, float, float]:
    """(CPU reference, its CPU time, process-start reference) in ms: what a fixed piece of
    CPU work takes on this machine now, load included, the CPU time it used (load
    excluded), and starting the process that does it."""
    started = time.perf_counter_ns()
    done = subprocess.run([sys.executable, "-S", "-c", _PROGRAM], capture_output=True,
                          text=True, check=True)
    wall = (time.perf_counter_ns() - started) / 1e6
    cpu, used = (float(v) for v in done.stdout.split())
    return cpu, used, wall - cpu


def reference_functions(wanted: list[build.Function],
                        without_layers: bool = False) -> list[build.Function]:
    """The built-in function of each runtime among ``wanted`` that is not measured already
    (as it is, without layers; ``without_layers``: every function is also measured without
    its layers, as ``--layer-overhead`` does): the hello references a run adds so that every
    function has its runtime's beside it (for a runtime anchored on another, that one's:
    ``runtimes.anchor_of``). None for a runtime without a published hello figure or a
    built-in function."""
    found = []
    # per runtime as it runs: a version (python3.13) has its own hello reference, the
    # built-in function on the same toolchain, anchored on the same identifier's figure
    for runtime in {anchor_of(f.runtime).name: anchor_of(f.runtime) for f in wanted}.values():
        if not runtime.aws_init_row:
            continue
        try:
            hello = build.Function.builtin(runtime)
        except UsageError:
            continue
        if not any(f.runtime.name == runtime.name and f.source == hello.source
                   and (without_layers or not f.layers) for f in wanted):
            found.append(hello)
    return found


def is_reference(function: build.Function) -> bool:
    """Whether ``function`` is its runtime's built-in (hello) function."""
    return function.source == build.Function.builtin(function.runtime).source
