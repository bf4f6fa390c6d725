"""Built functions, cached by a content hash of their sources.

``coldbench build`` and ``coldbench run`` both come here: an artifact is rebuilt only when
a source file, the runtime's build recipe or its toolchain version changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from coldbench import function_sets
from coldbench import owners
from coldbench.errors import UsageError
from coldbench.model import Artifact
from coldbench.runtimes import Runtime
from coldbench.tools import cache_root, end_all_tools

__all__ = ["Artifact", "Function", "build", "cache_root", "source_digest", "source_files"]


@dataclass(frozen=True)
class FunctionConfiguration:
    """What a function's definition sets beside its code and handler, as Lambda's
    GetFunctionConfiguration names it (``coldbench.templates``). Every field None or empty:
    not set, coldbench's own settings apply."""

    lambda_runtime: str | None = None          # "python3.13": AWS_EXECUTION_ENV says it
    memory_mb: int | None = None               # measured at this size unless --memory
    timeout_s: float | None = None             # the invocation's timeout and deadline
    architecture: str | None = None
    environment: tuple[tuple[str, str], ...] = ()   # the function's own variables
    layers: tuple[Path, ...] = ()              # local content of its layers, in order


@dataclass(frozen=True)
class Layer:
    """A Lambda layer as given (a folder or a .zip, as ``aws lambda publish-layer-version``
    takes it): its name, where it is, the digest of its content and its size unzipped.
    Made by ``coldbench.layers.load``."""

    name: str
    source: Path
    digest: str            # SHA-256 of the zip's bytes, or of the folder's files
    unzipped_bytes: int    # what Lambda counts against its 250 MB
    # The function configuration the layer's own instructions add with it: a handler that
    # wraps the function's (Datadog's datadog_lambda.handler.handler), variables
    # (AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument). Set wherever the layer is.
    handler: str | None = None
    env: tuple[tuple[str, str], ...] = ()

    def describe(self) -> dict:
        """What a sample and the results say of it."""
        return {"name": self.name, "digest": self.digest,
                **({"handler": self.handler} if self.handler else {}),
                **({"env": dict(self.env)} if self.env else {})}


@dataclass(frozen=True)
class Function:
    """A function to measure: its source folder, in one runtime, with its handler, and
    the layers it is configured with, in order (Lambda's ``Layers``)."""

    name: str
    runtime: Runtime
    source: Path
    handler: str
    layers: tuple[Layer, ...] = ()
    configuration: FunctionConfiguration = FunctionConfiguration()

    @property
    def configured_handler(self) -> str:
        """The handler Lambda starts: the last layer's that sets one, else the function's."""
        return next((l.handler for l in reversed(self.layers) if l.handler), self.handler)

    def configured_env(self) -> dict[str, str]:
        """The variables the function's layers add to its configuration, in order."""
        return {name: value for layer in self.layers for name, value in layer.env}

    @classmethod
    def builtin(cls, runtime: Runtime, function_set: str = "hello") -> "Function":
        """The runtime's function of a built-in set (``coldbench.function_sets``): by
        default its own (``Runtime.function_dir``), named "coldbench"."""
        chosen = function_sets.get(function_set)
        source = chosen.folder(runtime)
        if not source.is_dir():
            raise UsageError(f"{runtime.name}: the {chosen.name} function set has no "
                             f"function for it ({source} is missing)")
        return cls(chosen.function, runtime, source, runtime.default_handler)

    @classmethod
    def user(cls, runtime: Runtime, source: Path, handler: str | None) -> "Function":
        source = Path(source).resolve()
        if runtime.accepts_zip and source.is_file() and os.access(source, os.R_OK):
            pass                  # a deployment package, as the runtime takes one
        elif not source.is_dir() or not os.access(source, os.R_OK | os.X_OK):
            raise UsageError(f"function folder '{source}' is not a readable folder")
        runtime.check_source(source)
        return cls(source.name, runtime, source, handler or runtime.default_handler)


READABLE = 0o005      # others may read and enter: the runtime runs as an unprivileged user


def make_readable(task_root: Path) -> None:
    """Let every user read the task root's files and enter its folders, as the runtime's
    unprivileged user must (the build's staging folder is made private)."""
    for folder, _, names in os.walk(task_root):
        os.chmod(folder, os.stat(folder).st_mode | 0o755)
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)


def source_files(function: Function) -> list[Path]:
    ignored = function.runtime.ignored_dirs
    if function.source.is_file():         # a zip (``Runtime.accepts_zip``)
        return [function.source]
    files = []
    for folder, dirs, names in os.walk(function.source):
        dirs[:] = sorted(d for d in dirs if d not in ignored)
        files.extend(Path(folder) / n for n in sorted(names))
    return files


def source_digest(function: Function) -> str:
    """SHA-256 over the relative paths and contents of the function's sources."""
    digest = hashlib.sha256()
    for path in source_files(function):
        digest.update(str(path.relative_to(function.source)
                          if path != function.source else path.name).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build(function: Function, rebuild: bool = False,
          on_status: Callable[[str], None] = lambda text: None) -> Artifact:
    """The function's artifact, built now if the cache does not have it (``on_status``
    hears "building ..." then, and only then)."""
    runtime = function.runtime
    toolchain = runtime.toolchain_version()
    digest = source_digest(function)
    settings = "".join(f"\0{name}={value}" for name, value in sorted(runtime.build_settings().items()))
    key = hashlib.sha256(f"{digest}\0{runtime.build_version}\0{toolchain}{settings}".encode()).hexdigest()
    task_root = cache_root() / "build" / runtime.name / f"{function.name}-{key[:16]}"
    if task_root.is_dir() and not rebuild:
        if task_root.stat().st_mode & READABLE != READABLE:     # built before it was made so
            make_readable(task_root)
        return Artifact(function, task_root, digest, toolchain)
    on_status(f"building {function.name} ({runtime.name})")
    task_root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=task_root.parent))
    held = owners.hold_folder(staging)     # cleanup keeps a folder a live build writes
    try:
        runtime.build(function.source, staging)
        make_readable(staging)
        if task_root.exists():
            shutil.rmtree(task_root)
        staging.rename(task_root)   # appears whole or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        os.close(held)
    return Artifact(function, task_root, digest, toolchain)


def build_all(functions: list[Function], rebuild: bool = False,
              on_status: Callable[[str], None] = lambda text: None) -> list[Artifact]:
    """The artifacts of ``functions``, in their order. Functions with the same code and
    runtime (an app's functions that share a folder, with different handlers) are built
    once; the distinct builds run side by side, one per CPU (each toolchain keeps its own
    caches safe for that: Go's and Cargo's lock, pip and npm install into the build's own
    folder)."""
    firsts: dict[tuple, Function] = {}
    for function in functions:
        firsts.setdefault((function.runtime.name, function.source), function)
    workers = max(1, min(len(firsts), os.cpu_count() or 1))
    if workers == 1:
        built = {key: build(f, rebuild, on_status) for key, f in firsts.items()}
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            futures = {key: pool.submit(build, f, rebuild, on_status)
                       for key, f in firsts.items()}
            built = {key: future.result() for key, future in futures.items()}
        except BaseException:
            # Ctrl-C or SIGTERM reach this thread only: end the builds of the others, whose
            # tools would otherwise run to their end before the pool lets go
            end_all_tools()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
    return [replace(built[(f.runtime.name, f.source)], function=f) for f in functions]
