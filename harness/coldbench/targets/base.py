"""The interface every place that runs functions implements: local processes, Docker
containers, AWS Lambda. Two small classes: a Target makes execution environments, an
Environment serves invocations one at a time. The workflow that turns them into samples
(modes, interleaving, cold-flag checks) lives in ``coldbench.measure.modes``, not here.

A target plugs in through a ``TargetPlugin``, registered by an entry point in the group
``coldbench.targets`` (``coldbench.targets.TARGETS``), which says what coldbench needs
before a target exists: the options ``coldbench run`` and ``coldbench cleanup``
take for it (``Option``), the rules those follow (``check_options``), how they make one
(``from_options``) and what killed runs left behind (``find_leftovers``, ``Leftover``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator, Protocol, runtime_checkable

from coldbench.errors import UsageError
from coldbench.model import Artifact, Config, Environment, Invoked, Plan
from coldbench.model.options import RunOptions


@dataclass(frozen=True)
class Option:
    """A command-line option of one target, for ``coldbench run`` or ``cleanup``. Its value
    reaches the target under ``key`` (``RunOptions.target_options``; the settings of
    ``find_leftovers``) as given: a string, a number, or True/False for a flag. Targets
    that declare the same flag share one option."""

    flag: str                             # "--region"
    help: str
    default: object = None
    type: type = str                      # str, int, float; bool: a flag
    choices: tuple[str, ...] = ()
    dest: str = ""                        # the key; "" derives it ("--role-arn": role_arn)

    @property
    def key(self) -> str:
        return self.dest or self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Leftover:
    """Something a killed run left behind: a process group, a container, a cloud resource."""

    what: str                             # "cgroup coldbench-1a2b3c4d-3", "function ..."
    where: str                            # "on this machine", "in us-east-1"
    remove: Callable[[], str]             # removes it; the line that says so
    #: why it is kept: a live process owns it ("run 1a2b3c4d is live (pid 123)"); None: left
    in_use: str | None = None


class NotSearched(UsageError):
    """``find_leftovers`` cannot look without a setting the user did not give (an AWS
    region): refused when the user named the target, skipped with a note otherwise."""


class Target(ABC):
    """A place that runs functions."""

    #: the name on the command line (--target) and in results
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


@runtime_checkable
class Bursts(Protocol):
    """A target that takes bursts (`coldbench run --burst N`)."""

    def burst(self, artifact: Artifact, memory_mb: int, count: int,
              event: dict) -> list[tuple[Invoked, float | None]]:
        """``count`` invocations sent at once at a configuration with no environment, each
        (what it returned, its end-to-end ms): a burst of cold starts."""


@runtime_checkable
class SweepsIdle(Protocol):
    """A target that keeps environments between invocations and sweeps idle intervals
    (`coldbench run --idle 5m,15m`)."""

    def idle(self, configs: list[Config], intervals_s: list[float], samples: int,
             event: dict) -> Iterator[tuple[Config, float, Invoked]]:
        """The idle sweep: per configuration and interval, ``samples`` times, invoke a
        function, leave it alone (no invocation, no configuration change) for the interval,
        and invoke it again; yields (configuration, interval, the second invocation) as each
        ends. Waits overlap, so that the sweep takes about its longest interval."""


@runtime_checkable
class PublishesImages(Protocol):
    """A target that deploys functions as container images it builds and publishes to a
    registry (`coldbench run --target aws --package image`); the run keeps what it
    published (the results' ``images``, whose sizes the cost model prices as stored)."""

    def published_images(self) -> dict:
        """``{"images": runtime -> its published image, "image_notes": [...]}`` once
        ``prepare`` has published them; empty when it published none."""


class TargetPlugin(ABC):
    """What coldbench needs of a target before one exists: the class an entry point in the
    group ``coldbench.targets`` names. It is not a Target; ``from_options`` makes one."""

    #: the name on the command line (--target) and in results; its entry point's name
    name: ClassVar[str]

    #: a few words for --help: where this target runs functions
    summary: ClassVar[str] = ""
    #: options `coldbench run` takes for this target (RunOptions.target_options)
    run_options: ClassVar[tuple[Option, ...]] = ()
    #: options `coldbench cleanup` takes for it (the settings find_leftovers gets)
    cleanup_options: ClassVar[tuple[Option, ...]] = ()
    #: True: `coldbench cleanup` asks before removing its leftovers (unless --yes)
    cleanup_asks: ClassVar[bool] = False
    #: the Target classes ``from_options`` makes: what its targets can do beyond the
    #: interface (``Bursts``, ``SweepsIdle``, ``PublishesImages``) is what every one of
    #: them implements
    makes: ClassVar[tuple[type, ...]] = ()

    @classmethod
    def can(cls, capability: type) -> bool:
        """Every target this plug-in makes has ``capability`` (a protocol above)."""
        return bool(cls.makes) and all(issubclass(made, capability) for made in cls.makes)

    @classmethod
    def check_options(cls, options: RunOptions) -> RunOptions:
        """Refuse, with a UsageError, what this target cannot run; or adjust what the user
        left at its default (``options.defaulted``), saying so in its notes: the options to
        run with (``options.adjusted``; ``options`` itself when nothing changes). Called
        before anything is built, and maybe again with what it returned."""
        return options

    @classmethod
    @abstractmethod
    def from_options(cls, options: RunOptions) -> "Target":
        """The target, configured from a run's checked options."""

    @classmethod
    def find_leftovers(cls, settings: dict) -> list[Leftover]:
        """What killed runs left behind, to be removed in the order given. ``settings``:
        the values of ``cleanup_options``. Raises NotSearched when one it needs is missing."""
        return []
