"""The results file: one versioned JSON document with the run's metadata and every raw
sample, written as samples are taken at a cost that does not grow with the file.

On disk, one sample per line::

    {"schema_version": 2, "run": {...},
    "samples": [
    {"runtime": "go", "memory_mb": 128, "mode": "cold", ...},
    {"runtime": "go", "memory_mb": 128, "mode": "cold", ...}
    ]}

The file appears with the run's first sample. Each further sample is one write at the end
of the file, over the closing ``]}``, which the write puts back: after every sample the
file is a whole JSON document, and a run that is killed (SIGKILL too) leaves every sample it
took, with ``run.completed`` false. When the run ends, however it ends, the document is
written once more whole (write, then rename) with ``run.ended_at`` and ``run.completed``.

Other tools read this file; the contract is ``schema_version``, ``run`` and ``samples``
(fields in ``Sample``). Fields may be added within a version; none are removed or renamed.
``run["run_id"]`` names the run in a history (``coldbench.analysis.history``): unique, and sorting
run ids sorts runs by start time.

A sample's configuration, its key and its variant are the model's (``coldbench.model``).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import tempfile
import typing
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from coldbench import files
from coldbench.errors import ResultsError
from coldbench.model import BUILTIN_FUNCTION, ConfigKey, Variant, runtime_rank
from coldbench.phases import cold_start_ms

__all__ = ["BUILTIN_FUNCTION", "ConfigKey", "MODES", "READS", "Results", "ResultsWriter",
           "SCHEMA_VERSION", "Sample", "Variant", "check_sample", "load", "new_run_id",
           "region_of", "runtime_rank"]

# Changelog:
#   1 - first version: run metadata (target, host, platform, cpu, cpus, memory_mb, plan,
#       runtime_versions, functions, notes, started_at, ended_at, coldbench_version; the
#       local target's api, cpu_model, limits, host_cpus, kernel), samples with
#       init/duration/e2e/billed/max memory.
#       Added within 1: run.run_id.
#       Added within 1: run.api, run.rie, run.container_images (docker target);
#       samples' container_start_ms (docker) and first_response_ms (--api rie).
#       Added within 1: run.completed (False for a run that was interrupted or failed;
#       run.ended_at is set either way).
#       Added within 1 (aws target): run.region, run.architectures, run.aws_run_id,
#       run.lambda_runtimes (runtime -> Lambda identifier), run.packages, run.copies,
#       run.snapstart, run.function_timeout_s, run.role, run.price_table,
#       run.cost_bound_usd, run.endpoint_url, run.invoke_endpoint_url; samples' variant
#       (what sets a configuration apart beyond function, runtime and memory, e.g.
#       "arm64" or "x86_64 SnapStart"), architecture, function_name, executed_version,
#       request_id, billed_duration_ms, memory_size_mb, report_cold (the REPORT line had
#       an Init or Restore Duration), restore_ms, billed_restore_ms, lambda_status.
#       Changed within 1: billed_ms is what Lambda bills for the invocation
#       (``phases.billed_ms``): a cold sample's includes its billed start, as on AWS
#       since 2025-08-01; files written before hold Duration rounded up.
#       Changed within 1: the file is written one sample per line, appended as samples
#       are taken (still one JSON document; readers need no change).
#       Added within 1 (aws target): run.lambda_runtime_table, run.lambda_runtime_day,
#       run.lambda_runtime_notes (which identifier each runtime was deployed with, and why),
#       run.log_format, run.proactive_init (per configuration: cold-mode first invocations,
#       those without Init Duration or, SnapStart, without Restore Duration, and the rate);
#       samples' lambda_runtime.
#       Added within 1 (aws target, --burst N): samples' burst (N: the sample is one of N
#       invocations sent at once; its variant ends with "burst N").
#       Added within 1 (local target): run.delivery ("lambda": the code read cold from an
#       image of its own; "host"), run.code_path (the read limits), run.runtime_cache;
#       cold samples' init_read_mb and init_read_requests (what init read from the code
#       image, in MB and in read requests).
#       Added within 1: run.calibration (what predicted AWS's Init Duration: its name,
#       model, parameters and stated error); cold samples' predicted_aws_init_ms and
#       prediction_error_pct, where the sample has init_read_mb.
#   2 - `run --profile`: samples taken under a profiler, with "profiled": true (mode
#       "cold"; their Init Duration includes the profiler's overhead), which every reader
#       must keep out of its statistics (``Sample.valid`` is false for them): a reader of
#       version 1 would count them as cold starts, hence the new version. Such a sample
#       carries "profile" ({"parts", "tree"}: its init as ``profile/tree.py`` has it);
#       run.profiles holds one entry per profiled configuration (function, runtime,
#       memory_mb, variant; the overhead, the parts and the median tree, as
#       ``profile/document.py`` summarises a function). Files of version 1 are read as they are.
#       Added within 2 (aws target, --idle): samples' idle_s (the sample is the second of
#       two invocations of one function, idle_s seconds apart with no configuration change;
#       its variant ends with "idle 5m"; mode "cold" when its REPORT had an Init Duration,
#       else "warm") and idle_measured_s (that interval as the harness measured it);
#       run.plan.idle (the intervals in seconds) and run.plan.idle_samples.
#       Added within 2 (aws target): samples' region; a run in several regions
#       (`--region a,b`) has run.region "a,b", run.regions (the list), run.aws_run_ids
#       and run.cost_bound_by_region (per region), and its samples' variant ends with the
#       region ("x86_64 eu-west-1"); ``region_of`` is the region of a sample.
#       Added within 2 (aws target, --package zip,image): samples' package_type ("zip" or
#       "image"; an image configuration's variant has "image" in it, "x86_64 image"),
#       run.package_types, run.images (runtime -> uri, bytes as ECR stores them, digest,
#       architecture, lambda_runtime, base, kind "aws" or "local") and run.image_notes.
#       Added within 2 (--template): run.template (the definition file) and, per function
#       of run.functions, its configuration (lambda_runtime, memory_mb, timeout_s,
#       architecture, variables (names only), layers) as its definition set it.
#   3 - samples' variant is an object of typed fields (``coldbench.model.Variant``:
#       architecture, snapstart, package_type, region, version, layers, template, via,
#       burst, idle_s; only those set), absent where the variant is empty, instead of the
#       words tables show ("x86_64 SnapStart image eu-west-1"). A reader of version 2
#       would take the object for a string, hence the new version. Files of versions 1
#       and 2 are read as they are: ``load`` turns their variant words into the fields.
#       Added within 3 (local target, external extensions in /opt/extensions): cold
#       samples' extensions (one {"name", "events", "registered_ms", "ready_ms"} per
#       registered extension, ms from the start of init: its POST /extension/register and
#       its first GET /extension/event/next), extension_registration_ms (init start to the
#       runtime's start: the wait for every extension to register) and runtime_init_ms (the
#       runtime's start to its first /runtime/invocation/next: its own init); every
#       sample's extension_post_runtime_ms (the runtime's response to the last INVOKE
#       extension's next /event/next: Lambda's post-runtime extension time, outside
#       duration_ms and e2e_ms). init_ms then runs from the first extension's start to the
#       last of the runtime and the extensions being ready, as Lambda's Init Duration.
#       Added within 3 (--layer): samples' variant.layers (the function's layers by name,
#       in order) and samples' layers (each {"name", "digest"}, with "handler" and "env"
#       where its setup adds them: --layer-handler, --layer-env); on the Lambda-shaped code
#       path, cold samples' init_read_layers_mb (what init read from the layers' own image;
#       init_read_mb counts it too); run.functions[].layers; run.layer_overhead (true: the
#       run measured each prefix of the layers, the empty prefix with no layers in its
#       variant).
#       Added within 3 (`coldbench ab`): two versions of the same functions in one run,
#       told apart by their variant's version ("base", "head"), in samples and
#       run.profiles; run.functions[].version; run.ab (each version's ref and commit, or
#       folder, and the functions' paths).
#       Added within 3 (local target): run.prediction (the anchored prediction: its model,
#       the hello references' medians per runtime and memory size and their cold samples,
#       measured for the prediction alone and not among the samples, the CPU reference
#       and its median, the published hello figures used, the architecture); cold samples'
#       cpu_reference_ms and spawn_reference_ms. predicted_aws_init_ms is added once the
#       run has measured every sample.
#       Added within 3 (versions, --runtimes python3.13): a runtime may be named by Lambda's
#       identifier of a version ("python3.13", "nodejs22.x", "java25"; a language's name
#       is the version the documented comparison names); run.lambda_runtimes on every
#       target (runtime -> the identifier it ran as); cold samples' runtime_version (what
#       the function reported from inside, where it does).
#       Added within 3 (local target, with cgroups): cold and provisioned samples'
#       init_cpu_user_ms, init_cpu_system_ms, init_page_faults, init_major_faults and
#       init_processes (what init did, ``environments/counters.py``).
#       Added within 3 (`run --profile` with external extensions): a profiled sample's
#       profile and run.profiles[] have an "extensions" part first (parts and tree: one
#       item per extension, what it held init up by), and run.profiles[].extensions
#       ([{name, registered_ms, ready_ms, n}], p50 over the profiled samples).
#       Added within 3 (--via url): samples' variant.via ("url"), url_ms (the HTTP
#       client's latency, also e2e_ms) and url_status; run.via. On --target aws also
#       samples' report_wait_ms (finding the REPORT line in CloudWatch Logs after the
#       answer, in no latency) and run.url_endpoint_url.
#       Added within 3 (local target): run.prediction.anchored_on (runtime -> the runtime
#       whose hello function and published figure its prediction starts from, where not
#       its own: "provided" -> "rust"); cold samples of --runtime provided carry
#       predicted_aws_init_ms.
SCHEMA_VERSION = 3
READS = (1, 2, 3)                   # the versions ``load`` accepts

MODES = ("cold", "warm", "provisioned")


def region_of(sample: "Sample", run: dict) -> str | None:
    """The AWS region a sample was measured in: its own ``region``, else (files written
    before samples carried it) the run's, when the run was in one region; None elsewhere."""
    region = sample.extra.get("region")
    if region:
        return str(region)
    if run.get("target") == "aws" and run.get("region") and "," not in str(run["region"]):
        return str(run["region"])
    return None


@dataclass
class Sample:
    """One invocation, as measured (phases defined in ``coldbench.phases``)."""

    runtime: str
    memory_mb: int
    mode: str                        # "cold", "warm" or "provisioned"
    init_ms: float | None            # cold samples only
    duration_ms: float | None
    e2e_ms: float | None
    billed_ms: float | None
    max_memory_mb: float | None
    cold: bool | None                # as the function itself reported it
    error: dict | None               # None, or {"type", "message", ...}
    function: str = BUILTIN_FUNCTION  # which function: the built-in one or a user's folder name
    misclassified: bool = False      # the function's cold flag disagrees with the mode
    instance_id: str | None = None
    invocation: int | None = None
    # what sets its configuration apart beyond function, runtime and memory (AWS: the
    # architecture, SnapStart, ...); empty on the local target
    variant: Variant = field(default_factory=Variant)
    extra: dict = field(default_factory=dict)

    @property
    def profiled(self) -> bool:
        """Taken under a profiler (`run --profile`): kept, but out of every statistic."""
        return self.extra.get("profiled") is True

    @property
    def valid(self) -> bool:
        """Counts in the statistics: no error, the cold flag its mode expects, no profiler."""
        return self.error is None and not self.misclassified and not self.profiled

    @property
    def key(self) -> ConfigKey:
        return ConfigKey(self.function, self.runtime, self.memory_mb, self.variant)

    @property
    def figure(self) -> float | None:
        """The figure that stands for the sample's mode: the cold start (Init Duration +
        Duration) for cold, Duration for warm and provisioned."""
        if self.mode == "cold":
            return cold_start_ms(self.init_ms, self.duration_ms)
        return self.duration_ms

    def to_json(self) -> dict:
        document = asdict(self)
        document.pop("variant")
        if self.variant:
            document["variant"] = self.variant.to_json()
        document.update(document.pop("extra"))
        return document

    @classmethod
    def from_json(cls, document: dict, schema_version: int = SCHEMA_VERSION) -> "Sample":
        """A sample from its JSON object, as ``check_sample`` has accepted it; before
        schema 3 its variant was words, read here into the fields, once."""
        known = {f for f in cls.__dataclass_fields__ if f not in ("extra", "variant")}
        extra = {k: v for k, v in document.items() if k not in known and k != "variant"}
        fields = {name: None for name in _NULLABLE} | {k: v for k, v in document.items()
                                                        if k in known}
        stored = document.get("variant")
        variant = (Variant.parse_label(stored) if schema_version < 3
                   else Variant.from_json(stored))
        return cls(**fields, variant=variant, extra=extra)


