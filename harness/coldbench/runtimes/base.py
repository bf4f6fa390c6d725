"""What a language runtime must provide so coldbench can build and start it.

A runtime is one small class: how to check its toolchain, how to build a function folder
into a task root, and which process Lambda would start for it. Adding a runtime means
adding a module here, a folder under ``functions/``, and one line in ``__init__.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from coldbench.errors import BuildError, MissingToolchain


@dataclass(frozen=True)
class Launch:
    """The process that plays a Lambda runtime: its argv and the variables it needs
    beyond those Lambda itself sets (``AWS_LAMBDA_*``, ``_HANDLER``, ...)."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


class Runtime(ABC):
    """One language runtime. Subclasses are stateless; one instance is registered."""

    #: short name used on the command line and in results ("python", "node", ...)
    name: str
    #: handler used when the user does not give one, in the runtime's own notation
    default_handler: str
    #: the row of the documented comparison this runtime is read against
    documented_as: str
    #: the runtime identifier AWS Lambda uses for it (for the AWS target)
    lambda_runtime: str
    #: bump when the build recipe changes, so cached artifacts are rebuilt
    build_version: str = "1"
    #: folders in a function's source that are build output, never hashed or copied
    ignored_dirs: frozenset[str] = frozenset({".git", "__pycache__"})

    @abstractmethod
    def toolchain_version(self) -> str:
        """Version of the toolchain and runtime, e.g. ``"Python 3.11.7"``.

        Raises MissingToolchain with a one-line hint ("install X") when absent."""

    @abstractmethod
    def build(self, source: Path, out: Path) -> None:
        """Build the function in ``source`` into the empty folder ``out``, which becomes
        the task root (``LAMBDA_TASK_ROOT``). Raises BuildError with the tool's output."""

    @abstractmethod
    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        """The process Lambda would start for this runtime, given a built task root."""

    # helpers shared by runtimes --------------------------------------------------------

    def require(self, tool: str, hint: str) -> str:
        """Path of ``tool`` on PATH, or MissingToolchain naming what to install."""
        path = shutil.which(tool)
        if path is None:
            raise MissingToolchain(f"{self.name}: '{tool}' not found: {hint}")
        return path

    def run_tool(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None,
                 timeout: float = 1800) -> str:
        return run_tool(self.name, argv, cwd, env, timeout)


def run_tool(who: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 1800) -> str:
    """Run a build tool for ``who``; its stdout, or BuildError with the tail of its output."""
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise MissingToolchain(f"{who}: {exc.filename} not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{who}: '{' '.join(argv)}' took over {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BuildError(f"{who}: '{' '.join(argv)}' failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout
