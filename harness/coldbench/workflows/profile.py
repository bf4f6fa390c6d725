"""One `coldbench profile`: unprofiled and profiled cold samples of each function on the
local target, interleaved (unprofiled, profiled, profiled, unprofiled, ...), every one started the
way `coldbench run` starts a cold sample. A profiled sample differs only by the variables
its runtime's probe adds to the launch (``probes``), so the two kinds compare: their
Init Duration medians give the probe's overhead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

from coldbench import build, targets
from coldbench.build import Artifact
from coldbench.measure.modes import START_FAILURES, Config, Measurement, Plan, to_sample
from coldbench.model import ConfigKey, Invoked
from coldbench.phases import ms_between, now_ns
from coldbench.profile import probes
from coldbench.profile.probes import Capture
from coldbench.profile.tree import Reading, add_extensions, assemble, parts_ms
from coldbench.results.schema import Sample
from coldbench.runtimes.base import Launch
from coldbench.workflows import layers as layered
from coldbench.workflows import options as runner
from coldbench.workflows.profile_document import (DEFAULT_MEMORY_MB, DEFAULT_SAMPLES, EVENT,
                                                  FunctionProfile, ProfiledSample, ProfileRequest,
                                                  run_entry)
from coldbench.signals import sigterm_as_interrupt

__all__ = ["DEFAULT_MEMORY_MB", "DEFAULT_SAMPLES", "FunctionProfile", "ProfiledSample",
           "ProfileRequest", "profile", "profile_run", "run_options"]

def run_options(request: ProfileRequest) -> runner.RunOptions:
    """The request as `coldbench run` options for the local target: checked as a run's are."""
    settings = {"delivery": request.delivery} if request.delivery else {}
    defaulted = {"warm", "provisioned", "api"} | ({"delivery"} if not request.delivery else set())
    options = runner.RunOptions(
        runtimes=request.runtimes, memory=[request.memory_mb], cold=request.samples, warm=0,
        provisioned=0, work=EVENT["work"], timeout_s=request.timeout_s, target="local",
        limits=request.limits, function_dir=request.function_dir, handler=request.handler,
        function_set=request.function_set,
        rebuild=request.rebuild, layers=tuple(request.layers), target_options=settings,
        defaulted=frozenset(defaulted),
        template=request.template, function_names=request.function_names,
        env_vars=request.env_vars, layer_dirs=request.layer_dirs,
        template_memory=request.template_memory)
    return runner.check(options)


class _Probed:
    """A runtime launched with its probe switched on: every attribute is the runtime's,
    and its launch is the runtime's with the probe's variables added."""

    def __init__(self, runtime, variables: Callable[[dict[str, str]], dict[str, str]],
                 folder: Path):
        self._runtime = runtime
        self._variables = variables
        self._folder = folder

    def __getattr__(self, name):
        return getattr(self._runtime, name)

    def installation(self) -> list[Path]:
        # the probes' own files (a preloaded script) are read by the runtime too
        return [*self._runtime.installation(), Path(probes.__file__).parent]

    def writable(self) -> list[Path]:
        """The probe's folder, where the runtime writes what it saw (isolation.Writes)."""
        return [self._folder]

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        launch = self._runtime.launch(task_root, handler, memory_mb)
        return Launch(argv=list(launch.argv), env=launch.env | self._variables(launch.env))


def profile(request: ProfileRequest, on_status: Callable[[str], None] = lambda text: None,
            on_sample: Callable[[], None] = lambda: None) -> list[FunctionProfile]:
    """Take ``request.samples`` unprofiled and as many profiled cold samples of each
    function; a profile per function, kept also when its samples failed."""
    options = run_options(request)
    artifacts = []
    for function in runner.functions(options):
        artifacts.append(build.build(function, rebuild=request.rebuild, on_status=on_status))
    layered.check(artifacts)
    found = [FunctionProfile(a, probes.for_runtime(a.function.runtime).MEANS)
             for a in artifacts]
    plan = Plan(cold=request.samples, warm=0, provisioned=0, event=EVENT)
    with sigterm_as_interrupt():
        target = targets.make("local", options)
        try:
            configs = target.prepare(runner.configurations(options, artifacts), plan)
            for config, result in zip(configs, found):
                if config.memory_mb != request.memory_mb:
                    result.memory_mb = config.memory_mb
            for round_ in range(request.samples):
                for config, result in zip(configs, found):
                    on_status(f"{config.runtime}: cold samples {round_ + 1} of {request.samples}")
                    # which kind goes first alternates (A B B A), so neither is always
                    # the one that follows the other's environment
                    kinds = ("unprofiled", "profiled") if round_ % 2 == 0 else (
                        "profiled", "unprofiled")
                    for kind in kinds:
                        if kind == "unprofiled":
                            result.unprofiled.append(_unprofiled(target, config, plan))
                        else:
                            result.profiled.append(_profiled(target, config, result))
                        on_sample()
        finally:
            target.close()
    return found


