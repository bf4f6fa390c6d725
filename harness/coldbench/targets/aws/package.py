"""Deployment packages: one .zip per function, runtime and architecture, laid out the way
the function's Lambda runtime expects it (Lambda Developer Guide, "Deploy ... functions
with .zip file archives"). What goes in is the runtime's to say (``Runtime.lambda_package``
in ``coldbench.runtimes``): the function's own files and dependencies without the local
runtime interface client where the managed runtime brings its own (python3.12, nodejs20.x,
java21), one executable ``bootstrap`` at the root for ``provided.al2023``. The helpers the
runtimes share are here: copying sources, cross-building with variables set, checking a
bootstrap, and the zip itself.

Zips are reproducible (sorted entries, fixed timestamps), so equal sources give an equal
CodeSha256, and they are cached by content next to the build cache.
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import re
import shutil
import tempfile
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coldbench.build import Artifact, cache_root
from coldbench.errors import BuildError, UsageError

ARCHITECTURES = ("x86_64", "arm64")
PACKAGER_VERSION = "1"            # bump when a layout changes, so cached zips are remade
# provided.al2023 runs on Amazon Linux 2023, whose glibc is 2.34: a binary linked against
# newer symbols does not start there.
AL2023_GLIBC = (2, 34)
_ELF_MACHINE = {"x86_64": 62, "arm64": 183}          # EM_X86_64, EM_AARCH64
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# The environment is process-wide: builds that set variables in it take turns.
_ENVIRON_LOCK = threading.Lock()


@dataclass(frozen=True)
class Package:
    """A deployment package ready for CreateFunction."""

    path: Path
    runtime: str              # coldbench's runtime name
    lambda_runtime: str       # Lambda's runtime identifier, e.g. "python3.12"
    architecture: str
    handler: str

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def code_sha256(self) -> str:
        """The zip's SHA-256 in base64, as Lambda reports it (CodeSha256)."""
        return base64.b64encode(hashlib.sha256(self.path.read_bytes()).digest()).decode()


def host_architecture() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64",
            "arm64": "arm64"}.get(machine, machine)


def parse_choices(text: str, allowed, noun: str, option: str) -> list[str]:
    """A comma-separated option of ``allowed`` names, each once, in the order given."""
    names = [a.strip() for a in text.split(",") if a.strip()]
    for name in names:
        if name not in allowed:
            raise UsageError(f"unknown {noun} '{name}': choose from {', '.join(allowed)}")
    if not names:
        listed = (f"{allowed[0]}, {allowed[1]} or both" if len(allowed) == 2
                  else " or ".join(allowed))
        raise UsageError(f"no {noun} given: pass {option} {listed}")
    return list(dict.fromkeys(names))


def parse_architectures(text: str) -> list[str]:
    return parse_choices(text, ARCHITECTURES, "architecture", "--arch")


def package(artifact: Artifact, architecture: str, lambda_runtime: str) -> Package:
    """The deployment package of a built function for one architecture, made now unless
    the cache has it."""
    runtime = artifact.function.runtime.name
    key = hashlib.sha256(f"{artifact.digest}\0{artifact.toolchain}\0{lambda_runtime}\0"
                         f"{architecture}\0{artifact.function.configured_handler}\0"
                         f"{PACKAGER_VERSION}"
                         f"\0{artifact.function.runtime.build_version}"
                         .encode()).hexdigest()[:16]
    path = cache_root() / "aws" / runtime / f"{artifact.function.name}-{key}-{architecture}.zip"
    handler = artifact.function.configured_handler      # a layer's setup may wrap it
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".packaging-", dir=path.parent) as work:
            staging = Path(work) / "root"
            staging.mkdir()
            artifact.function.runtime.lambda_package(artifact, architecture, lambda_runtime,
                                                     staging)
            # a build trimmed of packages (`mitigate`'s): without them here too
            for left_out in getattr(artifact, "left_out", ()):
                gone = staging / left_out
                if gone.is_dir() and not gone.is_symlink():
                    shutil.rmtree(gone)
                elif gone.exists() or gone.is_symlink():
                    gone.unlink()
            partial = Path(work) / "package.zip"
            write_zip(staging, partial)
            partial.rename(path)              # appears whole or not at all
    return Package(path, runtime, lambda_runtime, architecture, handler)


def write_zip(root: Path, out: Path) -> None:
    """Zip ``root``'s files, sorted, with fixed timestamps; executables stay executable."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def copy_sources(source: Path, out: Path, ignored: frozenset[str]) -> None:
    """The function's own files, without build output and bytecode."""
    shutil.copytree(source, out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(*ignored, "__pycache__", "*.pyc"))


@contextmanager
def environ(**variables: str):
    """Run a runtime's own build with extra variables: Go and Cargo read their target from
    the environment (GOARCH, CARGO_BUILD_TARGET), so the runtimes' recipes stay one."""
    with _ENVIRON_LOCK:
        saved = {k: os.environ.get(k) for k in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def install_bootstrap(binary: Path, architecture: str, out: Path) -> None:
    """``binary``, checked, as the executable ``bootstrap`` at the root of ``out``."""
    check_bootstrap(binary, architecture)
    shutil.copy2(binary, out / "bootstrap")
    (out / "bootstrap").chmod(0o755)


def check_bootstrap(binary: Path, architecture: str) -> None:
    """BuildError unless ``binary`` is a Linux executable for ``architecture`` that needs no
    newer glibc than provided.al2023 has."""
    data = binary.read_bytes()
    if data[:4] != b"\x7fELF" or len(data) < 20:
        raise BuildError(f"{binary} is not a Linux executable")
    machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    if machine != _ELF_MACHINE[architecture]:
        raise BuildError(f"{binary} is not built for {architecture} (ELF machine {machine})")
    # Symbol versions are stored as plain strings in the dynamic section's string table.
    needed = max((tuple(int(x) for x in m.groups()) for m in
                  re.finditer(rb"GLIBC_(\d+)\.(\d+)", data)), default=None)
    if needed and needed > AL2023_GLIBC:
        raise BuildError(f"{binary} needs glibc {needed[0]}.{needed[1]}, but provided.al2023 "
                         f"has {AL2023_GLIBC[0]}.{AL2023_GLIBC[1]}: build it on an older "
                         "system, or for a musl target")
