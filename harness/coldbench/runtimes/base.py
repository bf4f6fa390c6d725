"""What a language runtime must provide so coldbench can build, start and deploy it.

A runtime is one small class: how to check its toolchain, how to build a function folder
into a task root, which process Lambda would start for it, where its built-in function is,
how the docker target makes an image for it (``ImageRecipe``) and how the AWS target
packages it for Lambda (``lambda_package``; ``lambda_image`` for a container image). It is registered by an entry point in the
group ``coldbench.runtimes`` (``coldbench.runtimes.RUNTIMES``), from coldbench's own
pyproject.toml or from any other installed package.
"""

from __future__ import annotations

import copy
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol, runtime_checkable

from coldbench.errors import MissingToolchain, UsageError
from coldbench.model import Artifact
from coldbench.model.options import RunOptions
from coldbench.tools import end_session, run_tool

__all__ = ["BUILTIN_FUNCTIONS", "ImageRecipe", "LambdaImage", "Launch", "Runtime", "end_session",
           "join_paths", "run_tool"]

# The functions shipped with coldbench, one folder per built-in runtime (functions/<name>/):
# package data (coldbench/functions, in a source tree a link to the repository's functions/),
# so that an installed coldbench has them too.
BUILTIN_FUNCTIONS = Path(os.environ.get(
    "COLDBENCH_FUNCTIONS", Path(__file__).resolve().parents[1] / "functions"))