def _unprofiled(target, config: Config, plan: Plan) -> tuple[float | None, dict | None]:
    samples = []
    environment = Measurement(target, [config], plan, samples.append).cold(config)
    if environment is not None:
        environment.close()
    return samples[0].init_ms, samples[0].error


def _profiled(target, config: Config, result: FunctionProfile,
              event: dict = EVENT) -> ProfiledSample:
    artifact = config.artifact
    probe = probes.for_runtime(config.artifact.function.runtime)
    folder = Path(tempfile.mkdtemp(prefix="coldbench-profile-"))
    try:
        function = replace(artifact.function, runtime=_Probed(
            artifact.function.runtime, lambda env: probe.variables(folder, env), folder))
        probed = replace(artifact, function=function)
        started = now_ns()
        environment = None
        try:
            environment = target.start(probed, config.memory_mb, provisioned=False)
        except START_FAILURES as exc:
            invoked = Invoked(duration_ms=None, error={
                "type": "Coldbench.StartFailed", "phase": "init",
                "message": f"the runtime could not be started: {exc}"})
        else:
            # a second name for the runtime's output: the environment's folder goes when
            # it closes, which a failed init does at once
            os.link(environment.sandbox.log_path, folder / "output.log")
            invoked = environment.invoke(event)
        sample = to_sample(config, "cold", invoked, ms_between(started, now_ns()))
        exec_ns = environment.sandbox.started_ns if environment is not None else None
        if environment is not None:
            environment.close()
        # with external extensions, init starts before the runtime does: the probe reads
        # the runtime's own init, from its start to its first /next, and the extensions
        # are a part of their own, from what the sample records of them
        runtime_init_ms = (sample.extra.get("runtime_init_ms")
                           if sample.extra.get("extensions") else sample.init_ms)
        reading = _read(probe, folder, artifact, exec_ns,
                        None if sample.init_ms is None else runtime_init_ms)
        add_extensions(reading, sample.extra)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.split, result.how, result.remainder = reading.split, reading.how, reading.remainder
    return ProfiledSample(sample.init_ms, sample.error, parts_ms(reading, sample.init_ms),
                          assemble(reading, sample.init_ms), sample)


def _read(probe, folder: Path, artifact: Artifact, exec_ns: int | None,
          init_ms: float | None) -> Reading:
    if exec_ns is None:
        return Reading(parts={}, items={})
    try:
        log = (folder / "output.log").read_text(errors="replace")
    except OSError:
        log = ""
    end_ns = None if init_ms is None else exec_ns + round(init_ms * 1e6)
    return probe.read(Capture(log=log, folder=folder, exec_ns=exec_ns, end_ns=end_ns,
                              task_root=artifact.task_root, source=artifact.function.source,
                              handler=artifact.function.configured_handler))


def profile_run(target, configs: list[Config], plan: Plan, ordinary: list[Sample],
                record: Callable[[Sample], None], run: dict) -> None:
    """`coldbench run --profile`: after a run's ordinary samples, ``plan.cold`` profiled
    cold samples of each configuration on the same ``target``, interleaved across
    configurations. Each is handed to ``record`` marked ``profiled`` with its own tree;
    ``run["profiles"]`` gets each configuration's profile (overhead against the ordinary
    cold samples in ``ordinary``), also when the profiling is interrupted."""

    found = [FunctionProfile(c.artifact, probes.for_runtime(c.artifact.function.runtime).MEANS) for c in configs]
    try:
        for _ in range(plan.cold):
            for config, result in zip(configs, found):
                taken = _profiled(target, config, result, plan.event)
                result.profiled.append(taken)
                sample = taken.sample
                sample.extra |= {"profiled": True, "profile": {
                    "parts": {part: _rounded(ms) for part, ms in taken.parts.items()},
                    "tree": taken.tree.to_dict()}}
                record(sample)
    finally:
        for config, result in zip(configs, found):
            result.unprofiled = [(s.init_ms, s.error) for s in ordinary
                                 if s.mode == "cold" and not s.profiled and not s.misclassified
                                 and s.key == _key(config)]
        run["profiles"] = [run_entry(result, config)
                           for config, result in zip(configs, found) if result.profiled]


def _key(config: Config) -> ConfigKey:
    return config.key


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
