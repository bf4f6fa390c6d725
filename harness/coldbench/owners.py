"""What a live run owns, so that `coldbench cleanup` removes only what dead runs left.

Each run (and each `coldbench serve`) holds an exclusive lock (flock(2)) on a file named
after its run id for its whole life: the kernel lets go of it when the process ends, however
it ends (kill -9 included). Everything a run makes is named after its run id (cgroups,
environment folders, containers), so cleanup asks ``live(run_id)`` before removing it. A
build holds a lock on its ``.building-*`` folder the same way (``hold_folder``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from pathlib import Path

# one place for every run of this machine, whatever its TMPDIR
FOLDER = (Path("/run/coldbench") if os.access("/run", os.W_OK)
          else Path(tempfile.gettempdir()) / "coldbench-owners")


class Claim:
    """A live run's lock on its run id; ``release`` when the run is over."""

    def __init__(self, run_id: str):
        FOLDER.mkdir(mode=0o755, exist_ok=True)
        self.path = FOLDER / f"{run_id}.lock"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def release(self) -> None:
        if self._fd >= 0:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1


def claim(run_id: str) -> Claim:
    return Claim(run_id)


def owner(run_id: str) -> int | None:
    """The process ID of the live run ``run_id``; None when no live process holds it."""
    path = FOLDER / f"{run_id}.lock"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        return _holder(fd)
    finally:
        os.close(fd)


def live(run_id: str) -> bool:
    return owner(run_id) is not None


def any_live() -> list[str]:
    """Run ids of every live run on this machine."""
    try:
        names = sorted(FOLDER.glob("*.lock"))
    except OSError:
        return []
    return [p.stem for p in names if live(p.stem)]


def hold_folder(folder: Path) -> int:
    """Lock ``folder`` for this process's life (or until the returned descriptor closes)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def folder_held(folder: Path) -> bool:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return _holder(fd) is not None
    finally:
        os.close(fd)


def _holder(fd: int) -> int | None:
    """Whether someone else holds the lock of ``fd``: their pid (or -1 if unknown)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        try:
            return int(os.pread(fd, 32, 0) or b"-1")
        except (OSError, ValueError):
            return -1
    fcntl.flock(fd, fcntl.LOCK_UN)
    return None