_TYPES = typing.get_type_hints(Sample)
_REQUIRED = ("runtime", "memory_mb", "mode")
_NULLABLE = tuple(name for name, hint in _TYPES.items() if type(None) in typing.get_args(hint))
_VARIANT_KINDS = {1: (str,), 2: (str,), 3: (dict,)}     # how each schema stores a variant
_KINDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
          dict: "an object"}


def check_sample(document: object, schema_version: int = SCHEMA_VERSION) -> str | None:
    """What is wrong with one sample's JSON object, or None."""
    if not isinstance(document, dict):
        return f"is {type(document).__name__}, not an object"
    for name in _REQUIRED:
        if name not in document:
            return f"has no {name}"
    variant = document.get("variant")
    if variant is not None and not isinstance(variant, _VARIANT_KINDS[schema_version]):
        return (f"variant is {json.dumps(variant)}, not "
                f"{_KINDS[_VARIANT_KINDS[schema_version][0]]}")
    for name, hint in _TYPES.items():
        if name in ("extra", "variant") or name not in document:
            continue
        value = document[name]
        allowed = [t for t in typing.get_args(hint) or (hint,) if t is not type(None)]
        if value is None and name in _NULLABLE:
            continue
        # JSON has one kind of number: a float field takes 2 as well as 2.0; no bool is a number
        fits = not isinstance(value, bool) or bool in allowed
        fits = fits and isinstance(value, tuple(allowed) + ((int,) if float in allowed else ()))
        if not fits:
            return f"{name} is {json.dumps(value)}, not {_KINDS.get(allowed[0], allowed[0])}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{name} is {json.dumps(value)}, not a finite number"
    if document["mode"] not in MODES:
        return f"mode is {json.dumps(document['mode'])}, not one of {', '.join(MODES)}"
    return None


