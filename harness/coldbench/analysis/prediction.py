"""Calibrating the prediction of AWS's Init Duration (``coldbench.calibration``): ``points``
pair a local results file with an AWS results file (``coldbench calibrate``) or with the
published figures (the default calibration, ``data/calibration-*.json``), and are fitted;
the fit's validation as rows (``render.calibration`` draws them).

The anchored model a run predicts with (``coldbench.calibration.AnchoredModel``) is fitted
here too (``fit_anchored``) on the validation set (``data/validation-*.csv``: functions
whose AWS Init Duration is published, ``case_from_run`` measures each), with each case's
out-of-fit error (``anchored_rows``) and the stated error they give. Pure functions, no
I/O, except reading the validation set shipped with coldbench.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from datetime import date

from coldbench.analysis import reference
from coldbench.calibration import (ANCHORED_FILE, ANCHORED_MODEL, ANCHORED_USES,
                                   ANCHORED_VERSION, DEFAULT_FILE, ERROR_QUANTILE, KIND, MODEL,
                                   PUBLISHED_SOURCE, USES, VERSION, AnchoredModel, Calibration,
                                   Case, Point, anchored_from_json, anchored_predictions,
                                   anchored_to_json, data_rows, fit, from_json, hello_init_ms,
                                   init_cpu_ms, leave_one_runtime_out, load, load_anchored,
                                   reference_medians, relative_errors, save, save_anchored,
                                   to_json)
from coldbench.errors import UsageError
from coldbench.model import Variant, median
from coldbench.model.options import DEFAULT_PYTHON_BYTECODE
from coldbench.runtimes import RUNTIMES, find

__all__ = ["ANCHORED_FILE", "ANCHORED_MODEL", "ANCHORED_USES", "ANCHORED_VERSION",
           "ANCHOR_USE", "CASE_ANCHOR", "DEFAULT_FILE", "ERROR_QUANTILE", "KIND", "MODEL",
           "PUBLISHED_SOURCE", "USES", "VALIDATION_FILE", "VERSION", "AnchoredModel",
           "Calibration", "Case", "Point", "anchor_figure", "anchored_from_json",
           "anchored_predictions", "anchored_rows", "anchored_to_json", "case_from_run",
           "error_figures", "fit", "fit_anchored", "fit_runs", "from_json", "init_cpu_ms",
           "leave_one_runtime_out", "load", "load_anchored", "points_from_published",
           "points_from_runs", "published_figures", "reference_medians", "relative_errors",
           "replace_case", "save", "save_anchored", "stated_error_pct", "to_json",
           "validation_rows", "validation_set"]

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


# -- the anchored model: its fit and the out-of-fit errors ---------------------------------

def _quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, linear between order statistics."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _nonnegative_least_squares(rows: list[tuple[float, float]], targets: list[float]
                               ) -> tuple[float, float]:
    """(a, b) >= 0 minimising sum((a x1 + b x2 - t)^2) over rows (x1, x2) and targets t."""
    s11 = sum(a * a for a, _ in rows)
    s12 = sum(a * b for a, b in rows)
    s22 = sum(b * b for _, b in rows)
    t1 = sum(a * t for (a, _), t in zip(rows, targets))
    t2 = sum(b * t for (_, b), t in zip(rows, targets))
    candidates = [(0.0, 0.0)]
    if s11 > 0:
        candidates.append((max(t1 / s11, 0.0), 0.0))
    if s22 > 0:
        candidates.append((0.0, max(t2 / s22, 0.0)))
    determinant = s11 * s22 - s12 * s12
    if determinant > 1e-12 * max(s11 * s22, 1e-30):
        a, b = (t1 * s22 - t2 * s12) / determinant, (s11 * t2 - s12 * t1) / determinant
        if a >= 0 and b >= 0:
            candidates.append((a, b))

    def loss(ab):
        return sum((ab[0] * x1 + ab[1] * x2 - t) ** 2 for (x1, x2), t in zip(rows, targets))
    return min(candidates, key=loss)


def fit_anchored(cases, **settings) -> AnchoredModel:
    """The two shared parameters that minimise the squared relative error over the cases
    marked in_fit, and the stated error of the model they make (``stated_error_pct``);
    UsageError with fewer than two."""
    model = _fit_parameters(cases, **settings)
    return replace(model, error_pct=stated_error_pct(model))


def _fit_parameters(cases, **settings) -> AnchoredModel:
    """``fit_anchored`` without the stated error (each leave-one-out fit needs none)."""
    cases = tuple(cases)
    fitted = [c for c in cases if c.in_fit]
    if len(fitted) < 2:
        raise UsageError(f"the anchored model needs at least two cases in the fit; got "
                         f"{len(fitted)}")
    rows = [(c.work_units / c.aws_init_ms, c.extra_read_mb / c.aws_init_ms) for c in fitted]
    targets = [(c.aws_init_ms - c.aws_hello_ms) / c.aws_init_ms for c in fitted]
    per_unit, per_mb = _nonnegative_least_squares(rows, targets)
    return AnchoredModel(ms_per_unit=per_unit, ms_per_mb=per_mb, cases=cases, **settings)


def anchored_rows(model: AnchoredModel) -> list[dict]:
    """Per case: local init, the hello reference, work units, AWS, the prediction of the
    model, its error, and the out-of-fit error: for a case kept out of the fit, the
    model's; for a case in it, that of the fit without it (leave-one-out)."""
    rows = []
    for case in model.cases:
        predicted = model.predict_case(case)
        if case.in_fit:
            others = [replace_case(c, in_fit=False) if c is case else c for c in model.cases]
            try:
                without = _fit_parameters(others)
                out_of_fit = without.predict_case(case) / case.aws_init_ms - 1
            except UsageError:
                out_of_fit = None
        else:
            out_of_fit = predicted / case.aws_init_ms - 1
        rows.append({"case": case.name, "runtime": case.aws_runtime, "arch": case.arch,
                     "memory_mb": case.memory_mb, "local_init_ms": case.local_init_ms,
                     "hello_init_ms": case.hello_init_ms, "local_cpu_ms": case.local_cpu_ms,
                     "hello_cpu_ms": case.hello_cpu_ms,
                     "cpu_reference_ms": case.cpu_reference_ms,
                     "work_units": case.work_units, "extra_read_mb": case.extra_read_mb,
                     "aws_init_ms": case.aws_init_ms, "statistic": case.statistic,
                     "predicted_ms": predicted, "error": predicted / case.aws_init_ms - 1,
                     "in_fit": case.in_fit, "out_of_fit_error": out_of_fit})
    return rows


