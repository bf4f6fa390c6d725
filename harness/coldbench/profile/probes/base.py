"""What every probe reads: the ``Capture`` of one profiled cold start, and a helper for the
variables a probe adds to a launch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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


def joined(env: dict[str, str], name: str, value: str, separator: str = " ") -> str:
    """``value`` added to the variable ``name`` the launch already sets, if it does."""
    return f"{env[name]}{separator}{value}" if env.get(name) else value
