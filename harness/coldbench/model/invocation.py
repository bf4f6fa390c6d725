"""An invocation as a target measured it, and the execution environment that serves
invocations: the vocabulary of the target interface (``coldbench.targets.base``), which
every environment (``coldbench.environments``) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


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
    # When the caller had its response, if the environment went on working after it (its
    # extensions' post-runtime time): e2e ends here. None: when invoke() returned.
    responded_ns: int | None = None


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