def stated_error_pct(model: AnchoredModel) -> float | None:
    """The stated error: the |out-of-fit error| that held for ``ERROR_QUANTILE`` of the
    cases, in % (None with fewer than two cases that have one)."""
    errors = sorted(abs(row["out_of_fit_error"]) for row in anchored_rows(model)
                    if row["out_of_fit_error"] is not None)
    if len(errors) < 2:
        return None
    return 100 * _quantile(errors, ERROR_QUANTILE)


def replace_case(case: Case, **changes) -> Case:
    return Case(**{**asdict(case), **changes})


# -- the validation set -----------------------------------------------------------------------

VALIDATION_FILE = "validation-2026-12.csv"


ANCHOR_USE = "anchor"                  # a row that is a source's own empty function
CASE_ANCHOR = "case:"                  # an anchor naming such a row


def validation_set() -> list[dict]:
    """The validation cases (data/validation-*.csv): what is published of each; the rows
    that only anchor other rows (``use`` = anchor) are left out."""
    return [row for row in data_rows(VALIDATION_FILE) if row["use"] != ANCHOR_USE]


def anchor_figure(row: dict) -> tuple[float, str] | None:
    """The published Init Duration a case's prediction starts from, and its statistic:
    that of the hello function of the Lambda identifier it names (maxday/lambda-perf, on the
    case's architecture), or, for ``case:NAME``, that of the source's own empty function
    (the row NAME of the data file, measured by the same people on the same day)."""
    if row["anchor"].startswith(CASE_ANCHOR):
        name = row["anchor"][len(CASE_ANCHOR):]
        found = [r for r in data_rows(VALIDATION_FILE) if r["case"] == name]
        return (float(found[0]["aws_init_ms"]), found[0]["statistic"]) if found else None
    return hello_init_ms(row["anchor"], row["arch"])


def _run_name(name: str) -> str:
    """The name a run gives the runtime a data file names (a language's name, or Lambda's
    identifier of the version it stands for: both are that runtime)."""
    runtime = find(name)
    return runtime.name if runtime else name


