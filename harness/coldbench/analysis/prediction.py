"""Calibrating the prediction of AWS's Init Duration (``coldbench.calibration``): ``points``
pair a local results file with an AWS results file (``coldbench calibrate``) or with the
published figures (the default calibration, ``data/calibration-*.json``), and are fitted;
the fit's validation as rows (``render.calibration`` draws them). Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import date

from coldbench.analysis import reference
from coldbench.analysis.reference import AWS_INIT_SOURCE
from coldbench.calibration import (DEFAULT_FILE, KIND, MODEL, USES, VERSION, Calibration, Point,
                                   fit, from_json, leave_one_runtime_out, load,
                                   relative_errors, save, to_json)
from coldbench.errors import UsageError
from coldbench.model import Variant, median
from coldbench.runtimes import RUNTIMES

__all__ = ["DEFAULT_FILE", "KIND", "MODEL", "USES", "VERSION", "Calibration", "Point",
           "fit", "fit_runs", "from_json", "leave_one_runtime_out", "load",
           "points_from_published", "points_from_runs", "published_figures",
           "relative_errors", "save", "to_json", "validation_rows"]

# -- validation ---------------------------------------------------------------------------

def validation_rows(calibration: Calibration) -> list[dict]:
    """Per point: local init, bytes read, AWS, predicted by the fit on all points and by
    the fit without the point's runtime, and both errors (the table of docs/fidelity.md)."""
    rows = []
    for p in calibration.points:
        others = [q for q in calibration.points if q.runtime != p.runtime]
        held_out = fit(others) if len(others) >= 2 else None
        predicted = calibration.predict(p.local_init_ms, p.init_read_mb)
        loo = held_out.predict(p.local_init_ms, p.init_read_mb) if held_out else None
        rows.append({"runtime": p.runtime, "function": p.function, "memory_mb": p.memory_mb,
                     "aws_runtime": p.aws_runtime, "local_init_ms": p.local_init_ms,
                     "init_read_mb": p.init_read_mb, "aws_init_ms": p.aws_init_ms,
                     "predicted_ms": predicted, "error": predicted / p.aws_init_ms - 1,
                     "loo_predicted_ms": loo,
                     "loo_error": None if loo is None else loo / p.aws_init_ms - 1})
    return rows


# -- points from results ------------------------------------------------------------------

def _medians(samples) -> dict[tuple, dict]:
    """Per (function, runtime, memory): median init, median bytes read and n, over valid
    cold samples that have an init."""
    grouped: dict[tuple, list] = {}
    for s in samples:
        if s.mode == "cold" and s.valid and s.init_ms is not None:
            key = (s.function, s.runtime, s.memory_mb, s.variant)
            grouped.setdefault(key, []).append(s)
    return {key: {"init_ms": median(s.init_ms for s in group),
                  "read_mb": (median(s.extra["init_read_mb"] for s in group)
                              if all(s.extra.get("init_read_mb") is not None for s in group)
                              else None),
                  "n": len(group)}
            for key, group in grouped.items()}


def _label(key: tuple) -> str:
    function, runtime, memory, variant = key
    return f"{runtime} {function} {memory} MB" + (f" {variant}" if variant else "")


