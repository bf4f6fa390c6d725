"""How each language shows where its init goes, by its own means. A probe switches the
runtime's own profiling on through variables added to the runtime's launch (the same
process, arguments and environment otherwise) and reads what that left behind.

A probe is a module with ``MEANS`` (what it switches on, in words), ``variables(folder,
env)`` (what to add to the launch's variables ``env``; ``folder`` is where the runtime may
write) and ``read(capture)`` (a ``Reading``). A runtime names its probe's module
(``Runtime.probe``), so a runtime from a plug-in brings its own; runtimes without one are
profiled as one item (``whole``).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from coldbench.profile.probes import whole
from coldbench.profile.probes.base import Capture, joined
from coldbench.runtimes.base import Runtime

__all__ = ["Capture", "for_runtime", "joined"]


def for_runtime(runtime: Runtime) -> ModuleType:
    """The probe the runtime names (``Runtime.probe``); a runtime without one is profiled
    as a whole."""
    return import_module(runtime.probe) if runtime.probe else whole
