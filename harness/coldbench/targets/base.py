"""The interface every place that runs functions implements: local processes, Docker
containers, AWS Lambda. Two small classes: a Target makes execution environments, an
Environment serves invocations one at a time. The workflow that turns them into samples
(modes, interleaving, cold-flag checks) lives in ``coldbench.measure.modes``, not here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from coldbench.build import Artifact

if TYPE_CHECKING:
    from coldbench.measure.modes import Config, Plan


@dataclass
class Invoked:
    """One invocation as the target measured it (see ``coldbench.phases``)."""

    duration_ms: float | None
    init_ms: float | None = None           # set on the invocation that waited for init
    response: object = None                # the function's decoded JSON response
    error: dict | None = None              # {"type", "message", "phase"}; None on success
    max_memory_mb: float | None = None
    extra: dict = field(default_factory=dict)   # target-specific figures, kept in samples
    # What the caller waited, when the target timed the request itself: a remote invoke,
    # whose environment is created inside the request. None: measure times start + invoke.
    e2e_ms: float | None = None


class Environment(ABC):
    """One execution environment of one function at one memory size."""

    #: False once the environment cannot serve again (crashed, timed out, was closed)
    alive: bool = True

    @abstractmethod
    def invoke(self, event: dict) -> Invoked:
        """Send one event and wait, within the target's timeout, for the outcome."""

    @abstractmethod
    def close(self) -> None:
        """Stop the environment and release all it holds. Safe to call twice."""


class Target(ABC):
    """A place that runs functions."""

    name: str

    def prepare(self, configs: list[Config], plan: Plan) -> list[Config]:
        """Called once before the first sample, with every configuration and the plan; the
        configurations to measure are returned. A remote target deploys here, and may add
        configurations of its own (``Config.variant``, e.g. one per CPU architecture)."""
        return configs

    @abstractmethod
    def start(self, artifact: Artifact, memory_mb: int, provisioned: bool) -> Environment:
        """A new execution environment. ``provisioned``: return only once its init has
        finished, as provisioned concurrency does; otherwise init runs on the first invoke."""

    def describe(self) -> dict:
        """Metadata of this target for the results file (host, limits, versions)."""
        return {"target": self.name}

    def notes(self, memory_mb: int) -> list[str]:
        """Caveats of a configuration on this target (for example a capped CPU share)."""
        return []

    def close(self) -> None:
        """Release everything this target made; called once, also on errors and Ctrl-C."""