def points_from_runs(local, aws) -> list[Point]:
    """Points from a local results file and an AWS one (``Results``), matched by function,
    runtime and memory size. UsageError naming what did not match, and for a local run
    whose samples carry no bytes read (not made with --delivery lambda)."""
    if local.run.get("target") == "aws":
        raise UsageError("the first results file is from --target aws: give the local run "
                         "first, then the AWS one")
    if aws.run.get("target") != "aws":
        raise UsageError(f"the second results file is from --target "
                         f"{aws.run.get('target')}, not aws")
    here = _medians(local.samples)
    there = {}
    for (f, r, m, variant), v in _medians(aws.samples).items():
        if (f, r, m, Variant()) in there:
            raise UsageError(f"the AWS run measured {_label((f, r, m, Variant()))} in several "
                             "variants (architectures, SnapStart): calibrate against a run "
                             "of one, x86_64 without SnapStart as the published figures are")
        there[(f, r, m, Variant())] = v
    missing_aws = sorted(set(here) - set(there))
    missing_local = sorted(set(there) - set(here))
    if missing_aws or missing_local:
        lines = []
        if missing_aws:
            lines.append("measured locally but not on AWS: "
                         + ", ".join(_label(k) for k in missing_aws))
        if missing_local:
            lines.append("measured on AWS but not locally: "
                         + ", ".join(_label(k) for k in missing_local))
        raise UsageError("the two runs do not measure the same configurations; "
                         + "; ".join(lines))
    no_reads = [k for k, v in here.items() if v["read_mb"] is None]
    if no_reads:
        raise UsageError("the local run has no bytes read (init_read_mb) for "
                         + ", ".join(_label(k) for k in no_reads)
                         + ": measure it with --delivery lambda")
    runtimes = aws.run.get("lambda_runtimes") or {}
    return [Point(function=k[0], runtime=k[1], memory_mb=k[2],
                  local_init_ms=round(v["init_ms"], 3), init_read_mb=round(v["read_mb"], 3),
                  aws_init_ms=round(there[k]["init_ms"], 3), local_n=v["n"],
                  aws_n=there[k]["n"], aws_runtime=runtimes.get(k[1]))
            for k, v in here.items()]


PUBLISHED_SOURCE = (f"{AWS_INIT_SOURCE}: Init Duration p50 (mean where no p50 is "
                    "published), zip, x86_64, 128 MB")


def published_figures() -> dict[str, tuple[float, str]]:
    """runtime -> (AWS's published Init Duration, the Lambda identifier it is for), for
    the registered runtimes that have a row (``Runtime.aws_init_row``)."""

    found = {}
    for name, runtime in RUNTIMES.items():
        figure = reference.aws_init_ms(name)
        if figure is not None:
            found[name] = (figure[0], runtime.aws_init_row)
    return found


def points_from_published(local, published: dict[str, tuple[float, str]],
                          memory_mb: int = 128) -> list[Point]:
    """Points from a local run of the built-in functions at ``memory_mb`` and the published
    AWS figures, ``runtime -> (ms, Lambda identifier)``."""
    found = []
    for (function, runtime, memory, variant), v in _medians(local.samples).items():
        if memory != memory_mb or runtime not in published or variant:
            continue
        if v["read_mb"] is None:
            raise UsageError(f"the local run has no bytes read for {runtime}: measure it "
                             "with --delivery lambda")
        ms, identifier = published[runtime]
        found.append(Point(function, runtime, memory, round(v["init_ms"], 3),
                           round(v["read_mb"], 3), ms, v["n"], None, identifier))
    if not found:
        raise UsageError(f"the local run has no cold samples of the built-in functions at "
                         f"{memory_mb} MB of a runtime with published AWS figures "
                         f"({', '.join(published)}): measure them with coldbench run "
                         f"--runtimes all --memory {memory_mb} --warm 0 --provisioned 0")
    return found


def fit_runs(points: list[Point], local, aws_source: str) -> Calibration:
    """``fit`` with what the results say: the local run's read limits, its machine and
    command, the AWS side's source, today's date."""
    code_path = local.run.get("code_path") or {}
    plan = local.run.get("plan") or {}
    return fit(points, made=date.today().isoformat(),
               read_mb_per_s=code_path.get("read_mb_per_s"),
               read_iops=code_path.get("read_iops"), aws_source=aws_source,
               local_source=(f"coldbench {local.run.get('coldbench_version', '?')} run "
                             f"{local.run.get('run_id', '?')} on {local.run.get('cpu', '?')} "
                             f"({local.run.get('cpus', '?')} CPUs, kernel "
                             f"{local.run.get('kernel', '?')}), {plan.get('cold', '?')} cold "
                             "samples per configuration, --delivery lambda"))
