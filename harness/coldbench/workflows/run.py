"""One `coldbench run`: check the request, build, measure on a target, keep every sample.

Everything that can be refused is refused before anything is built or started, so bad
input leaves nothing half-written; a run refused later, before its first sample (a target
that is not confirmed, over its cost limit, or fails to prepare), writes no results file
either.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from coldbench import build, targets
from coldbench import calibration as prediction
from coldbench.errors import BuildError, ColdbenchError, MissingToolchain
from coldbench.measure import references
from coldbench.model import (BUILTIN_FUNCTION, DEFAULT_ARCHITECTURE, Config, collect_metadata,
                             now_iso)
from coldbench.model.options import URL_TARGETS
from coldbench.results.schema import Results, ResultsWriter, Sample, new_run_id
from coldbench.runtimes import anchor_of
from coldbench.targets.base import PublishesImages
from coldbench.targets.function_url import UrlTarget
from coldbench.workflows import layers as layered
from coldbench.workflows import sweeps
from coldbench.workflows.options import RunOptions, check, configurations, functions
from coldbench.workflows.profile import profile_run
from coldbench.signals import sigterm_as_interrupt

__all__ = ["predict", "run", "run_metadata", "sigterm_as_interrupt"]


def run(options: RunOptions, on_sample: Callable[[Sample, int], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        versions: dict[str, list[build.Function]] | None = None,
        metadata: dict | None = None) -> Results:
    """Measure what ``options`` asks for; every sample goes to the results file as it
    finishes. ``on_sample(sample, total)`` and ``on_status(text)`` report progress.

    ``versions`` (`coldbench ab`, ``workflows/ab.py``): instead of the functions ``options``
    names, these, by version label ("base", "head"), each version the same functions in
    the same order; every configuration is measured in each version, side by side, so the
    interleaving (``Measurement``) alternates the versions: A B A B. ``metadata`` is added
    to the run's."""
    status = on_status or (lambda text: None)
    started = {"run_id": new_run_id(), "started_at": now_iso()}    # before build and deploy
    options = check(options)
    if options.calibration is None:
        # the anchored model reads what the local target counts per cold sample (CPU time,
        # the CPU reference); elsewhere the shipped two-parameter calibration predicts
        options = replace(options, calibration=prediction.load_anchored()
                          if options.target == "local" else prediction.load())
    anchored = isinstance(options.calibration, prediction.AnchoredModel)
    wanted = versions or {None: functions(options)}
    # the hello references of the anchored prediction: measured cold, interleaved with the
    # functions, kept in the run's prediction metadata rather than among its samples
    added = (references.reference_functions([f for found in wanted.values() for f in found],
                                            options.layer_overhead)
             if anchored and options.target == "local" else [])
    writer = ResultsWriter(options.output, run=dict(started), overwrite=options.force)
    built = {version: build.build_all(found, rebuild=options.rebuild, on_status=status)
             for version, found in wanted.items()}
    artifacts = [(version, a) for version, found in built.items() for a in found]
    layered.check([a for _, a in artifacts])
    own = {f.runtime.name for found in wanted.values() for f in found}
    hello = build.build_all([f for f in added if f.runtime.name in own],
                            rebuild=options.rebuild, on_status=status)
    for reference in [f for f in added if f.runtime.name not in own]:
        # another runtime's hello function, the anchor of an OS-only runtime's functions
        # (Runtime.anchored_on): without its toolchain here they are measured, not predicted
        try:
            hello += build.build_all([reference], rebuild=options.rebuild, on_status=status)
        except (BuildError, MissingToolchain) as exc:
            options = options.adjusted(
                f"no Predicted AWS Init for {', '.join(sorted(own))}: its reference, "
                f"{reference.runtime.name}'s hello function, could not be built here "
                f"({str(exc).splitlines()[0]})")
    # each function with its layers (with --layer-overhead, each prefix of them), at its
    # memory sizes (a template's at its own), the versions side by side
    per_version = {version: configurations(options, found) for version, found in built.items()}
    configs = [replace(c, variant=c.variant.but(version=version))
               for side_by_side in zip(*per_version.values())
               for version, base in zip(per_version, side_by_side)
               for c in layered.configs([base.artifact], [base.memory_mb],
                                        options.layer_overhead)]
    # the hello references first, at the run's memory sizes, without layers
    configs = [Config(a, m) for m in options.memory for a in hello] + configs
    plan = options.plan()
    with sigterm_as_interrupt():
        target = targets.make(options.target, options)
        if options.via == "url" and options.target in URL_TARGETS:   # AWS has its own URLs
            target = UrlTarget(target, options.timeout_s)
        try:
            configs = target.prepare(configs, plan)
            reference_configs = frozenset(c for c in configs if c.artifact in hello)
            own_configs = [c for c in configs if c not in reference_configs]
            writer.results.run.update(run_metadata(options, target, artifacts, **started)
                                      | (metadata or {}))
            total = (plan.total(len(own_configs)) + plan.cold * len(reference_configs)
                     + (plan.cold * len(own_configs) if options.profile else 0))
            reference_samples: list[Sample] = []
            reference_runtimes = {f.runtime.name for f in added}

            def record(sample: Sample) -> None:
                if sample.profiled:          # a profiled Init Duration predicts nothing
                    pass
                elif anchored:               # predicted once the run has its references
                    if sample.mode == "cold" and options.target == "local":
                        cpu, used, spawn = references.cpu_reference_ms()
                        sample.extra["cpu_reference_ms"] = round(cpu, 3)
                        sample.extra["cpu_reference_cpu_ms"] = round(used, 3)
                        sample.extra["spawn_reference_ms"] = round(spawn, 3)
                else:
                    predict(sample, options.calibration)
                if (not sample.profiled and sample.function == BUILTIN_FUNCTION
                        and sample.runtime in reference_runtimes
                        # through a function URL too (--via url): its init is the same
                        and not sample.variant.but(via=None)):
                    reference_samples.append(sample)
                else:
                    writer.add(sample)
                if on_sample:
                    on_sample(sample, total)

            sweeps.measure(target, configs, plan, record, cold_only=reference_configs)
            if anchored:
                writer.results.run["prediction"] = predict_anchored(
                    writer.results.samples, reference_samples, options.calibration,
                    [a for _, a in artifacts] + hello,
                    options.target_options.get("architectures") or DEFAULT_ARCHITECTURE)
                writer.refresh()
            if options.profile:              # after the ordinary samples, kept apart
                profile_run(target, own_configs, plan, writer.results.samples, record,
                            writer.results.run)
            writer.results.run["completed"] = True
        except ColdbenchError:
            if not writer.results.samples:     # refused before measuring: nothing to keep
                writer.abandon()
            raise
        finally:
            try:
                target.close()
            finally:
                writer.results.run["ended_at"] = now_iso()
                writer.close()
    return writer.results


