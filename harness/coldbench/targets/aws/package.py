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
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from coldbench.errors import UsageError
from coldbench.model import ARCHITECTURES, Artifact, host_architecture
# what the runtimes' packaging recipes share, kept where runtimes and targets both reach it
from coldbench.tools import (AL2023_GLIBC, cache_root, check_bootstrap, copy_sources, environ,
                             install_bootstrap)

__all__ = ["AL2023_GLIBC", "ARCHITECTURES", "Package", "check_bootstrap", "copy_sources",
           "environ", "host_architecture", "install_bootstrap", "package", "parse_architectures",
           "parse_choices", "write_zip"]

PACKAGER_VERSION = "1"            # bump when a layout changes, so cached zips are remade
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


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
