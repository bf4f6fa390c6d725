"""The profile document `coldbench profile --output` writes: JSON with a schema and a
version of its own (results files have theirs, ``results/schema.py``).

Per function: the Init Duration of every unprofiled and profiled sample, the overhead
(profiled median less unprofiled median), the parts and tree of every profiled sample,
and their medians (the tree the terminal shows); with external extensions, each
extension's register and ready instants (p50 over the profiled samples, ms from the start
of init, as the cold samples record them) and the extensions' part of Init Duration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from coldbench import files
from coldbench.errors import ResultsError
from coldbench.model import collect_metadata, median, now_iso
from coldbench.model import Artifact
from coldbench.profile.tree import EXTENSIONS, PART_LABELS, PARTS, Item, median_tree
from coldbench.results.schema import Sample

SCHEMA = "coldbench-profile"
# 1: first version.
# 2: with external extensions, an "extensions" part first in "parts" and in the tree (one
#    item per extension) and "extensions" ([{name, registered_ms, ready_ms, n}]); each
#    profiled sample has the cold sample's extensions, extension_registration_ms and
#    runtime_init_ms. A document of version 1 is read as it is (it has none of them).
VERSION = 2
READABLE = (1, 2)



DEFAULT_SAMPLES = 5
DEFAULT_MEMORY_MB = 1769          # one full vCPU on Lambda
EVENT = {"work": 0}


@dataclass
class Request:
    runtimes: list[str]
    function_dir: Path | None = None
    handler: str | None = None
    function_set: str = "hello"       # the built-in functions (coldbench.function_sets)
    samples: int = DEFAULT_SAMPLES
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: float = 60.0
    limits: bool = True
    delivery: str | None = None       # None: the local target's default
    rebuild: bool = False
    # `--template` and its companions (RunOptions' fields of the same names); each
    # template function at its own memory size unless ``template_memory`` is False
    template: Path | None = None
    function_names: tuple[str, ...] = ()
    env_vars: Path | None = None
    layer_dirs: tuple[str, ...] = ()
    template_memory: bool = True
    layers: tuple = ()                # the functions' layers (``--layer``), in order


@dataclass
class ProfiledSample:
    init_ms: float | None
    error: dict | None
    parts: dict[str, float | None]
    tree: Item
    sample: Sample | None = None       # the cold sample itself, as `run` records samples


@dataclass
class FunctionProfile:
    """Every sample of one function: the unprofiled ones' Init Duration and error, the
    profiled ones' reading."""

    artifact: Artifact
    means: str
    unprofiled: list[tuple[float | None, dict | None]] = field(default_factory=list)
    profiled: list[ProfiledSample] = field(default_factory=list)
    split: bool = True
    how: dict[str, str] = field(default_factory=dict)
    remainder: str | None = None
    memory_mb: int | None = None       # a template function's own size (else the request's)


def summary(result: FunctionProfile) -> dict:
    """One function's profile as the document holds it."""
    function = result.artifact.function
    unprofiled = [ms for ms, error in result.unprofiled if error is None and ms is not None]
    profiled_ok = [s for s in result.profiled if s.error is None and s.init_ms is not None]
    base = median(unprofiled)
    profiled = median([s.init_ms for s in profiled_ok])
    trees = [s.tree for s in (profiled_ok or result.profiled)]
    errors = [error | {"sample": kind} for kind, error in _errors(result)]
    return {
        "runtime": function.runtime.name,
        "function": function.name,
        "handler": function.configured_handler,
        **({"memory_mb": result.memory_mb} if result.memory_mb is not None else {}),
        "toolchain": result.artifact.toolchain,
        "means": result.means,
        "init_ms": {
            "unprofiled": {"p50": _round(base), "n": len(unprofiled),
                           "samples": [_round(ms) for ms, _ in result.unprofiled]},
            "profiled": {"p50": _round(profiled), "n": len(profiled_ok),
                         "samples": [_round(s.init_ms) for s in result.profiled]},
        },
        "overhead_ms": _round(None if base is None or profiled is None else profiled - base),
        "overhead_pct": _round(None if not base or profiled is None
                               else 100 * (profiled - base) / base),
        "split": result.split,
        "parts": [{"part": part, "label": PART_LABELS[part],
                   "ms": _round(median([s.parts.get(part) for s in (profiled_ok or result.profiled)])),
                   "how": result.how.get(part), "remainder": part == result.remainder}
                  for part in _parts(profiled_ok or result.profiled)],
        **({"extensions": extensions} if (extensions := _extensions(
            profiled_ok or result.profiled)) else {}),
        "tree": median_tree(trees).to_dict() if trees else None,
        "errors": errors,
        "profiled_samples": [{"init_ms": _round(s.init_ms), "error": s.error,
                              "parts": {p: _round(v) for p, v in s.parts.items()},
                              "tree": s.tree.to_dict(), **_instants(s)}
                             for s in result.profiled],
    }