def predict(sample: Sample, calibration: prediction.Calibration) -> None:
    """Add what AWS would report as the Init Duration of a cold sample, and the stated
    error of that prediction, where the sample says what init read from its code path."""
    if sample.mode != "cold":
        return
    predicted = calibration.predict(sample.init_ms, sample.extra.get("init_read_mb"))
    if predicted is not None:
        sample.extra["predicted_aws_init_ms"] = round(predicted, 3)
        if calibration.error_pct is not None:
            sample.extra["prediction_error_pct"] = round(calibration.error_pct, 1)


def predict_anchored(samples: list[Sample], reference_samples: list[Sample],
                     model: prediction.AnchoredModel, artifacts,
                     architecture: str = DEFAULT_ARCHITECTURE) -> dict:
    """Add to each cold sample what AWS would report as its Init Duration, by the anchored
    model against the references measured in this run (``reference_samples``: the hello
    functions measured for it alone), for Lambda on ``architecture``; what was used, for
    the results."""
    aws_hello, anchored_on = {}, {}
    for artifact in artifacts:
        runtime = artifact.function.runtime
        anchor = anchor_of(runtime)
        figure = (prediction.hello_init_ms(anchor.aws_init_row, architecture)
                  if anchor.aws_init_row else None)
        if figure is not None:
            aws_hello[runtime.name] = figure[0]
            if anchor.name != runtime.name:
                anchored_on[runtime.name] = anchor.name
    ordinary = [s for s in samples if not s.profiled]   # a profiled init predicts nothing
    predicted = prediction.anchored_predictions(ordinary + reference_samples, model, aws_hello,
                                                anchored_on=anchored_on)
    for sample, value in zip(ordinary, predicted):
        if value is not None:
            sample.extra["predicted_aws_init_ms"] = round(value, 3)
            if model.error_pct is not None:
                sample.extra["prediction_error_pct"] = round(model.error_pct, 1)
    measured = prediction.reference_medians(ordinary + reference_samples)
    return {"model": prediction.ANCHORED_MODEL,
            "hello_reference": {f"{runtime} {memory} MB": {k: round(v, 3) for k, v in m.items()}
                                for (runtime, memory), m in measured["hello"].items()},
            # the hello functions measured for the prediction alone, each cold sample
            "reference_samples": [
                {"runtime": s.runtime, "memory_mb": s.memory_mb, "init_ms": s.init_ms,
                 "init_cpu_ms": prediction.init_cpu_ms(s),
                 "init_read_mb": s.extra.get("init_read_mb"),
                 "cpu_reference_ms": s.extra.get("cpu_reference_ms"),
                 "cpu_reference_cpu_ms": s.extra.get("cpu_reference_cpu_ms"),
                 "error": s.error} for s in reference_samples],
            "cpu_reference": references.CPU_REFERENCE,
            "spawn_reference": references.SPAWN_REFERENCE,
            "cpu_reference_ms": _round3(measured["cpu_reference_ms"]),
            "cpu_reference_cpu_ms": _round3(measured["cpu_reference_cpu_ms"]),
            "aws_hello_ms": aws_hello, "aws_hello_source": prediction.PUBLISHED_SOURCE,
            # runtime -> the runtime whose hello function and figure it is anchored on
            "anchored_on": anchored_on,
            "architecture": architecture}