def case_from_run(row: dict, results, function_name: str) -> Case:
    """A validation case from its published row and a local run that measured its function
    (named ``function_name`` in the results) and the built-in function of its reference
    runtime, with CPU references. UsageError where the run lacks one of them."""
    anchor = anchor_figure(row)
    if anchor is None:
        raise UsageError(f"{row['case']}: no published hello figure for {row['anchor']} on "
                         f"{row['arch']}")
    # a Python function built as the source delivered its bytecode (a run kept in a
    # results folder may have been made otherwise)
    built = {f.get("name"): f.get("python_bytecode") for f in results.run.get("functions") or []}
    wanted = row.get("python_bytecode") or DEFAULT_PYTHON_BYTECODE
    if built.get(function_name) not in (None, wanted):
        raise UsageError(f"{row['case']}: its run built the function with --python-bytecode "
                         f"{built[function_name]}, the data file says {wanted}")
    measured = reference_medians(results.samples)
    recorded = results.run.get("prediction") or {}     # what the run measured for itself
    hellos = {key.split(" ")[0]: v
              for key, v in (recorded.get("hello_reference") or {}).items()}
    # results name a runtime as the run did: "node" for nodejs20.x, the version it stands for
    runtime, reference_runtime = _run_name(row["runtime"]), _run_name(row["reference"])
    hello = (hellos.get(reference_runtime)
             or next((v for (r, _), v in measured["hello"].items() if r == reference_runtime),
                     None))
    if recorded.get("cpu_reference_cpu_ms"):
        measured["cpu_reference_cpu_ms"] = recorded["cpu_reference_cpu_ms"]
    own = [s for s in results.samples
           if s.mode == "cold" and s.valid and s.init_ms is not None and not s.variant
           and s.function == function_name and s.runtime == runtime
           and s.extra.get("init_read_mb") is not None and init_cpu_ms(s) is not None]
    if hello is None or not own or not measured["cpu_reference_cpu_ms"]:
        raise UsageError(f"{row['case']}: the run lacks the function, its {row['reference']} "
                         "hello reference or the CPU reference")
    return Case(name=row["case"], runtime=row["runtime"], aws_runtime=row["aws_runtime"],
                arch=row["arch"], memory_mb=int(row["memory_mb"] or 0),
                aws_init_ms=float(row["aws_init_ms"]), statistic=row["statistic"],
                aws_hello_ms=anchor[0], local_init_ms=round(median(s.init_ms for s in own), 3),
                hello_init_ms=round(hello["init_ms"], 3),
                local_cpu_ms=round(median(init_cpu_ms(s) for s in own), 3),
                hello_cpu_ms=round(hello["cpu_ms"], 3),
                init_read_mb=round(median(s.extra["init_read_mb"] for s in own), 3),
                hello_read_mb=round(hello["read_mb"], 3),
                cpu_reference_ms=round(measured["cpu_reference_cpu_ms"], 3),
                in_fit=row["use"] == "fit", local_n=len(own))


def _does_work(case: Case) -> bool:
    """Whether a case's own init does something its hello reference does not (CPU time or
    code read): the cases that test the model's parameters, not only its anchor."""
    return case.local_cpu_ms != case.hello_cpu_ms or case.init_read_mb != case.hello_read_mb


def error_figures(model: AnchoredModel) -> dict:
    """The out-of-fit errors summed up: over the held-out cases alone and over every case
    (leave-one-out for the cases in the fit): median and largest |error|, the stated error."""
    rows = anchored_rows(model)
    held = [abs(r["out_of_fit_error"]) for r in rows if not r["in_fit"]]
    working = {c.name for c in model.cases if _does_work(c)}
    held_working = [abs(r["out_of_fit_error"]) for r in rows
                    if not r["in_fit"] and r["case"] in working]
    every = [abs(r["out_of_fit_error"]) for r in rows if r["out_of_fit_error"] is not None]
    return {"held_out_n": len(held),
            "held_out_median_pct": 100 * median(held) if held else None,
            "held_out_max_pct": 100 * max(held) if held else None,
            "held_out_working_n": len(held_working),
            "held_out_working_median_pct": (100 * median(held_working) if held_working
                                            else None),
            "held_out_working_max_pct": 100 * max(held_working) if held_working else None,
            "out_of_fit_n": len(every),
            "out_of_fit_median_pct": 100 * median(every) if every else None,
            "stated_error_pct": model.error_pct}
