"""What AWS Lambda would report as Init Duration, predicted from a local cold start.

The model, the same for every runtime (no constant per runtime or language)::

    predicted_aws_init_ms = cpu_factor * init_ms + ms_per_mb * init_read_mb

- ``init_ms``: the local Init Duration on the Lambda-shaped code path (``--delivery
  lambda``): the runtime and the function's own init, the function's code read cold
  from its image, the runtime's own files warm, CPU unthrottled as on Lambda;
- ``init_read_mb``: the bytes init read from the code image (the cgroup's block I/O count).

``cpu_factor`` is how much longer the same init work takes on Lambda than here; ``ms_per_mb``
what Lambda's code delivery costs per MB read, beyond what reading it locally cost. There is
no constant term: Init Duration starts when the runtime starts, on both sides.

A ``Calibration`` holds the two parameters, the points they were fitted to (local and AWS
medians per function, runtime and memory size), the errors of the fit, and the code path
settings its local points were measured under. ``fit`` makes one from points; a run
predicts each cold sample with the one it was given (``load``: by default the one shipped
with coldbench, ``data/calibration-*.json``). Pairing results files into points is
``coldbench.analysis.prediction``.

The anchored model (``AnchoredModel``, the default a run predicts with: ``load_anchored``,
``data/prediction-*.json``) predicts against references measured in the same run instead,
anchored on the published AWS figure of the runtime's hello function (``hello_init_ms``);
the comment before ``ANCHORED_VERSION`` says how. A run's samples are predicted with
``anchored_predictions``; the model is fitted on the validation set, and its validation
made, in ``coldbench.analysis.prediction``. Pure functions, no I/O, except reading and
writing the files.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

from coldbench import files
from coldbench.errors import UsageError
from coldbench.model import DEFAULT_ARCHITECTURE, median

KIND = "coldbench-calibration"
VERSION = 1
DEFAULT_FILE = "calibration-2026-12.json"
MODEL = "predicted_aws_init_ms = cpu_factor * init_ms + ms_per_mb * init_read_mb"
USES = ("init_ms: the local Init Duration on the Lambda-shaped code path (--delivery lambda)",
        "init_read_mb: the bytes init read from the function's code image")


@dataclass(frozen=True)
class Point:
    """One configuration measured on both sides: medians of its valid cold samples."""

    function: str
    runtime: str
    memory_mb: int
    local_init_ms: float
    init_read_mb: float
    aws_init_ms: float
    local_n: int = 0
    aws_n: int | None = None          # None: a published figure whose n is not given
    aws_runtime: str | None = None    # the Lambda identifier the AWS figure is for

    @property
    def name(self) -> str:
        return f"{self.runtime} {self.function} {self.memory_mb} MB"


@dataclass(frozen=True)
class Calibration:
    cpu_factor: float
    ms_per_mb: float
    points: tuple[Point, ...] = ()
    # the code path the local points were measured under: reads per second from the image
    read_mb_per_s: float | None = None
    read_iops: int | None = None
    made: str = ""                    # ISO date
    aws_source: str = ""              # where the AWS side of the points comes from
    local_source: str = ""            # the machine and command of the local side
    name: str = ""                    # the file it was read from

    def predict(self, init_ms: float | None, init_read_mb: float | None) -> float | None:
        if init_ms is None or init_read_mb is None:
            return None
        return self.cpu_factor * init_ms + self.ms_per_mb * init_read_mb

    @cached_property
    def error_pct(self) -> float | None:
        """The stated error of a prediction: the root mean square of the leave-one-runtime-
        out relative errors, in percent (None with fewer than three runtimes)."""
        errors = [e for e in leave_one_runtime_out(self.points).values() if e is not None]
        if len(errors) < 2:
            return None
        return 100 * math.sqrt(statistics.fmean(e * e for e in errors))

    def describe(self) -> dict:
        """What a results file says about the calibration its predictions used."""
        return {"name": self.name, "model": MODEL, "cpu_factor": self.cpu_factor,
                "ms_per_mb": self.ms_per_mb, "error_pct": _round(self.error_pct),
                "made": self.made, "aws_source": self.aws_source}


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# -- fitting ------------------------------------------------------------------------------

def fit(points: list[Point] | tuple[Point, ...], **settings) -> Calibration:
    """The two parameters that minimise the squared relative error over ``points`` (the
    goal is a relative error), both kept at or above zero. UsageError with fewer than two
    points, or points that cannot tell the parameters apart."""
    points = tuple(points)
    if len(points) < 2:
        raise UsageError(f"a calibration needs at least two configurations measured on both "
                         f"sides; got {len(points)}")
    # weighted least squares on (x1, x2) -> y with weights 1/y: solve the 2x2 normal equations
    rows = [(p.local_init_ms / p.aws_init_ms, p.init_read_mb / p.aws_init_ms) for p in points]
    s11 = sum(a * a for a, _ in rows)
    s12 = sum(a * b for a, b in rows)
    s22 = sum(b * b for _, b in rows)
    t1 = sum(a for a, _ in rows)
    t2 = sum(b for _, b in rows)
    determinant = s11 * s22 - s12 * s12
    if s11 <= 0:
        raise UsageError("a calibration needs configurations whose local init was measured")
    if determinant > 1e-12 * s11 * max(s22, 1e-12):
        cpu, per_mb = (t1 * s22 - t2 * s12) / determinant, (s11 * t2 - s12 * t1) / determinant
    else:                             # reads that do not vary: no per-MB term can be told
        cpu, per_mb = t1 / s11, 0.0
    if per_mb < 0:                    # the constrained optimum lies on an edge
        cpu, per_mb = t1 / s11, 0.0
    if cpu < 0:
        cpu, per_mb = 0.0, (t2 / s22 if s22 > 0 else 0.0)
    return Calibration(cpu_factor=cpu, ms_per_mb=per_mb, points=points, **settings)


def relative_errors(calibration: Calibration, points=None) -> dict[str, float]:
    """predicted / AWS - 1 per point (by ``Point.name``), for the points it was fitted to
    unless others are given."""
    return {p.name: calibration.predict(p.local_init_ms, p.init_read_mb) / p.aws_init_ms - 1
            for p in (calibration.points if points is None else points)}


def leave_one_runtime_out(points) -> dict[str, float | None]:
    """For each runtime: fitted on the other runtimes' points, the relative error of the
    prediction of its own (the median over its points). None where the others cannot be
    fitted."""
    found = {}
    for runtime in dict.fromkeys(p.runtime for p in points):
        others = [p for p in points if p.runtime != runtime]
        own = [p for p in points if p.runtime == runtime]
        try:
            calibration = fit(others)
        except UsageError:
            found[runtime] = None
            continue
        found[runtime] = median(relative_errors(calibration, own).values())
    return found


# -- files --------------------------------------------------------------------------------

def to_json(calibration: Calibration) -> dict:
    return {
        "kind": KIND, "version": VERSION, "made": calibration.made or date.today().isoformat(),
        "model": MODEL, "uses": list(USES),
        "parameters": {"cpu_factor": calibration.cpu_factor,
                       "ms_per_mb": calibration.ms_per_mb},
        "code_path": {"read_mb_per_s": calibration.read_mb_per_s,
                      "read_iops": calibration.read_iops},
        "aws_source": calibration.aws_source, "local_source": calibration.local_source,
        "error": {"fitted": relative_errors(calibration),
                  "leave_one_runtime_out": leave_one_runtime_out(calibration.points),
                  "error_pct": calibration.error_pct},
        "points": [asdict(p) for p in calibration.points],
    }


def save(calibration: Calibration, path: Path) -> None:
    files.replace_file(path, json.dumps(to_json(calibration), indent=1) + "\n")


def _number(value: object, what: str, name: str, *, positive: bool = False,
            whole: bool = False, optional: bool = False) -> float | int | None:
    """``value`` as a finite number (above zero with ``positive``, else zero or more; a
    whole number with ``whole``; None allowed with ``optional``); UsageError naming
    ``what`` in calibration ``name`` otherwise."""
    if value is None and optional:
        return None
    kind = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        shown = json.dumps(value) if not isinstance(value, float) else repr(value)
        raise UsageError(f"{name}: {what} is {shown}, not a "
                         f"{'whole ' if whole else 'finite '}number; make the calibration "
                         "again with coldbench calibrate")
    if value < 0 or (positive and value == 0):
        raise UsageError(f"{name}: {what} is {value}; it must be "
                         f"{'above zero' if positive else 'zero or more'}")
    return value


def from_json(document: object, name: str) -> Calibration | AnchoredModel:
    """A calibration from its JSON document (the anchored model's, ``ANCHORED_VERSION``,
    too); UsageError for anything else, and for parameters that are not finite numbers in
    their range (a read bandwidth above zero)."""
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise UsageError(f"{name} is not a coldbench calibration (no \"kind\": \"{KIND}\"); "
                         "make one with coldbench calibrate LOCAL_RUN AWS_RUN --output FILE")
    if document.get("version") == ANCHORED_VERSION:
        return anchored_from_json(document, name)
    if document.get("version") != VERSION:
        raise UsageError(f"{name} is a calibration of version {document.get('version')}; "
                         f"this coldbench reads version {VERSION}: make it again with "
                         "coldbench calibrate")
    try:
        parameters = document["parameters"]
        code_path = document.get("code_path") or {}
        points = tuple(Point(**p) for p in document.get("points", ()))
        for point in points:
            for field_name in ("local_init_ms", "init_read_mb", "aws_init_ms"):
                _number(getattr(point, field_name), f"{field_name} of point {point.name}",
                        name)
        calibration = Calibration(
            cpu_factor=_number(parameters["cpu_factor"], "cpu_factor", name, positive=True),
            ms_per_mb=_number(parameters["ms_per_mb"], "ms_per_mb", name),
            points=points,
            read_mb_per_s=_number(code_path.get("read_mb_per_s"), "code_path.read_mb_per_s",
                                  name, positive=True, optional=True),
            read_iops=_number(code_path.get("read_iops"), "code_path.read_iops", name,
                              positive=True, whole=True, optional=True),
            made=document.get("made", ""),
            aws_source=document.get("aws_source", ""),
            local_source=document.get("local_source", ""), name=name)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{name} is not a usable calibration: {exc}") from None
    return calibration


def load(path: Path | None = None) -> Calibration | AnchoredModel:
    """The calibration in ``path``, or the default one shipped with coldbench."""
    if path is None:
        text = resources.files("coldbench.data").joinpath(DEFAULT_FILE).read_text()
        return from_json(json.loads(text), DEFAULT_FILE)
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"calibration file {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a coldbench calibration: {exc}") from None
    return from_json(document, str(path))


# -- the published figures the predictions are anchored on --------------------------------

# Init Duration on real AWS Lambda from the public daily benchmark maxday/lambda-perf
# (data/last.json, 2026-08-22; p50 over 2026-07-23..08-22)
AWS_INIT_FILE = "aws-lambda-init-duration-2026-08.csv"
AWS_INIT_SOURCE = "maxday/lambda-perf, 2026-08-22"
PUBLISHED_SOURCE = (f"{AWS_INIT_SOURCE}: Init Duration p50 (mean where no p50 is "
                    "published), zip, x86_64, 128 MB")


def data_rows(name: str) -> list[dict]:
    """The rows of a CSV file shipped in ``coldbench.data`` (lines starting # are notes)."""
    text = resources.files("coldbench.data").joinpath(name).read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@cache
def hello_init_ms(identifier: str, arch: str = DEFAULT_ARCHITECTURE) -> tuple[float, str] | None:
    """The published Init Duration of the hello-world function of a Lambda identifier (a
    row of the lambda-perf file: "python3.13", "go (provided.al2023)") on ``arch``, zip,
    128 MB: (ms, "p50" or "mean"), the p50 where one is published, or None."""
    for row in data_rows(AWS_INIT_FILE):
        if row["runtime"] != identifier:
            continue
        if arch == "x86_64":             # the p50 column is x86_64's
            if row["p50_ms"]:
                return float(row["p50_ms"]), "p50"
            return (float(row["zip_128_x86_64"]), "mean") if row["zip_128_x86_64"] else None
        column = row.get(f"zip_128_{arch}")
        return (float(column), "mean") if column else None
    return None


# -- the anchored model: against references measured in the same run ----------------------
#
# A prediction must not move when the machine gets faster or slower. So nothing in it is in
# this machine's milliseconds: the runtime's own start-up is the published AWS figure of
# its hello function (anchored), and what the function's init does beyond the hello
# function of its runtime, measured in the same run and interleaved with it, is counted as
# CPU time (user and system, ``environments/counters.py``) in units of the CPU time of a
# fixed workload run in the same run (``measure/references.py``)::
#
#     predicted = aws_hello_ms + ms_per_unit * work_units + ms_per_mb * extra_read_mb
#     work_units    = (init_cpu_ms - hello_cpu_ms) / cpu_reference_cpu_ms
#     extra_read_mb = init_read_mb - hello_read_mb
#
# CPU time, not wall time: on a loaded machine a long init waits for the CPU more than a
# short one does (four busy processes here made a 140 ms-of-CPU init take 3.3 times as
# long, the hello function 1.7 times, the reference workload 2 times), while the CPU
# time of each moved by 0-14 %. A faster machine shortens both the same.
#
# ``ms_per_unit`` (what one unit of init work costs on Lambda) and ``ms_per_mb`` (what a MB
# of the function's own code costs to deliver there) are shared by every runtime; they are
# fitted on the validation cases marked in_fit (data/validation-*.csv), functions whose own
# init work varies (``coldbench.analysis.prediction``). The stated error is the 80th
# percentile of the cases' out-of-fit errors, kept in the model's file.

ANCHORED_VERSION = 2
ANCHORED_FILE = "prediction-2026-12.json"
ANCHORED_MODEL = ("predicted_aws_init_ms = aws_hello_ms + ms_per_unit * (init_cpu_ms - "
                  "hello_cpu_ms) / cpu_reference_cpu_ms + ms_per_mb * (init_read_mb - "
                  "hello_read_mb)")
ANCHORED_USES = (
    "aws_hello_ms: the published Init Duration of the hello function of the same Lambda "
    "identifier and architecture (maxday/lambda-perf)",
    "init_cpu_ms, init_read_mb: the CPU time (user and system) of the init of the function's "
    "cold samples and what it read, on the Lambda-shaped code path",
    "hello_cpu_ms, hello_read_mb: medians of the runtime's built-in function, measured in "
    "the same run, interleaved",
    "cpu_reference_cpu_ms: median CPU time of a fixed workload run after every cold sample")
ERROR_QUANTILE = 0.8


@dataclass(frozen=True)
class Case:
    """A function whose AWS Init Duration is published, measured here with its references."""

    name: str
    runtime: str                # coldbench's runtime that ran it here
    aws_runtime: str            # the Lambda identifier the AWS figure is for
    arch: str
    memory_mb: int
    aws_init_ms: float
    statistic: str              # of the AWS figure: "median" or "mean"
    aws_hello_ms: float         # the published hello figure of aws_runtime on arch
    local_init_ms: float              # wall clock, shown; the model uses CPU time
    hello_init_ms: float
    local_cpu_ms: float
    hello_cpu_ms: float
    init_read_mb: float
    hello_read_mb: float
    cpu_reference_ms: float           # the reference workload's CPU time
    in_fit: bool = True
    local_n: int = 0

    @property
    def work_units(self) -> float:
        return (self.local_cpu_ms - self.hello_cpu_ms) / self.cpu_reference_ms

    @property
    def extra_read_mb(self) -> float:
        return self.init_read_mb - self.hello_read_mb


@dataclass(frozen=True)
class AnchoredModel:
    ms_per_unit: float
    ms_per_mb: float
    cases: tuple[Case, ...] = ()
    made: str = ""
    local_source: str = ""
    name: str = ""
    # the code path its cases were measured under: no read limit (fidelity.md, section 1)
    read_mb_per_s: float | None = None
    read_iops: int | None = None
    # the stated error: the |out-of-fit error| that held for ERROR_QUANTILE of the cases,
    # in %, as the fit found it (``coldbench.analysis.prediction.fit_anchored``)
    error_pct: float | None = None

    def predict(self, aws_hello_ms: float, work_units: float, extra_read_mb: float) -> float:
        return aws_hello_ms + self.ms_per_unit * work_units + self.ms_per_mb * extra_read_mb

    def predict_case(self, case: Case) -> float:
        return self.predict(case.aws_hello_ms, case.work_units, case.extra_read_mb)

    def describe(self) -> dict:
        return {"name": self.name, "model": ANCHORED_MODEL, "ms_per_unit": self.ms_per_unit,
                "ms_per_mb": self.ms_per_mb, "error_pct": _round(self.error_pct),
                "made": self.made, "cases": len(self.cases),
                "aws_source": PUBLISHED_SOURCE}


def anchored_to_json(model: AnchoredModel) -> dict:
    return {"kind": KIND, "version": ANCHORED_VERSION,
            "made": model.made or date.today().isoformat(), "model": ANCHORED_MODEL,
            "uses": list(ANCHORED_USES),
            "parameters": {"ms_per_unit": model.ms_per_unit, "ms_per_mb": model.ms_per_mb},
            "local_source": model.local_source,
            "error": {"error_pct": model.error_pct, "quantile": ERROR_QUANTILE},
            "cases": [asdict(c) for c in model.cases]}


def anchored_from_json(document: dict, name: str) -> AnchoredModel:
    try:
        parameters = document["parameters"]
        model = AnchoredModel(ms_per_unit=_number(parameters["ms_per_unit"], "ms_per_unit",
                                                  name),
                              ms_per_mb=_number(parameters["ms_per_mb"], "ms_per_mb", name),
                              cases=tuple(Case(**c) for c in document.get("cases", ())),
                              made=document.get("made", ""),
                              local_source=document.get("local_source", ""), name=name,
                              error_pct=_number((document.get("error") or {}).get("error_pct"),
                                                "error.error_pct", name, optional=True))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{name} is not a usable prediction model: {exc}") from None
    if model.ms_per_unit < 0 or model.ms_per_mb < 0:
        raise UsageError(f"{name}: the parameters cannot be negative")
    return model


def load_anchored() -> AnchoredModel:
    """The anchored model shipped with coldbench."""
    text = resources.files("coldbench.data").joinpath(ANCHORED_FILE).read_text()
    return anchored_from_json(json.loads(text), ANCHORED_FILE)


def save_anchored(model: AnchoredModel, path: Path) -> None:
    files.replace_file(path, json.dumps(anchored_to_json(model), indent=1) + "\n")


# -- the anchored prediction of a run's samples ---------------------------------------------

def init_cpu_ms(sample) -> float | None:
    """CPU time (user and system) of a sample's init, where its environment counted it."""
    user, system = sample.extra.get("init_cpu_user_ms"), sample.extra.get("init_cpu_system_ms")
    return None if user is None or system is None else user + system


def reference_medians(samples, reference_function: str = "coldbench") -> dict:
    """What a run measured of its references: per (runtime, memory) the medians of the hello
    function's valid cold samples (init, its CPU time and bytes read), and the median CPU
    reference (wall and CPU time) over every cold sample that carries one."""
    hello: dict[tuple, list] = {}
    wall, used = [], []
    for s in samples:
        if s.mode != "cold":
            continue
        if s.extra.get("cpu_reference_cpu_ms") is not None:
            wall.append(s.extra["cpu_reference_ms"])
            used.append(s.extra["cpu_reference_cpu_ms"])
        if (s.function == reference_function and s.valid and s.init_ms is not None
                and s.extra.get("init_read_mb") is not None and init_cpu_ms(s) is not None
                # a request through a function URL (--via url) inits as any other
                and not s.variant.but(via=None)):
            hello.setdefault((s.runtime, s.memory_mb), []).append(s)
    return {"cpu_reference_ms": median(wall) if wall else None,
            "cpu_reference_cpu_ms": median(used) if used else None,
            "hello": {key: {"init_ms": median(s.init_ms for s in group),
                            "cpu_ms": median(init_cpu_ms(s) for s in group),
                            "read_mb": median(s.extra["init_read_mb"] for s in group),
                            "n": len(group)}
                      for key, group in hello.items()}}


def anchored_predictions(samples, model: AnchoredModel, aws_hello: dict[str, float],
                         reference_function: str = "coldbench",
                         anchored_on: dict[str, str] | None = None) -> list[float | None]:
    """Per sample (in order): the predicted AWS Init Duration, or None (not cold, no bytes
    read or CPU time counted, no hello reference of its runtime, no published hello figure,
    no CPU reference). ``aws_hello``: runtime -> the published hello figure its prediction
    is anchored on; ``anchored_on``: runtime -> the runtime whose hello function is its
    reference, where not its own (``Runtime.anchored_on``)."""
    measured = reference_medians(samples, reference_function)
    unit = measured["cpu_reference_cpu_ms"]
    found = []
    for s in samples:
        read, used = s.extra.get("init_read_mb"), init_cpu_ms(s)
        own = (anchored_on or {}).get(s.runtime, s.runtime)
        hello = (measured["hello"].get((own, s.memory_mb))
                 or next((v for (r, _), v in measured["hello"].items() if r == own), None))
        if (s.mode != "cold" or s.init_ms is None or read is None or used is None
                or hello is None or not unit or s.runtime not in aws_hello):
            found.append(None)
            continue
        units = (used - hello["cpu_ms"]) / unit
        found.append(model.predict(aws_hello[s.runtime], units, read - hello["read_mb"]))
    return found


# -- code delivery, per package type ---------------------------------------------------------
#
# What of a function's package Init Duration pays for depends on how Lambda delivers it:
#
# - A .zip package is fetched whole before the runtime starts. "When the Lambda service
#   receives a request to run a function via the Lambda API, the service first prepares an
#   execution environment. During this step, the service downloads the code for the function,
#   which is stored in an internal S3 bucket (or in Amazon ECR if the function uses container
#   packaging). [...] Once complete, Lambda runs any initialization code outside of the event
#   handler" (AWS Lambda Operator Guide, "Lambda execution environments", Cold starts and
#   latency: "You are not charged for the time it takes for Lambda to prepare the
#   function"). So bytes of a zip that init never reads cost no Init Duration: their
#   download is part of the environment's preparation, which delays the first request but
#   is neither in Init Duration nor billed. A measurement agrees: a Node.js function carrying
#   a 20 MB file it never read started as fast as a bare one (aws/aws-sdk-js#1469, 2017:
#   "RAM is the only cost in time"). What init does read, it reads from the environment's
#   own copy with a cold page cache: ``ms_per_mb`` prices it, fitted on zip functions.
# - A container image is read lazily, in chunks, from a block device backed by tiered caches
#   while init runs (Brooker et al.): the bytes init reads are fetched during Init Duration,
#   and the bytes it never reads are never fetched. Lambda's image figures are their own
#   anchors (lambda-perf's image rows); the same per-MB term prices what init reads.
#
# Either way, code that init never loads is free in Init Duration; code it loads is priced
# by what it reads. The two package types differ in what happens before Init Duration (the
# zip's whole download), which this model does not predict: no public measurement found
# pairs a zip's size with the delay before init.

PACKAGE_TYPES = ("zip", "image")
UNREAD_MS_PER_MB = {"zip": 0.0, "image": 0.0}     # bytes of the package init never reads


def package_init_change_ms(model: AnchoredModel, read_mb_before: float,
                           read_mb_after: float, unread_mb_before: float = 0.0,
                           unread_mb_after: float = 0.0,
                           package_type: str = "zip") -> float:
    """How much Init Duration on Lambda changes, by code delivery alone, when a package
    goes from one content to another: what init reads is priced at ``ms_per_mb``, what it
    never reads at the package type's ``UNREAD_MS_PER_MB`` (zero for both: see above)."""
    if package_type not in PACKAGE_TYPES:
        raise UsageError(f"package type {package_type!r}: expected one of "
                         f"{', '.join(PACKAGE_TYPES)}")
    return (model.ms_per_mb * (read_mb_after - read_mb_before)
            + UNREAD_MS_PER_MB[package_type] * (unread_mb_after - unread_mb_before))