@dataclass(frozen=True)
class Launch:
    """The process that plays a Lambda runtime: its argv and the variables it needs
    beyond those Lambda itself sets (``AWS_LAMBDA_*``, ``_HANDLER``, ...)."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageRecipe:
    """How the docker target puts a runtime into a container image
    (``coldbench.targets.images``).

    ``--images aws`` starts from ``aws_base``, AWS's base image for Lambda that stands for
    the runtime. ``--images local`` builds on a Debian root filesystem that holds AWS's
    emulator: ``packages`` (Debian's) are installed and ``host_binary`` is copied in as
    ``executable``, which takes the place of the program ``Runtime.launch`` starts. A
    runtime whose task root holds its own ``bootstrap``, as on ``provided.al2023``, needs
    no executable."""

    aws_base: str | None = None          # e.g. "public.ecr.aws/lambda/python:3.12"
    executable: str | None = None        # the runtime's program in the image
    # shell command printing the runtime's version ({executable}: the program in the image)
    version: str = "true"
    # Debian packages, or a function of the toolchain the task root was built with
    # (``Artifact.toolchain``) that names them
    packages: Sequence[str] | Callable[[str], Sequence[str]] = ()
    host_binary: Callable[[], Path] | None = None
    # a runtime of this machine that is a folder, not one file (a Python build, a Java
    # home): (the folder, its program), or None for none; copied into the image at the same
    # path (a Python build names its own library by its path), its program the executable
    host_tree: Callable[[], tuple[Path, Path] | None] | None = None
    origin: str = ""                     # where the runtime comes from, for the results
    # shell command run once the task root is in the image ({task_root}: its path there;
    # {executable}: the runtime's program), since containers mount it read-only
    finish: str = ""
    # check(toolchain, found_version) raises BuildError when the image's runtime, as it
    # printed its version, cannot run a task root built with that toolchain
    check: Callable[[str, str], None] | None = None

    def debian_packages(self, toolchain: str) -> list[str]:
        return list(self.packages(toolchain) if callable(self.packages) else self.packages)


@dataclass(frozen=True)
class LambdaImage:
    """How the AWS target makes a function's container image for Lambda
    (``--package image``; ``coldbench.targets.aws.images``): the deployment package's files
    at /var/task on ``aws_base``, AWS's base image for the Lambda runtime identifier, with
    the handler as the image's command (Lambda Developer Guide, "Create a Lambda function
    using a container image"). ``bootstrap_in_runtime_dir``: the package's ``bootstrap``
    also goes to /var/runtime, where AWS's OS-only base images start it."""

    aws_base: str                        # e.g. "public.ecr.aws/lambda/python:3.13"
    bootstrap_in_runtime_dir: bool = False

    @classmethod
    def os_only(cls, lambda_runtime: str) -> "LambdaImage":
        """For a function that brings its own ``bootstrap`` (``provided.al2023``): AWS's
        OS-only base image of that identifier, which starts /var/runtime/bootstrap."""
        return cls(f"public.ecr.aws/lambda/provided:{lambda_runtime.removeprefix('provided.')}",
                   bootstrap_in_runtime_dir=True)


class Runtime(ABC):
    """One language runtime. Subclasses are stateless; one instance is registered."""

    #: short name used on the command line and in results ("python", "node", ...); the
    #: name of its entry point. A version of it chosen by Lambda's identifier (``at``) is
    #: named by that identifier ("python3.13"), on the command line and in results alike.
    name: str
    #: handler used when the user does not give one, in the runtime's own notation
    default_handler: str
    #: the runtime identifier AWS Lambda uses for it (for the AWS target); for the runtime
    #: named by its language ("python"), the version the documented comparison's row names
    #: ("python3.12"), and the local toolchain it starts is of that version
    lambda_runtime: str
    #: Lambda's identifiers of the versions it can also run as (``--runtimes python3.13``),
    #: each on a local toolchain of that version; empty: only ``lambda_runtime``
    lambda_runtimes: tuple[str, ...] = ()
    #: the row of the documented comparison this runtime is read against (None: none)
    documented_as: str | None = None
    #: the row of AWS's published Init Duration table that stands for it (None: none)
    aws_init_row: str | None = None
    #: for a runtime no published figure measures (an OS-only one, whose functions bring
    #: their own bootstrap): the runtime whose built-in function and published figure its
    #: functions' predictions start from, on the same Lambda runtime (None: its own)
    anchored_on: str | None = None
    #: the module of its profile probe (``coldbench.profile.probes``): how `coldbench
    #: profile` looks into its init; None: its init is profiled as one item
    probe: str | None = None
    #: how the docker target makes an image for it
    image: ImageRecipe = ImageRecipe()
    #: bump when the build recipe changes, so cached artifacts are rebuilt
    build_version: str = "1"
    #: whether `--runtimes all` takes it (a runtime of no one language may not)
    in_all: bool = True
    #: whether a function may be a .zip file (a deployment package) instead of a folder
    accepts_zip: bool = False
    #: folders in a function's source that are build output, never hashed or copied
    ignored_dirs: frozenset[str] = frozenset({".git", "__pycache__"})

    @property
    def language(self) -> str:
        """The name it is registered by ("python"), whatever version it runs."""
        return type(self).name

    @property
    def function_dir(self) -> Path:
        """The folder of its built-in function (the contract of functions/README.md).
        coldbench's own are under functions/; a plug-in's lives in its own package."""
        return BUILTIN_FUNCTIONS / self.language

    def at(self, identifier: str) -> "Runtime":
        """This runtime as the version Lambda names ``identifier`` (one of
        ``lambda_runtimes``), named so in results and tables; its toolchain is found for
        that version (``toolchain_version`` raises MissingToolchain naming how to give it).
        A runtime whose toolchain depends on the version reads ``lambda_runtime``."""
        if identifier not in self.lambda_runtimes:
            raise UsageError(f"{self.language} runs as {', '.join(self.lambda_runtimes)}, "
                             f"not {identifier}")
        # the published figure of that version
        row = {} if self.aws_init_row is None else {"aws_init_row": identifier}
        return self._copy_with(name=identifier, lambda_runtime=identifier, **row)

    def building_for(self, options: RunOptions) -> "Runtime":
        """This runtime building as the run ``options`` asks, when its builds take a choice
        of the run's (Python's ``--python-bytecode``; ``build_settings`` says which); itself
        by default."""
        return self

    def build_settings(self) -> dict[str, str]:
        """What this runtime's builds are made with beyond its recipe and toolchain (a
        choice of the run's, such as Python's ``--python-bytecode``): part of the build's
        cache key and of the results' record of each function. None by default."""
        return {}

    def _copy_with(self, **attributes) -> "Runtime":
        """A copy of this runtime with ``attributes`` set: how it is made at another
        version (``at``) or build setting (``building_for``)."""
        changed = copy.copy(self)
        for name, value in attributes.items():
            setattr(changed, name, value)
        return changed

    @abstractmethod
    def toolchain_version(self) -> str:
        """Version of the toolchain and runtime, e.g. ``"Python 3.11.7"``.

        Raises MissingToolchain with a one-line hint ("install X") when absent."""

    @abstractmethod
    def build(self, source: Path, out: Path) -> None:
        """Build the function in ``source`` into the empty folder ``out``, which becomes
        the task root (``LAMBDA_TASK_ROOT``). Raises BuildError with the tool's output."""

    def check_source(self, source: Path) -> None:
        """Raise UsageError when ``source`` cannot be a function of this runtime, before
        anything is built (``Function.user``). Nothing is checked by default: the build
        says what is wrong."""

    @abstractmethod
    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        """The process Lambda would start for this runtime, given a built task root."""

    def layer_variables(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` with the folders of /opt that Lambda's runtime puts on its search paths
        when a function has layers (AWS Lambda Developer Guide, "Layer paths for each
        Lambda runtime"): for every runtime ``bin`` last on PATH and ``lib`` last on
        LD_LIBRARY_PATH, as Lambda's own values end. A runtime adds its language's."""
        return env | {"PATH": join_paths(env.get("PATH"), "/opt/bin"),
                      "LD_LIBRARY_PATH": join_paths(env.get("LD_LIBRARY_PATH"), "/opt/lib")}

    def runtime_files(self, task_root: Path) -> list[Path]:
        """Files and folders of a built task root that Lambda's runtime brings itself (its
        runtime interface client), which on Lambda come warm from the runtime's image, not
        cold with the function's code. With ``--delivery lambda`` they are read from this
        machine's page cache; everything else in the task root, from the code image. None
        by default: on ``provided.al2023`` the client is compiled into the bootstrap."""
        return []

    def installation(self) -> list[Path]:
        """This machine's files that make the runtime (its program, its own libraries, its
        standard library), which ``--runtime-cache cold`` evicts from the page cache before
        each start. None by default: a static bootstrap in the task root needs none."""
        return []

    def lambda_package(self, artifact: Artifact, architecture: str, lambda_runtime: str,
                       out: Path) -> None:
        """Lay out, in the empty folder ``out``, the deployment package of a built function
        for ``lambda_runtime`` on ``architecture`` ("x86_64", "arm64"), as that Lambda
        runtime expects it; the AWS target zips it (``coldbench.targets.aws.package``
        has the shared helpers). Raises BuildError or MissingToolchain."""
        raise UsageError(f"the AWS target cannot package {self.name} functions: the "
                         "runtime defines no lambda_package")

    def lambda_image(self, lambda_runtime: str) -> LambdaImage:
        """How a function of this runtime becomes a container image for ``lambda_runtime``
        (its files are those of ``lambda_package``). Raises UsageError when the runtime
        says nothing of images."""
        raise UsageError(f"the AWS target cannot make container images of {self.name} "
                         "functions: the runtime defines no lambda_image")

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


def join_paths(*parts: str | None) -> str:
    """A search path of ``parts`` in order, the empty ones left out."""
    return ":".join(part for part in parts if part)


# -- the packages of a task root (`coldbench mitigate`) ------------------------------------

@dataclass(frozen=True)
class Package:
    """A top-level package of a task root: what would load it (module or package names),
    its files (relative to the task root) and their size in bytes."""

    name: str
    modules: tuple[str, ...]
    paths: tuple[str, ...]
    size_bytes: int

    def to_dict(self) -> dict:
        return {"name": self.name, "modules": list(self.modules), "paths": list(self.paths),
                "size_bytes": self.size_bytes}


@runtime_checkable
class ReadsPackages(Protocol):
    """A runtime whose task root coldbench can read as packages, and whose profiled init
    names what it loaded (`coldbench mitigate`'s package analysis)."""

    def task_root_packages(self, artifact: Artifact) -> list[Package]:
        """The packages of the artifact's task root, without the runtime's own."""

    def loaded_packages(self, names: Iterable[str], handler: str) -> set[str]:
        """What a profiled init loaded (the names of its profile's items), as the names
        ``Package.modules`` holds."""


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file below a folder (links not followed)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    return sum((Path(folder) / name).lstat().st_size
               for folder, _, names in os.walk(path) for name in names)


def package_of(root: Path, name: str, modules, paths) -> Package:
    return Package(name, tuple(sorted(modules)),
                   tuple(sorted(str(p.relative_to(root)) for p in paths)),
                   sum(size_of(p) for p in paths))
