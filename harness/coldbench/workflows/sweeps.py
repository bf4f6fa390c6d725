"""The sweeps after a plan's cold, warm and provisioned samples: a burst (``coldbench run
--burst N``, targets that ``Bursts``) and the idle sweep (``--idle 5m,15m,30m,60m``,
targets that ``SweepsIdle``), and how idle intervals are read. ``measure`` takes every
sample of a plan: the modes (``coldbench.measure.modes``), then these.

An idle sample is the second of two invocations of one function with nothing in between
(no invocation, no configuration change) for the interval: cold if the platform started
an environment for it, warm if the first invocation's environment was still there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from coldbench.errors import UsageError
from coldbench.measure.modes import Measurement, to_sample
from coldbench.model import Config, Invoked, Plan
from coldbench.model.intervals import LONGEST_S, interval_text, parse_interval
from coldbench.results.schema import Sample
from coldbench.targets.base import Bursts, SweepsIdle, Target

__all__ = ["LONGEST_S", "burst", "idle", "interval_text", "measure", "parse_intervals"]


def measure(target: Target, configs: list[Config], plan: Plan,
            record: Callable[[Sample], None], cold_only: frozenset = frozenset()) -> None:
    """Every sample of ``plan``: the modes, then the burst and the idle sweep, where the
    plan has them (refused before for a target that cannot: ``workflows.options.check``).
    ``cold_only``: configurations measured in the cold rounds alone (a run's references),
    in no sweep."""
    Measurement(target, configs, plan, record, cold_only=cold_only).run()
    full = [c for c in configs if c not in cold_only]
    if plan.burst:
        if not isinstance(target, Bursts):
            raise UsageError(f"--burst: the {target.name} target takes no bursts")
        for config in full:
            burst(target, config, plan, record)
    if plan.idle and plan.idle_samples:
        if not isinstance(target, SweepsIdle):
            raise UsageError(f"--idle: the {target.name} target takes no idle sweeps")
        idle(target, full, plan, record)


def parse_intervals(text: str) -> tuple[float, ...]:
    """'5m,15m,1h' -> (300.0, 900.0, 3600.0): whole or decimal numbers with s, m or h,
    each above zero and at most a day; UsageError otherwise."""
    intervals = []
    for part in (p.strip() for p in text.split(",")):
        seconds = parse_interval(part)
        if seconds is None:
            raise UsageError(f"--idle: '{part}' is not a duration: write a number with s, m "
                             "or h, e.g. --idle 30s,5m,1h")
        if seconds <= 0:
            raise UsageError(f"--idle: {part} is no interval: each must be above zero")
        if seconds > LONGEST_S:
            raise UsageError(f"--idle: {part} is longer than a day, the longest interval "
                             "coldbench waits")
        intervals.append(seconds)
    return tuple(sorted(dict.fromkeys(intervals)))


def idle(target: SweepsIdle, configs: list[Config], plan: Plan,
         record: Callable[[Sample], None]) -> None:
    """The idle sweep, every configuration and interval at once (``SweepsIdle.idle``): each
    second invocation after an interval is a sample of a configuration of its own (its
    variant ends "idle 5m"), in the mode it turned out to be: cold where the platform
    says an environment was started for it (Lambda's REPORT: Init Duration), or, where
    it says nothing, the function does; warm otherwise. The function's flag is checked
    against that mode as for any sample.

    A failed sample that says neither (no REPORT, no flag) has no mode of its own: it is
    filed in the mode of the first sample of its configuration and interval that did not
    fail, held
    until one comes (failures tend to come first: a function that failed to deploy, a
    first invocation that failed), and as cold if none comes. So failures count against
    the mode that was measured, and never make a mode of their own with no valid sample
    (a "warm: no valid sample" beside all-cold samples)."""
    modes: dict[Config, str] = {}             # by idle configuration: its first mode
    held: dict[Config, list[Invoked]] = {}    # failures waiting for that mode
    try:
        for config, idle_s, invoked in target.idle(configs, list(plan.idle), plan.idle_samples,
                                                    plan.event):
            invoked.extra["idle_s"] = idle_s
            said = invoked.extra.get("report_cold")
            if said is None and isinstance(invoked.response, dict):
                said = invoked.response.get("cold")
            taken = replace(config, variant=config.variant.but(idle_s=idle_s))
            if said is None and invoked.error is not None:
                if taken in modes:
                    record(to_sample(taken, modes[taken], invoked, None))
                else:
                    held.setdefault(taken, []).append(invoked)
                continue
            mode = "cold" if said is True else "warm"
            if invoked.error is None and taken not in modes:
                modes[taken] = mode
                for failed in held.pop(taken, []):
                    record(to_sample(taken, mode, failed, None))
            record(to_sample(taken, mode, invoked, None))
    finally:
        for taken, failures in held.items():
            for failed in failures:
                record(to_sample(taken, "cold", failed, None))


def burst(target: Bursts, config: Config, plan: Plan, record: Callable[[Sample], None]) -> None:
    """``plan.burst`` cold samples started at once: a configuration of their own (its
    variant says "burst N"), beside the sequential cold samples."""
    count = plan.burst
    taken = replace(config, variant=config.variant.but(burst=count))
    for invoked, e2e_ms in target.burst(config.artifact, config.memory_mb, count, plan.event):
        invoked.extra["burst"] = count
        record(to_sample(taken, "cold", invoked, e2e_ms))
