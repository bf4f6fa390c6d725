"""A built function: its task root and what went into it. ``coldbench.build`` makes them
(and the ``Function`` they were built from: a source folder in one runtime)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Artifact:
    """A built function: its task root and what went into it."""

    function: Any          # a ``coldbench.build.Function`` (name, runtime, source, handler)
    task_root: Path
    digest: str            # hash of the sources alone: equal code, equal digest
    toolchain: str
