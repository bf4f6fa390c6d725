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
``coldbench.analysis.prediction``. Pure functions, no I/O, except ``load`` and ``save``.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path

from coldbench import files
from coldbench.errors import UsageError
from coldbench.model import median

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


def from_json(document: object, name: str) -> Calibration:
    """A calibration from its JSON document; UsageError for anything else, and for
    parameters that are not finite numbers in their range (a read bandwidth above zero)."""
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise UsageError(f"{name} is not a coldbench calibration (no \"kind\": \"{KIND}\"); "
                         "make one with coldbench calibrate LOCAL_RUN AWS_RUN --output FILE")
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


def load(path: Path | None = None) -> Calibration:
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
