"""How much of what coldbench reports is coldbench itself.

Run: .venv/bin/python benchmarks/instrument.py [--invocations 500] [--cold 30]

1. The instrument's floor: warm Duration of a runtime that does nothing but the protocol
   (``minimal_runtime.py``: the instrument alone), of the Go function (the fastest real
   runtime client) at ``work 0`` as the harness sees it, and what the caller waits on top
   of it (e2e - Duration); for cold samples, what the caller waits beyond Init Duration and Duration
   (e2e - init - duration: starting the environment, handing the event over).
2. Throughput: cold samples per minute, for the Go and the Python function (a new
   environment started, invoked and closed per sample).
3. A known answer: a Python function that sleeps 300 ms in its init is reported at
   300 ms plus the Python runtime's own init (measured in the same run, interleaved).

Figures vary with the machine; this is a benchmark, not a test: nothing here fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from types import SimpleNamespace
from pathlib import Path

from coldbench.build import Function, build
from coldbench.environments.process import ProcessSandbox
from coldbench.environments.runtime_api import RuntimeApiPlane
from coldbench.phases import now_ns
from coldbench.runtimes import get
from coldbench.analysis.stats import summarize
from coldbench.targets.local.target import LocalTarget

ROOT = Path(__file__).resolve().parents[1]
INIT_SLEEP_MS = 300
MEMORY_MB = 1769


def row(name: str, values: list[float]) -> str:
    s = summarize(values)
    interval = "-" if s.ci_low is None else f"{s.ci_low:.3f}-{s.ci_high:.3f}"  # n < 6: none
    return f"| {name} | {s.n} | {s.p50:.3f} | {s.p90:.3f} | {s.p99:.3f} | {interval} |"


def floor(target: LocalTarget, invocations: int) -> list[str]:
    environment = target.start(build(Function.builtin(get("go"))), MEMORY_MB, provisioned=True)
    environment.invoke({"work": 0})
    durations, overheads = [], []
    for _ in range(invocations):
        started = now_ns()
        invoked = environment.invoke({"work": 0})
        e2e_ms = (now_ns() - started) / 1e6
        durations.append(invoked.duration_ms)
        overheads.append(e2e_ms - invoked.duration_ms)
    environment.close()
    return [row("go warm Duration (work 0)", durations),
            row("go warm e2e - Duration", overheads)]


def instrument_alone(target: LocalTarget, invocations: int) -> str:
    """Warm Duration of a runtime that does nothing but the protocol (minimal_runtime.py,
    on raw sockets): what is left is the instrument itself."""
    plane = RuntimeApiPlane()
    # what it runs: this interpreter, whose files the sandbox shows (as the python runtime's)
    sandbox = ProcessSandbox(target.pool, ROOT / "benchmarks", MEMORY_MB,
                             visible=get("python").installation())
    environment = SimpleNamespace(function_arn="arn:aws:lambda:us-east-1:000000000000:"
                                  "function:coldbench-minimal", sandbox=sandbox,
                                  provisioned=True, timeout_s=30, memory_mb=MEMORY_MB)
    durations = []
    try:
        sandbox.start([sys.executable, "-S", str(ROOT / "benchmarks/minimal_runtime.py")],
                      {"PATH": "/usr/bin:/bin"}, plane.before_exec(environment))
        plane.wait_initialized(environment)
        for i in range(invocations):
            invoked, _ = plane.invoke(environment, {}, first=i == 0)
            durations.append(invoked.duration_ms)
    finally:
        plane.close()
        sandbox.close()
    return row("minimal runtime warm Duration: the instrument alone", durations)


def throughput(target: LocalTarget, runtime: str, count: int) -> tuple[str, list[float]]:
    """Cold samples per minute, and each sample's e2e - init - duration."""
    artifact = build(Function.builtin(get(runtime)))
    overheads = []
    started = time.monotonic()
    for _ in range(count):
        begun = now_ns()
        environment = target.start(artifact, MEMORY_MB, provisioned=False)
        invoked = environment.invoke({"work": 100})
        e2e_ms = (now_ns() - begun) / 1e6
        overheads.append(e2e_ms - invoked.init_ms - invoked.duration_ms)
        environment.close()
    per_minute = count / (time.monotonic() - started) * 60
    return f"| {runtime} | {count} | {per_minute:.0f} |", overheads


def known_answer(target: LocalTarget, count: int) -> list[str]:
    python = get("python")
    plain = build(Function.builtin(python))
    sleeper = build(Function.user(python, ROOT / "tests/fixtures/functions/init_sleep", None))
    inits = {"plain": [], "sleep": []}
    for _ in range(count):   # interleaved, so drift hits both alike
        for name, artifact in (("plain", plain), ("sleep", sleeper)):
            environment = target.start(artifact, MEMORY_MB, provisioned=False)
            inits[name].append(environment.invoke({}).init_ms)
            environment.close()
    baseline = statistics.median(inits["plain"])
    measured = statistics.median(inits["sleep"])
    return [row("python init, plain function", inits["plain"]),
            row(f"python init, function sleeping {INIT_SLEEP_MS} ms", inits["sleep"]),
            f"\nexpected {INIT_SLEEP_MS} + {baseline:.1f} = {INIT_SLEEP_MS + baseline:.1f} ms; "
            f"measured {measured:.1f} ms; difference {measured - INIT_SLEEP_MS - baseline:+.1f} ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=500)
    parser.add_argument("--cold", type=int, default=100)
    args = parser.parse_args()
    target = LocalTarget(timeout_s=60)
    header = "| figure | n | p50 ms | p90 ms | p99 ms | 95% CI of p50 |\n|---|---|---|---|---|---|"
    try:
        print(f"## Instrument floor ({MEMORY_MB} MB)\n\n{header}")
        print("\n".join(floor(target, args.invocations)))
        print(instrument_alone(target, args.invocations))
        print(f"\n## Cold samples per minute ({MEMORY_MB} MB)\n\n"
              "| runtime | samples | per minute |\n|---|---|---|")
        overheads = {}
        for runtime in ("go", "python"):
            line, overheads[runtime] = throughput(target, runtime, args.cold)
            print(line)
        print(f"\n## Cold-sample overhead: e2e - init - duration ({MEMORY_MB} MB)\n\n{header}")
        for runtime, values in overheads.items():
            print(row(f"{runtime} cold e2e - init - duration", values))
        print(f"\n## Known answer: init that sleeps {INIT_SLEEP_MS} ms\n\n{header}")
        print("\n".join(known_answer(target, args.cold)))
    finally:
        target.close()


if __name__ == "__main__":
    main()
