"""One `coldbench run`: check the request, build, measure on a target, keep every sample.

Everything that can be refused is refused before anything is built or started, so bad
input leaves nothing half-written.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from coldbench import __version__, build, runtimes, targets
from coldbench.environments import rie
from coldbench.errors import UsageError
from coldbench.measure.modes import Config, Measurement, Plan
from coldbench.results.schema import Results, ResultsWriter, Sample, new_run_id

MEMORY_MIN_MB, MEMORY_MAX_MB = 128, 10240
DEFAULT_MEMORY = (128, 512, 1769)


@dataclass
class RunOptions:
    runtimes: list[str]
    memory: list[int] = field(default_factory=lambda: list(DEFAULT_MEMORY))
    cold: int = 10
    warm: int = 20
    provisioned: int = 6
    work: int = 100
    timeout_s: float = 60.0
    target: str = "local"
    cpu_model: str = "lambda"
    limits: bool = True
    output: Path | None = None
    force: bool = False
    function_dir: Path | None = None
    handler: str | None = None
    rebuild: bool = False
    target_options: dict = field(default_factory=dict)   # options only one target reads

    def plan(self) -> Plan:
        return Plan(cold=self.cold, warm=self.warm, provisioned=self.provisioned,
                    event={"work": self.work})


def parse_runtimes(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(runtimes.RUNTIMES)
    for name in names:
        runtimes.get(name)
    if not names:
        raise UsageError("no runtime given: pass --runtimes all or a list such as python,go")
    return list(dict.fromkeys(names))


def parse_memory(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        try:
            size = int(part)
        except ValueError:
            raise UsageError(f"memory size '{part}' is not a whole number of MB") from None
        if not MEMORY_MIN_MB <= size <= MEMORY_MAX_MB:
            raise UsageError(f"memory size {size} MB is outside Lambda's "
                             f"{MEMORY_MIN_MB}..{MEMORY_MAX_MB} MB")
        sizes.append(size)
    return list(dict.fromkeys(sizes))


def check(options: RunOptions) -> None:
    if min(options.cold, options.warm, options.provisioned) < 0:
        raise UsageError("sample counts (--cold, --warm, --provisioned) cannot be negative")
    if options.cold + options.warm + options.provisioned == 0:
        raise UsageError("nothing to measure: --cold, --warm and --provisioned are all 0")
    if options.timeout_s <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if options.work < 0:
        raise UsageError("--work must be a non-negative number of SHA-256 rounds")
    if options.target not in targets.TARGETS:
        raise UsageError(f"unknown target '{options.target}': choose from "
                         f"{', '.join(targets.TARGETS)}")
    if options.function_dir is not None and len(options.runtimes) != 1:
        raise UsageError("--function needs exactly one --runtime")
    if options.target_options.get("api") == "rie" and options.provisioned:
        raise UsageError(rie.NO_PROVISIONED)


def functions(options: RunOptions) -> list[build.Function]:
    if options.function_dir is not None:
        return [build.Function.user(runtimes.get(options.runtimes[0]), options.function_dir,
                                    options.handler)]
    return [build.Function.builtin(runtimes.get(name)) for name in options.runtimes]


def cpu_model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM ends a run like Ctrl-C does: cleanup runs, results so far stay."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(options: RunOptions, on_sample: Callable[[Sample, int], None] | None = None,
        on_status: Callable[[str], None] | None = None) -> Results:
    """Measure what ``options`` asks for; every sample goes to the results file as it
    finishes. ``on_sample(sample, total)`` and ``on_status(text)`` report progress."""
    status = on_status or (lambda text: None)
    check(options)
    wanted = functions(options)
    writer = ResultsWriter(options.output, run={}, overwrite=options.force)
    artifacts = []
    for function in wanted:
        status(f"building {function.name} ({function.runtime.name})")
        artifacts.append(build.build(function, rebuild=options.rebuild))
    configs = [Config(a, m) for m in options.memory for a in artifacts]
    plan = options.plan()
    with sigterm_as_interrupt():
        target = targets.make(options.target, options)
        try:
            configs = target.prepare(configs, plan)
            writer.results.run.update(run_metadata(options, target, artifacts))
            writer.flush()
            total = plan.total(len(configs))

            def record(sample: Sample) -> None:
                writer.add(sample)
                if on_sample:
                    on_sample(sample, total)

            Measurement(target, configs, plan, record).run()
            writer.results.run["completed"] = True
        finally:
            target.close()
            writer.results.run["ended_at"] = now_iso()
            writer.flush()
    return writer.results


def run_metadata(options: RunOptions, target, artifacts) -> dict:
    return {
        **target.describe(),
        "run_id": new_run_id(),
        "started_at": now_iso(),
        "ended_at": None,           # set however the run ends, interrupted or failed too
        "completed": False,         # True once every planned sample has been measured
        "coldbench_version": __version__,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu_model_name(),
        "cpus": os.cpu_count(),
        "memory_mb": options.memory,
        "plan": {"cold": options.cold, "warm": options.warm,
                 "provisioned": options.provisioned, "event": options.plan().event,
                 "timeout_s": options.timeout_s},
        "runtime_versions": {a.function.runtime.name: a.toolchain for a in artifacts},
        "functions": [{"name": a.function.name, "runtime": a.function.runtime.name,
                       "handler": a.function.handler, "source_digest": a.digest}
                      for a in artifacts],
        "notes": [note for m in options.memory for note in target.notes(m)],
    }
