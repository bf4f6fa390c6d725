"""What coldbench asks of the Linux kernel itself, through libc: namespaces and mounts
(``isolation.py``'s sandbox, ``delivery.py``'s code images), pages in the page cache
(``delivery.resident_pages``), another process's network namespace (the docker target),
and whether a process still runs.

The calls are bound here, at import, in the parent: a forked child only calls them
(looking a symbol up in the child could wait on a loader lock another thread of the parent
held at the fork)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import NoReturn

# <sched.h>
CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
# <sys/mount.h>
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
# <sys/prctl.h>
PR_SET_CHILD_SUBREAPER = 36
# <sys/mman.h>
PROT_READ, MAP_SHARED = 0x1, 0x01
# <asm/unistd_64.h>: pivot_root has no libc wrapper
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)

_libc = ctypes.CDLL(None, use_errno=True)
unshare = _libc.unshare
unshare.argtypes, unshare.restype = [ctypes.c_int], ctypes.c_int
setns = _libc.setns
setns.argtypes, setns.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
mount = _libc.mount
mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                  ctypes.c_char_p]
mount.restype = ctypes.c_int
umount2 = _libc.umount2
umount2.argtypes, umount2.restype = [ctypes.c_char_p, ctypes.c_int], ctypes.c_int
syscall = _libc.syscall
syscall.restype = ctypes.c_long
prctl = _libc.prctl
prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                  ctypes.c_ulong]
prctl.restype = ctypes.c_int
mmap = _libc.mmap
mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                 ctypes.c_int, ctypes.c_long]
mmap.restype = ctypes.c_void_p
munmap = _libc.munmap
munmap.argtypes, munmap.restype = [ctypes.c_void_p, ctypes.c_size_t], ctypes.c_int
mincore = _libc.mincore
mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
mincore.restype = ctypes.c_int
MAP_FAILED = ctypes.c_void_p(-1).value


def fail(what: bytes) -> NoReturn:
    """OSError for the call that just failed: ``what`` it was for, and errno's words."""
    number = ctypes.get_errno()
    raise OSError(number, f"{what.decode('utf-8', 'replace')}: {os.strerror(number)}")


def check(result: int, what: bytes) -> None:
    """``fail(what)`` unless the call returned 0."""
    if result != 0:
        fail(what)


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (neither gone nor a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
