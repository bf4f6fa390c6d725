"""Lambda layers: what ``--layer PATH`` gives a function, as Lambda gives it.

A layer is a folder or a .zip, as ``aws lambda publish-layer-version`` takes it. Lambda
extracts a function's layers into ``/opt`` of its execution environment, in the order
the function lists them, a later layer's files over an earlier one's (AWS Lambda
Developer Guide, "Managing Lambda dependencies with layers", "Packaging your layer
content"). Here:

- ``load``: a path checked and read once: its name, digest and unzipped size;
- ``check_limits``: Lambda's limits, with Lambda's words: at most five layers, and 250 MB
  unzipped for the function and its layers together (Lambda Developer Guide, "Lambda
  quotas", "Adding layers to functions");
- ``merge``: the layers extracted and merged into one tree, the folder that is ``/opt``
  for every environment of the function, kept in the cache under the digest of the
  ordered layer digests, so it is made once;
- ``function_bytes``: the unzipped size of a built function as Lambda counts it (its task
  root without the runtime's own client, which Lambda's runtime brings).

How a target puts the tree at ``/opt`` is the target's: the local target mounts it (or
its image, on the Lambda-shaped code path) in each environment's own mount namespace.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from coldbench.build import Artifact, Layer, cache_root
from coldbench.errors import UsageError

# Lambda quotas: "Function layers: five layers"; "250 MB: the maximum size of the contents
# of a deployment package, including layers and custom runtimes (unzipped)", which
# Lambda's API counts in bytes (CodeSizeUnzipped: 262144000).
MAX_LAYERS = 5
MAX_UNZIPPED_BYTES = 262_144_000
#: where Lambda puts the layers, and where each environment sees them
OPT = "/opt"


def load(path: Path) -> Layer:
    """The layer at ``path``, a folder or a .zip; UsageError, in one line, when it is
    neither or cannot be read."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"--layer {path}: no such file or folder")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise UsageError(f"--layer {path}: the folder is not readable")
        digest, size = _folder_digest(path)
        return Layer(path.name, path.resolve(), digest, size)
    if not zipfile.is_zipfile(path):
        raise UsageError(f"--layer {path}: not a .zip file or a folder (a layer is either, "
                         "as aws lambda publish-layer-version takes it)")
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _member_path(path, info.filename)
            size = sum(info.file_size for info in archive.infolist() if not info.is_dir())
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"--layer {path}: not a readable .zip file ({exc})") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Layer(path.stem, path.resolve(), digest, size)


def check_limits(layers: tuple[Layer, ...] | list[Layer], function_bytes: int) -> None:
    """UsageError, naming the sizes, when Lambda would refuse the function with these
    layers (CreateFunction's InvalidParameterValueException says the same)."""
    if len(layers) > MAX_LAYERS:
        raise UsageError(f"{len(layers)} layers: Cannot reference more than {MAX_LAYERS} "
                         f"layers (Lambda's limit)")
    total = function_bytes + sum(layer.unzipped_bytes for layer in layers)
    if layers and total > MAX_UNZIPPED_BYTES:
        sizes = ", ".join([f"function {function_bytes:,}",
                           *(f"{layer.name} {layer.unzipped_bytes:,}" for layer in layers)])
        raise UsageError(f"Function code combined with layers exceeds the maximum allowed "
                         f"size of {MAX_UNZIPPED_BYTES} bytes. The actual size is {total} "
                         f"bytes ({sizes}; unzipped bytes)")


def function_bytes(artifact: Artifact) -> int:
    """The unzipped size of the function's own code: its task root less what the
    runtime's own client put there (on Lambda the runtime brings it)."""
    runtime_files = artifact.function.runtime.runtime_files(artifact.task_root)
    return _size(artifact.task_root) - sum(_size(path) for path in runtime_files)


