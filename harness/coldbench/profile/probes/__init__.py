"""How each language shows where its init goes, by its own means. A probe switches the
runtime's own profiling on through variables added to the runtime's launch (the same
process, arguments and environment otherwise) and reads what that left behind.

A probe is a module with ``MEANS`` (what it switches on, in words), ``variables(folder,
env)`` (what to add to the launch's variables ``env``; ``folder`` is where the runtime may
write) and ``read(capture)`` (a ``Reading``). Runtimes without one are profiled as one item.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class Capture:
    """What one profiled cold start left: the runtime's output, the probe's folder, and the
    instants (``phases.now_ns``, CLOCK_MONOTONIC) of its exec and of its init's end."""

    log: str
    folder: Path
    exec_ns: int
    end_ns: int | None               # the first GET /next; None when init failed
    task_root: Path
    source: Path                     # the function's source folder
    handler: str


def for_runtime(name: str) -> ModuleType:
    """The probe of runtime ``name``; a runtime without one is profiled as a whole."""
    from coldbench.profile.probes import go, java, node, python, whole
    return {"python": python, "node": node, "java": java, "go": go}.get(name, whole)


def joined(env: dict[str, str], name: str, value: str, separator: str = " ") -> str:
    """``value`` added to the variable ``name`` the launch already sets, if it does."""
    return f"{env[name]}{separator}{value}" if env.get(name) else value