@dataclass
class Results:
    run: dict
    samples: list[Sample]
    # what ``load`` could not read of a file whose run has not ended (its last line cut
    # short: the run is being written, or its writer was killed mid-sample); every reader
    # says it (None: the whole file was read)
    incomplete: str | None = None

    def to_json(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "run": self.run,
                "samples": [s.to_json() for s in self.samples]}


# The layout on disk (module docstring). JSON's default escaping keeps every string on one
# line and every character one byte, so a sample is one line and lengths are byte counts.
_SAMPLES = '\n"samples": [\n'
_CLOSE = "\n]}\n"


def _head(run: dict) -> str:
    return json.dumps({"schema_version": SCHEMA_VERSION, "run": run})[:-1] + "," + _SAMPLES


class ResultsWriter:
    """Writes the results file of a run as its samples come (module docstring): nothing
    until the first sample, then one write per sample, the whole document at ``close``."""

    def __init__(self, path: Path | None, run: dict, overwrite: bool = False):
        self.path = Path(path) if path else None
        self.results = Results(run=run, samples=[])
        self.overwrite = overwrite
        self._lines: list[str] = []     # the samples as written, for the final document
        self._fd: int | None = None     # the file, open while samples are appended
        self._end = 0                   # where the closing "]}" starts
        # checked and claimed now, before anything is measured (``coldbench.files``)
        self._claim = None
        if self.path is not None:
            self.path = files.check_file(self.path, overwrite)
            self._claim = files.Claim(self.path)

    def add(self, sample: Sample) -> None:
        self.results.samples.append(sample)
        if self.path is None:
            return
        line = json.dumps(sample.to_json())
        self._lines.append(line)
        if self._fd is None:
            self.flush()
            return
        # over the closing "]}": the separator, the sample, and the closing again
        data = ((",\n" if len(self._lines) > 1 else "") + line + _CLOSE).encode()
        _write(self._fd, data, self._end)
        self._end += len(data) - len(_CLOSE)

    def refresh(self) -> None:
        """Take the samples as they are now for the final document (``close``): for what is
        added to them once the run has measured them all (the anchored prediction)."""
        self._lines = [json.dumps(sample.to_json()) for sample in self.results.samples]

    def flush(self) -> None:
        """Write the whole document now (write, then rename): the run's metadata as it is."""
        if self.path is None:
            return
        head = _head(self.results.run)
        text = head + ",\n".join(self._lines) + _CLOSE
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o644)
            _write(fd, text.encode(), 0)
            if self._fd is None and not self.overwrite:
                os.link(tmp, self.path)       # never replaces a file that appeared meanwhile
                os.unlink(tmp)
            else:
                os.replace(tmp, self.path)
        except FileExistsError:             # not ours to write: give the path up
            os.close(fd)
            Path(tmp).unlink(missing_ok=True)
            if self._claim is not None:
                self._claim.release()
            raise ResultsError(f"{self.path} exists: choose another --output, or pass "
                               "--force to replace it") from None
        except BaseException:
            os.close(fd)
            Path(tmp).unlink(missing_ok=True)
            raise
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd
        self._end = len(text) - len(_CLOSE)

    def close(self) -> None:
        """Complete the document (the run's final metadata) and release the file."""
        try:
            self.flush()
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._claim is not None:
                self._claim.release()

    def abandon(self) -> None:
        """Write nothing more, and remove what was written: for a run refused before it
        measured anything."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.path.unlink(missing_ok=True)
        if self._claim is not None:
            self._claim.release()
        self.path = None


def _write(fd: int, data: bytes, offset: int) -> None:
    """All of ``data`` at ``offset``: one system call unless the file system splits it."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written == 0:
            raise ResultsError("cannot write the results file: no space left")
        view, offset = view[written:], offset + written