def _round3(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def run_metadata(options: RunOptions, target, artifacts, run_id: str | None = None,
                 started_at: str | None = None) -> dict:
    """What the results file says about the run; ``run`` passes the ``run_id`` and
    ``started_at`` it took when the run started, before anything was built or deployed.
    ``artifacts``: (version, artifact) pairs, the version None outside `coldbench ab`."""
    return {
        # the Lambda runtime each runtime ran as (a language's name: the documented row's
        # version); the AWS target says what it deployed instead
        "lambda_runtimes": {a.function.runtime.name: a.function.runtime.lambda_runtime
                            for _, a in artifacts},
        **target.describe(),
        **(target.published_images() if isinstance(target, PublishesImages) else {}),
        "run_id": run_id or new_run_id(),
        "started_at": started_at or now_iso(),
        "ended_at": None,           # set however the run ends, interrupted or failed too
        "completed": False,         # True once every planned sample has been measured
        **collect_metadata(),
        "memory_mb": options.memory,
        "plan": {"cold": options.cold, "warm": options.warm,
                 "provisioned": options.provisioned, "event": options.plan().event,
                 "timeout_s": options.timeout_s,
                 **({"idle": list(options.idle), "idle_samples": options.idle_samples}
                    if options.idle else {})},
        "runtime_versions": {a.function.runtime.name: a.toolchain for _, a in artifacts},
        "functions": [{"name": a.function.name, "runtime": a.function.runtime.name,
                       "handler": a.function.handler, "source_digest": a.digest,
                       **({"version": version} if version is not None else {}),
                       **({"layers": [layer.describe() for layer in a.function.layers]}
                          if a.function.layers else {}),
                       **configuration_of(a.function),
                       # how the build was made (Python's --python-bytecode): the local
                       # and docker targets run the build; the AWS target deploys its own
                       **(a.function.runtime.build_settings()
                          if options.target in URL_TARGETS else {})}
                      for version, a in artifacts],
        **({"layer_overhead": True} if options.layer_overhead else {}),
        **({"template": str(options.template)} if options.template is not None else {}),
        "notes": [*options.notes, *(note for m in options.memory for note in target.notes(m))],
        **({"calibration": options.calibration.describe()} if options.calibration else {}),
    }


def configuration_of(function: build.Function) -> dict:
    """What a function's definition set (``--template``), for the results: {} if nothing."""
    configuration = function.configuration
    if configuration == build.FunctionConfiguration():
        return {}
    return {"configuration": {
        "lambda_runtime": configuration.lambda_runtime, "memory_mb": configuration.memory_mb,
        "timeout_s": configuration.timeout_s, "architecture": configuration.architecture,
        # names only: values may be secrets given with --env-vars
        "variables": [name for name, _ in configuration.environment],
        "layers": [str(layer) for layer in configuration.layers]}}
