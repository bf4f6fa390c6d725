"""Runtimes no probe can look into (Rust, whose client is compiled into its bootstrap,
and runtimes from plug-ins): Init Duration as one item."""

from __future__ import annotations

from pathlib import Path

from coldbench.profile.probes.base import Capture
from coldbench.profile.tree import Item, Reading

MEANS = "none: the runtime's init as one item"


def variables(folder: Path, env: dict[str, str]) -> dict[str, str]:
    return {}


def read(capture: Capture) -> Reading:
    init_ms = None if capture.end_ns is None else (capture.end_ns - capture.exec_ns) / 1e6
    item = Item("bootstrap (not split)", init_ms, init_ms)
    return Reading(parts={}, items={"function": [item]}, split=False,
                   how={"function": "the whole Init Duration: not split"})
