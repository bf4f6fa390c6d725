"""The files coldbench writes: checked before anything is measured, never replaced without
``--force``, written by one process at a time, each written whole.

Every command that writes a file or a folder goes through here:

- ``check_file``: a path to write is a regular file (replaced only with ``force``) or a new
  one in an existing folder that can be written; never a device, a pipe, a folder, nor a
  link to one. A link to a regular file is written through (the file it names is replaced).
- ``check_folder``: a folder to write files into is a folder that can be written, or a new
  one whose nearest existing parent is.
- ``Claim``: the right to write a path, held by one process at a time: an exclusive
  ``flock`` on a lock file beside it (``.NAME.lock``), taken without waiting, so a second
  writer is refused at once rather than interleaved with the first.
- ``writing``: ``check_file`` and a ``Claim`` for each output of a command, for as long as
  the command runs.
- ``replace_file``: a file replaced whole (written beside it, then renamed), so a reader
  sees the old file or the new one, never half of one.

Refusals are ``ResultsError``s (exit status 2) naming the path and the option it came from.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

from coldbench.errors import ResultsError

_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket"))


def _named(path: Path, option: str) -> str:
    return f"{option} {path}" if option else str(path)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _probe(folder: Path, shown: str) -> None:
    """ResultsError unless a file can be created in ``folder`` (permissions, a read-only
    file system, a full disk...): tried, not guessed, as root passes every permission test."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".coldbench-probe-", dir=folder)
    except OSError as exc:
        raise ResultsError(f"cannot write {shown}: folder {folder}: "
                         f"{exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def check_file(path: Path | str, force: bool = False, option: str = "--output",
               new_folder: bool = False) -> Path:
    """The path to write for ``path``, checked before anything is measured: ResultsError
    unless it is a regular file (and ``force`` is given) or a new file in a folder that
    exists (or, with ``new_folder``, can be made) and can be written."""
    given = Path(path)
    shown = _named(given, option)
    target = Path(os.path.realpath(given))          # a link is written through
    via = f" (a link to {target})" if given.is_symlink() else ""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ResultsError(f"cannot write {shown}: {exc.strerror or exc}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise ResultsError(f"{shown} is a folder{via}: name a file to write")
        if not stat.S_ISREG(mode):
            raise ResultsError(f"{shown} is {_kind(mode)}{via}, not a regular file: name a "
                             "file to write")
        if not force:
            raise ResultsError(f"{shown} exists: choose another {option or 'file'}, or pass "
                             "--force to replace it")
    folder = target.parent
    if folder.is_dir():
        _probe(folder, shown)
    elif new_folder:
        check_folder(folder, option)
    else:
        raise ResultsError(f"cannot write {shown}: folder {folder} does not exist")
    return target if via else given


def check_folder(path: Path | str, option: str = "") -> Path:
    """``path`` as a folder to write files into, checked: an existing folder (or a link
    to one) that can be written, or a new one that can be made (it is not made here)."""
    given = Path(path)
    shown = _named(given, option)
    if given.exists():
        if not given.is_dir():
            mode = given.stat().st_mode
            kind = "a file" if stat.S_ISREG(mode) else _kind(mode)
            raise ResultsError(f"{shown} is {kind}, not a folder: name a folder to write into")
        _probe(given, shown)
        return given
    if given.is_symlink():
        raise ResultsError(f"{shown} is a link to {os.readlink(given)}, which does not exist")
    ancestor = Path(os.path.abspath(given)).parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ResultsError(f"cannot make {shown}: {ancestor} is a file, not a folder")
    _probe(ancestor, shown)
    return given


class Claim:
    """The right to write ``path`` (a file or a folder), held by one process at a time:
    an exclusive flock on ``.NAME.lock`` beside it, taken without waiting. The lock file
    is removed on ``release``; one left by a process that died is taken over by the next
    writer (a lock dies with its process)."""

    def __init__(self, path: Path | str, option: str = "--output"):
        real = Path(os.path.realpath(path))
        self.path = Path(path)
        self.lock_path = real.parent / f".{real.name}.lock"
        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise ResultsError(f"cannot write {_named(self.path, option)}: "
                                 f"{exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                raise ResultsError(
                    f"{_named(self.path, option)} is being written by another coldbench "
                    f"process{f' {holder}' if holder.isdigit() else ''}: wait until it "
                    f"ends, or choose another {option or 'path'}") from None
            # a holder that released just now removed the file we opened: open it again
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd
        self._pid = os.getpid()

    def release(self) -> None:
        if self._fd is None or os.getpid() != self._pid:   # a forked child releases nothing
            return
        self.lock_path.unlink(missing_ok=True)      # while still held: see __init__
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@contextmanager
def writing(*outputs: tuple[str, Path | None], force: bool = False):
    """Check each ``(option, path)`` (``check_file``; None is skipped) and hold a
    ``Claim`` on it for the block: yields the paths to write, in order."""
    checked = [None if path is None else check_file(path, force, option)
               for option, path in outputs]
    named: dict[str, str] = {}
    for (option, _), path in zip(outputs, checked):
        if path is not None:
            real = os.path.realpath(path)
            if real in named:
                raise ResultsError(f"{named[real]} and {option} name the same file, {path}: "
                                   "give each its own")
            named[real] = option
    with ExitStack() as claims:
        for (option, _), path in zip(outputs, checked):
            if path is not None:
                claims.enter_context(Claim(path, option))
        yield checked


def replace_file(path: Path, text: str | bytes) -> None:
    """Replace ``path`` whole (write beside it, then rename), readable by all: readers see
    the old file or the new one, never half of one. Every file coldbench rewrites goes here."""
    path = Path(path)
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