def new_run_id() -> str:
    """A run id: the UTC start time to the second, then 8 random hex digits."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def _read_lines(text: str, path) -> tuple[dict, list[int], str | None]:
    """A results file that is not one whole JSON document, read line by line (the layout
    in the module docstring): the document, the line number of each sample, and what could
    not be read. Every line between the head and the end must be a sample: a line that is
    not is refused, naming it. Only a file whose run has not ended (no ``run.ended_at``: it
    is being written, or its writer was killed) may lack its end; then its last line may be
    cut short, and is left out and said. ValueError: not a results file at all."""
    head, found, body = text.partition(_SAMPLES)
    if not found:
        raise ValueError("not a results file being written")
    document = json.loads(head + '"samples": []}')
    if not isinstance(document, dict) or not isinstance(document.get("run"), dict):
        raise ValueError("no run")
    ended = bool(document["run"].get("ended_at"))
    first = head.count("\n") + 3            # the line of the first sample
    lines = body.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    numbers: list[int] = []
    for offset, line in enumerate(lines):
        number = first + offset
        if line == "]}":
            if offset != len(lines) - 1:
                raise ResultsError(f"{path}: line {number + 1} follows the end of the "
                                   "samples: the file is damaged; nothing was read")
            return document, numbers, None
        try:
            sample = json.loads(line.removesuffix(","))
        except ValueError as exc:
            if offset == len(lines) - 1 and not ended:
                return document, numbers, (
                    f"{path}: line {number} is cut short (the run has not ended: it is "
                    f"being written, or was killed mid-sample); read the "
                    f"{len(numbers)} samples before it")
            if offset == len(lines) - 1:
                raise ResultsError(f"{path}: line {number} is cut short, though the run "
                                   "ended: the file was cut; nothing was read") from None
            raise ResultsError(f"{path}: line {number} is not a sample ({exc.msg}): the "
                               "file is damaged; nothing was read") from None
        document["samples"].append(sample)
        numbers.append(number)
    if ended:
        raise ResultsError(f"{path}: the file ends at line {first + len(lines) - 1} without "
                           "the end of its samples, though the run ended: it was cut short; "
                           "nothing was read")
    return document, numbers, (f"{path}: the file ends at line {first + len(lines) - 1} "
                               "without the end of its samples (the run has not ended: it "
                               "is being written, or was killed)")


def load(path: Path) -> Results:
    """Read a results file; refuse versions this coldbench does not know, and samples that
    are not samples (saying which one and what is wrong)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: not a coldbench results file ({exc})") from None
    numbers, incomplete = [], None
    try:
        document = json.loads(text)
    except ValueError as exc:
        try:
            document, numbers, incomplete = _read_lines(text, path)
        except ValueError:
            raise ResultsError(f"{path}: not a coldbench results file ({exc})") from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ResultsError(f"{path}: not a coldbench results file (no schema_version)")
    version = document["schema_version"]
    if version not in READS:
        raise ResultsError(f"{path}: results schema version {version} is not supported by "
                           f"this coldbench (it reads versions "
                           f"{', '.join(map(str, READS))}); upgrade coldbench to read it")
    run, samples = document.get("run", {}), document.get("samples", [])
    if not isinstance(run, dict):
        raise ResultsError(f"{path}: run is {json.dumps(run)[:40]}, not an object")
    if not isinstance(samples, list):
        raise ResultsError(f"{path}: samples is {json.dumps(samples)[:40]}, not a list")
    for i, sample in enumerate(samples):
        problem = check_sample(sample, version)
        if problem:
            where = f"line {numbers[i]}" if numbers else f"samples[{i}]"
            raise ResultsError(f"{path}: {where} {problem}; the file is damaged or "
                               "was not written by coldbench")
    if version < 3:     # variant words of run.profiles (schema 2) into the fields, once
        for profile in run.get("profiles") or []:
            if isinstance(profile, dict) and isinstance(profile.get("variant"), str):
                profile["variant"] = Variant.parse_label(profile["variant"]).to_json() or None
    return Results(run=run, samples=[Sample.from_json(s, version) for s in samples],
                   incomplete=incomplete)
