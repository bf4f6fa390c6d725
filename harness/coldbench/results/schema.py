"""The results file: one versioned JSON document with the run's metadata and every raw
sample, rewritten whole (write, then rename) after each sample so that an interrupted run
leaves a valid file with all it measured.

Other tools read this file; the contract is ``schema_version``, ``run`` and ``samples``
(fields in ``Sample``). Fields may be added within a version; none are removed or renamed.
``run["run_id"]`` names the run in a history (``coldbench.results.history``): unique, and sorting
run ids sorts runs by start time.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from coldbench.errors import ResultsError

# Changelog:
#   1 - first version: run metadata, samples with init/duration/e2e/billed/max memory.
#       Added within 1: run.run_id.
#       Added within 1: run.api, run.rie, run.container_images (docker target);
#       samples' container_start_ms (docker) and first_response_ms (--api rie).
#       Added within 1: run.completed (False for a run that was interrupted or failed;
#       run.ended_at is set either way).
SCHEMA_VERSION = 1

MODES = ("cold", "warm", "provisioned")


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
    function: str = "coldbench"      # which function: the built-in one or a user's folder name
    misclassified: bool = False      # the function's cold flag disagrees with the mode
    instance_id: str | None = None
    invocation: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.error is None and not self.misclassified

    def to_json(self) -> dict:
        document = asdict(self)
        document.update(document.pop("extra"))
        return document

    @classmethod
    def from_json(cls, document: dict) -> "Sample":
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        extra = {k: v for k, v in document.items() if k not in known}
        return cls(**{k: v for k, v in document.items() if k in known}, extra=extra)


@dataclass
class Results:
    run: dict
    samples: list[Sample]

    def to_json(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "run": self.run,
                "samples": [s.to_json() for s in self.samples]}


class ResultsWriter:
    """Keeps ``path`` up to date with everything measured so far."""

    def __init__(self, path: Path | None, run: dict, overwrite: bool = False):
        self.path = Path(path) if path else None
        self.results = Results(run=run, samples=[])
        if self.path is not None:
            if self.path.exists() and not overwrite:
                raise ResultsError(f"{self.path} exists: choose another --output, "
                                   "or pass --force to replace it")
            if not self.path.parent.is_dir():
                raise ResultsError(f"cannot write {self.path}: folder "
                                   f"{self.path.parent} does not exist")

    def add(self, sample: Sample) -> None:
        self.results.samples.append(sample)
        self.flush()

    def flush(self) -> None:
        if self.path is not None:
            write_atomic(self.path, self.results.to_json())


def new_run_id() -> str:
    """A run id: the UTC start time to the second, then 8 random hex digits."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def write_atomic(path: Path, document: dict) -> None:
    """Write JSON to ``path`` so that readers see the old file or the new one, never half."""
    replace_file(path, json.dumps(document, indent=1) + "\n")


def replace_file(path: Path, text: str) -> None:
    """Replace ``path`` whole (write beside it, then rename), readable by all: readers see
    the old file or the new one, never half of one. Every file coldbench rewrites goes here."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o644)
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> Results:
    """Read a results file; refuse versions this coldbench does not know."""
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: not a coldbench results file ({exc})") from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ResultsError(f"{path}: not a coldbench results file (no schema_version)")
    version = document["schema_version"]
    if version != SCHEMA_VERSION:
        raise ResultsError(f"{path}: results schema version {version} is not supported by "
                           f"this coldbench (it reads version {SCHEMA_VERSION}); "
                           "upgrade coldbench to read it")
    return Results(run=document.get("run", {}),
                   samples=[Sample.from_json(s) for s in document.get("samples", [])])