def key(layers: tuple[Layer, ...] | list[Layer]) -> str:
    """The merged tree's name: the layers' digests, in order (order decides what wins)."""
    return hashlib.sha256("\0".join(layer.digest for layer in layers).encode()).hexdigest()


def merge(layers: tuple[Layer, ...] | list[Layer]) -> Path:
    """The layers extracted into one folder, later over earlier, as Lambda's ``/opt``:
    made now unless the cache has it."""
    merged = cache_root() / "layers" / key(layers)[:32]
    if merged.is_dir():
        return merged
    merged.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".merging-", dir=merged.parent))
    try:
        for layer in layers:
            if layer.source.is_dir():
                _copy_folder(layer.source, staging)
            else:
                _extract(layer.source, staging)
        os.chmod(staging, 0o755)
        try:
            staging.rename(merged)        # appears whole or not at all
        except OSError:
            if not merged.is_dir():       # another run made it meanwhile: keep theirs
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return merged


# -- reading ------------------------------------------------------------------------------

def _folder_digest(folder: Path) -> tuple[str, int]:
    """SHA-256 over the relative paths, kinds, execute bits and contents of a folder's
    files (an extension's execute bit matters), and their total size."""
    digest, size = hashlib.sha256(), 0
    for path in _walk(folder):
        info = path.lstat()
        relative = str(path.relative_to(folder)).encode()
        if stat.S_ISLNK(info.st_mode):
            digest.update(b"l\0" + relative + b"\0" + os.fsencode(os.readlink(path)) + b"\0")
        elif stat.S_ISDIR(info.st_mode):
            digest.update(b"d\0" + relative + b"\0")
        else:
            executable = b"x" if info.st_mode & 0o111 else b"-"
            digest.update(b"f\0" + relative + b"\0" + executable + b"\0")
            digest.update(path.read_bytes() + b"\0")
            size += info.st_size
    return digest.hexdigest(), size


def _walk(folder: Path) -> list[Path]:
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(Path(parent) / name for name in sorted(dirs + files))
    return found


def _size(path: Path) -> int:
    if path.is_symlink() or not path.exists():
        return 0
    if not path.is_dir():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in _walk(path) if p.is_file() and not p.is_symlink())


def _member_path(archive: Path, name: str) -> Path:
    """Where a zip member goes under /opt; UsageError for one that would land outside."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise UsageError(f"--layer {archive}: member '{name}' would be extracted outside "
                         f"{OPT}")
    return relative


# -- merging ------------------------------------------------------------------------------

def _make_room(target: Path, directory: bool) -> None:
    """Clear ``target`` for what a later layer puts there, unless both are folders."""
    if target.is_symlink() or (target.exists() and target.is_dir() != directory):
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()


def _copy_folder(source: Path, into: Path) -> None:
    for path in _walk(source):
        target = into / path.relative_to(source)
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode):
            _make_room(target, directory=True)
            target.mkdir(exist_ok=True)
            os.chmod(target, stat.S_IMODE(info.st_mode) | 0o700)
        else:
            _make_room(target, directory=False)
            if target.exists():
                target.unlink()
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(path), target)
            else:
                shutil.copy2(path, target)


def _extract(archive: Path, into: Path) -> None:
    """Extract a layer's zip keeping what Lambda keeps: each member's mode (an
    extension must stay executable) and its symbolic links."""
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            target = into / _member_path(archive, info.filename)
            mode = info.external_attr >> 16
            if info.is_dir():
                _make_room(target, directory=True)
                target.mkdir(parents=True, exist_ok=True)
                os.chmod(target, (stat.S_IMODE(mode) or 0o755) | 0o700)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _make_room(target, directory=False)
            if target.exists():
                target.unlink()
            if stat.S_ISLNK(mode):
                os.symlink(opened.read(info).decode(), target)
                continue
            with opened.open(info) as member, open(target, "wb") as out:
                shutil.copyfileobj(member, out)
            os.chmod(target, stat.S_IMODE(mode) or 0o644)
