"""Where a cold start is measured: the modes, the order of samples, and the check that
each sample is what its mode says it is. Works with any target (``targets/base.py``).

- cold: every sample a new environment; e2e includes creating it.
- warm: further invocations on the environment of the configuration's last cold sample.
- provisioned: an environment whose init finished before the request was sent (what
  provisioned concurrency buys); its first invocation is measured.
- after idle (``--idle``, targets that keep environments): the second of two invocations
  of one function, the interval apart with no configuration change; cold or warm as the
  platform found it (``workflows.sweeps.idle``), the share of cold ones being the result.

Environments are measured one at a time. Cold and provisioned samples are interleaved
across configurations (A B C A B C ...) so that drift on a busy machine hits every
configuration alike; warm samples of a configuration follow its last cold sample.
"""

from __future__ import annotations

import subprocess
import time
from typing import Callable

from coldbench.model import Config, Environment, Invoked, Plan
from coldbench.phases import billed_ms, ms_between, now_ns
from coldbench.results.schema import Sample
from coldbench.signals import check_interrupted
from coldbench.targets.base import Target

__all__ = ["Config", "EXPECTED_COLD", "Measurement", "Plan", "START_FAILURES", "to_sample"]

# what the function must report as `cold` in each mode
EXPECTED_COLD = {"cold": True, "warm": False, "provisioned": False}

# A provisioned environment is initialised well before its request arrives; give the
# runtime a moment to go idle after init so the request does not race its last start-up work.
PROVISIONED_SETTLE_S = 0.1


def _plus(duration_ms: float | None, more_ms: float | None) -> float | None:
    return duration_ms if duration_ms is None or more_ms is None else duration_ms + more_ms


def to_sample(config: Config, mode: str, invoked: Invoked, e2e_ms: float | None) -> Sample:
    response = invoked.response if isinstance(invoked.response, dict) else {}
    cold = response.get("cold") if isinstance(response.get("cold"), bool) else None
    if invoked.e2e_ms is not None:
        e2e_ms = invoked.e2e_ms
    extra = dict(invoked.extra)
    # Lambda's own word: a REPORT line without Init (or Restore) Duration was served by an
    # environment initialised ahead of the request (proactive initialization), not cold.
    platform_warm = mode == "cold" and extra.get("report_cold") is False
    if config.artifact.function.layers:    # which layers, by name and digest, in order
        extra["layers"] = [layer.describe() for layer in config.artifact.function.layers]
    if mode == "cold" and isinstance(response.get("runtime_version"), str):
        # the runtime's version as the function saw it from inside (functions/README.md)
        extra["runtime_version"] = response["runtime_version"]
    return Sample(
        runtime=config.runtime,
        function=config.artifact.function.name,
        memory_mb=config.memory_mb,
        mode=mode,
        init_ms=invoked.init_ms if mode == "cold" else None,
        duration_ms=invoked.duration_ms,
        e2e_ms=e2e_ms,
        # Lambda bills the invoke phase up to the extensions' next /event/next, their
        # post-runtime time included (AWS Lambda Developer Guide, "Lambda Extensions API")
        billed_ms=billed_ms(_plus(invoked.duration_ms, extra.get("extension_post_runtime_ms")),
                            invoked.init_ms if mode == "cold" else None,
                            extra.get("billed_restore_ms")),
        max_memory_mb=invoked.max_memory_mb,
        cold=cold,
        error=invoked.error,
        misclassified=(invoked.error is None
                       and ((cold is not None and cold != EXPECTED_COLD[mode])
                            or platform_warm)),
        instance_id=response.get("instance_id"),
        invocation=response.get("invocation"),
        variant=config.variant,
        extra=extra,
    )


# What a failed start raises: the system refused (OSError: a container, a process, a
# cgroup join) or a child process failed (SubprocessError). A ColdbenchError (a machine
# that cannot run anything) ends the run instead.
START_FAILURES = (OSError, subprocess.SubprocessError)


def _start_failed(exc: Exception) -> Invoked:
    return Invoked(duration_ms=None, error={"type": "Coldbench.StartFailed", "phase": "init",
                                            "message": f"the runtime could not be started: {exc}"})


class Measurement:
    """Takes the cold, warm and provisioned samples of a plan on one target and hands each
    to ``record``. A plan's burst and idle sweep are ``coldbench.workflows.sweeps``."""

    def __init__(self, target: Target, configs: list[Config], plan: Plan,
                 record: Callable[[Sample], None], cold_only: frozenset = frozenset()):
        self.target = target
        self.configs = configs
        self.plan = plan
        self.record = record
        # configurations measured in the cold rounds only (a run's references)
        self.cold_only = cold_only

    def run(self) -> None:
        plan = self.plan
        full = [c for c in self.configs if c not in self.cold_only]
        for round_ in range(max(plan.cold, plan.provisioned)):
            for config in self.configs:
                if round_ < plan.cold:
                    environment = self.cold(config)
                    if round_ == plan.cold - 1 and plan.warm and config not in self.cold_only:
                        environment = self.warm(config, environment)
                    if environment is not None:
                        environment.close()
                if round_ < plan.provisioned and config not in self.cold_only:
                    self.provisioned(config)
        if plan.cold == 0 and plan.warm:
            for config in full:
                environment = self.warm(config, None)
                if environment is not None:
                    environment.close()

    def cold(self, config: Config) -> Environment | None:
        """One cold sample; returns its environment (alive or not) for warm samples."""
        check_interrupted()                 # a Ctrl-C or SIGTERM whose interrupt was lost
        started = now_ns()
        try:
            environment = self.target.start(config.artifact, config.memory_mb, provisioned=False)
        except START_FAILURES as exc:
            self.record(to_sample(config, "cold", _start_failed(exc), None))
            return None
        invoked = environment.invoke(self.plan.event)
        e2e_ms = ms_between(started, invoked.responded_ns or now_ns())
        self.record(to_sample(config, "cold", invoked, e2e_ms))
        return environment

    def warm(self, config: Config, environment: Environment | None) -> Environment | None:
        """``plan.warm`` warm samples; an environment that dies is replaced by a new one,
        whose first (cold) invocation is recorded as the cold sample it is."""
        for _ in range(self.plan.warm):
            check_interrupted()
            if environment is None or not environment.alive:
                if environment is not None:
                    environment.close()
                environment = self.cold(config)
                if environment is None or not environment.alive:
                    failed = Invoked(duration_ms=None, error={
                        "type": "Coldbench.NoWarmEnvironment", "phase": "init",
                        "message": "no environment survived its cold start to serve warm "
                                   "invocations (see the cold samples' errors)"})
                    self.record(to_sample(config, "warm", failed, None))
                    return environment
            started = now_ns()
            invoked = environment.invoke(self.plan.event)
            e2e_ms = ms_between(started, invoked.responded_ns or now_ns())
            self.record(to_sample(config, "warm", invoked, e2e_ms))
        return environment

    def provisioned(self, config: Config) -> None:
        check_interrupted()
        try:
            environment = self.target.start(config.artifact, config.memory_mb, provisioned=True)
        except START_FAILURES as exc:
            self.record(to_sample(config, "provisioned", _start_failed(exc), None))
            return
        try:
            time.sleep(PROVISIONED_SETTLE_S)
            started = now_ns()
            invoked = environment.invoke(self.plan.event)
            e2e_ms = ms_between(started, invoked.responded_ns or now_ns())
            self.record(to_sample(config, "provisioned", invoked, e2e_ms))
        finally:
            environment.close()