def run_entry(result: FunctionProfile, config) -> dict:
    """One configuration's profile as a results file keeps it (``run.profiles``, results
    schema 2): the summary above with the configuration's memory size and variant; each
    profiled sample's own tree is on the sample, so it is not repeated here."""
    entry = summary(result)
    del entry["profiled_samples"]
    return {"memory_mb": config.memory_mb, "variant": config.variant.to_json() or None} | entry


def _parts(samples: list[ProfiledSample]) -> tuple[str, ...]:
    """The parts the samples have: the extensions' first, where one had extensions."""
    return (EXTENSIONS, *PARTS) if any(EXTENSIONS in s.parts for s in samples) else PARTS


def _extensions(samples: list[ProfiledSample]) -> list[dict]:
    """Each extension's register and ready instants, p50 over the samples that have it
    (ms from the start of init, as the cold samples record them)."""
    seen: dict[str, list[dict]] = {}
    for taken in samples:
        for extension in (taken.sample.extra if taken.sample else {}).get("extensions") or []:
            seen.setdefault(extension["name"], []).append(extension)
    return [{"name": name, "registered_ms": _round(median([e["registered_ms"] for e in found])),
             "ready_ms": _round(median([e["ready_ms"] for e in found])), "n": len(found)}
            for name, found in seen.items()]


def _instants(taken: ProfiledSample) -> dict:
    """A profiled sample's extensions as the cold sample records them (``extensions``,
    ``extension_registration_ms``, ``runtime_init_ms``), where it had some."""
    extra = taken.sample.extra if taken.sample else {}
    return {key: extra[key] for key in ("extensions", "extension_registration_ms",
                                        "runtime_init_ms") if extra.get("extensions")}


def _errors(result: FunctionProfile):
    for kind, samples in (("unprofiled", [e for _, e in result.unprofiled]),
                          ("profiled", [s.error for s in result.profiled])):
        for error in samples:
            if error is not None:
                yield kind, error


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def document(results: list[FunctionProfile], request: Request, started_at: str) -> dict:
    return {
        "schema": SCHEMA,
        "version": VERSION,
        **collect_metadata(),
        "started_at": started_at,
        "ended_at": now_iso(),
        "target": "local",
        "memory_mb": request.memory_mb,
        "samples": request.samples,
        "limits": request.limits,
        "profiles": [summary(result) for result in results],
    }




def write(path: Path, doc: dict) -> None:
    files.replace_file(path, json.dumps(doc, indent=1) + "\n")


def load(path: Path) -> dict:
    """A profile document; ResultsError for one of another schema or an unknown version."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ResultsError(f"cannot read the profile {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ResultsError(f"{path} is not a coldbench profile document")
    if doc.get("version") not in READABLE:
        raise ResultsError(f"{path} is a profile of version {doc.get('version')}; this "
                           f"coldbench reads version {VERSION}: use the coldbench that wrote it")
    return doc


def tree_of(profile: dict) -> Item | None:
    return Item.from_dict(profile["tree"]) if profile.get("tree") else None
