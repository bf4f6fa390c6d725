"""Code delivery as on Lambda: the task root read from a block device, with cold caches.

A cold start on Lambda reads the function's code from a block device, lazily, through
caches: init begins with a cold page cache for the function's own files (Brooker et al.,
"On-demand container loading in AWS Lambda", USENIX ATC 2023; Agache et al.,
"Firecracker", NSDI 2020). On this machine the task root sits in the warm page cache. So
here an environment's runtime reads its task root from an image instead:

- ``pack``: the task root as a read-only ext4 image file, built once per digest;
- ``attach``: the image as a read-only loop device of the environment's own, with
  autoclear (the kernel detaches it when its last user goes). A fresh device means a fresh
  filesystem with nothing cached: every page init touches is read through the block layer,
  and counted. The image file itself is kept in this machine's page cache, as the chunks
  of a function's code sit in the worker's own cache tier on Lambda: what a read costs
  there beyond that is the calibration's to say (``analysis/prediction.py``), and what it
  costs here does not depend on this machine's disk;
- the environment's sandbox mounts the device read-only over the task root's own path, in
  the environment's own mount namespace (``isolation.Jail``), so nothing else changes for
  the runtime; the mount goes when the namespace's last process exits;
- ``throttle_reads`` and ``read_bytes``: a cgroup's read bandwidth from the device and the
  bytes its processes read from it (cgroup v1 blkio, v2 io);
- ``resident_pages``: how many of a file's pages are cached, to check that a start is cold;
- ``evict``: a runtime's own files out of the page cache (``--runtime-cache cold``);
- ``leftovers`` and ``remove_leftovers``: loop devices a killed run left attached.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import re
import shutil
import stat
import struct
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from coldbench.environments.kernel import (MAP_FAILED, MAP_SHARED, PROT_READ, fail, mincore,
                                           mmap, munmap)
from coldbench.errors import BuildError, EnvironmentUnavailable, MissingToolchain
from coldbench.tools import cache_root

HOST_HINT = "or pass --delivery host to read the task root from this machine's page cache"
BLOCK_SIZE = 4096                # the image's block size, and its loop device's sector size
INODE_SIZE = 256                 # room for nanosecond timestamps beyond 2038
RESERVED_INODES = 11             # ext4's first non-reserved inode number
PACK_ATTEMPTS = 4                # each one with twice the room when the estimate was short

# <linux/loop.h>
LOOP_CONFIGURE = 0x4C0A
LOOP_CLR_FD = 0x4C01
LOOP_CTL_GET_FREE = 0x4C82
LO_FLAGS_READ_ONLY, LO_FLAGS_AUTOCLEAR = 1, 4
WARM_CHUNK = 1 << 20
LO_NAME_SIZE = 64
# struct loop_config: fd, block_size, struct loop_info64 (device, inode, rdevice, offset,
# sizelimit, number, encrypt_type, encrypt_key_size, flags, file_name, crypt_name,
# encrypt_key, init[2]), __reserved[8]
_LOOP_CONFIG = struct.Struct("=II5Q4I64s64s32s2Q8Q")
ATTACH_ATTEMPTS = 8              # another process may configure the free device first

def images_dir() -> Path:
    """Where packed task roots are kept: one ``<digest>.ext4`` per task root."""
    return cache_root() / "code-images"


def packed(digest: str) -> Path:
    """The image ``pack`` makes of the task root named ``digest``."""
    return images_dir() / f"{digest}.ext4"


# -- pack ---------------------------------------------------------------------------------

def pack(task_root: Path, digest: str) -> Path:
    """The task root as a read-only ext4 image, built now unless the cache has it.

    ``digest`` names the image and must change whenever the task root's content does
    (the build key of its folder). The same task root folder packs to the same bytes, as long
    as its files' times are the same (the image keeps them, access times included)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", digest):
        raise ValueError(f"not usable in a file name: {digest!r}")
    image = packed(digest)
    if image.is_file():
        return image
    mkfs = shutil.which("mkfs.ext4", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if mkfs is None:
        raise MissingToolchain("mkfs.ext4 not found: install e2fsprogs (apt-get install "
                               f"e2fsprogs), {HOST_HINT}")
    image.parent.mkdir(parents=True, exist_ok=True)
    size, inodes, newest = _room(task_root)
    # fixed identifiers and times: the same folder makes the same image
    seed = uuid.UUID(bytes=hashlib.sha256(digest.encode()).digest()[:16])
    command = [mkfs, "-q", "-F", "-d", str(task_root), "-b", str(BLOCK_SIZE),
               "-I", str(INODE_SIZE), "-N", str(inodes), "-m", "0",
               "-O", "^has_journal,^resize_inode", "-U", str(seed),
               "-E", f"hash_seed={seed},lazy_itable_init=0,nodiscard"]
    env = os.environ | {"E2FSPROGS_FAKE_TIME": str(max(newest, 1))}
    fd, staging = tempfile.mkstemp(prefix=".packing-", suffix=".ext4", dir=image.parent)
    os.close(fd)
    try:
        for _ in range(PACK_ATTEMPTS):
            os.truncate(staging, 0)
            os.truncate(staging, size)
            done = subprocess.run([*command, staging], capture_output=True, text=True, env=env)
            if done.returncode == 0:
                break
            size *= 2                  # the estimate fell short (directories, extents)
        else:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise BuildError(f"cannot pack {task_root} into an ext4 image: "
                             f"{lines[-1] if lines else f'mkfs.ext4 exit {done.returncode}'}")
        os.chmod(staging, 0o444)
        drop_cached(Path(staging))     # written back, then out of the page cache
        os.replace(staging, image)     # appears whole or not at all
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    return image


def _room(task_root: Path) -> tuple[int, int, int]:
    """Bytes and inodes an image of ``task_root`` needs, with some slack, and the newest
    modification time in it."""
    blocks, inodes, newest = 0, RESERVED_INODES + 16, 0
    for folder, dirs, files in os.walk(task_root):
        names = dirs + files
        inodes += 1 + len(names)
        # a directory entry is 8 bytes and the name rounded up to 4; "." and ".." 24
        entries = 24 + sum(8 + (len(os.fsencode(n)) + 3) // 4 * 4 for n in names)
        blocks += 1 + entries // (BLOCK_SIZE - 12) + (entries > BLOCK_SIZE)
        newest = max(newest, int(os.lstat(folder).st_mtime))
        for name in files:
            info = os.lstat(os.path.join(folder, name))
            newest = max(newest, int(info.st_mtime))
            if stat.S_ISLNK(info.st_mode):
                blocks += info.st_size >= 60           # short targets fit in the inode
            else:
                blocks += -(-info.st_size // BLOCK_SIZE)
    groups = -(-blocks // (8 * BLOCK_SIZE)) + 1
    metadata = -(-inodes * INODE_SIZE // BLOCK_SIZE) + groups * 4 + 64
    total = int(blocks * 1.02) + metadata + 256       # 2% and 1 MiB of slack
    return total * BLOCK_SIZE, inodes, newest


# -- attach -------------------------------------------------------------------------------

class LoopDevice:
    """A read-only loop device with an image behind it, held open by this process.

    Attached with autoclear: the kernel detaches it once nothing holds it, neither this
    process (``detach``) nor a mount. Keep it until the child has mounted it (its exec
    succeeded), then ``detach``: the device goes with the last process of the mount's
    namespace."""

    def __init__(self, path: str, fd: int):
        self.path = path
        self._fd = fd
        rdev = os.fstat(fd).st_rdev
        self.major, self.minor = os.major(rdev), os.minor(rdev)
        self._sysfs = Path("/sys/block") / Path(path).name

    def __repr__(self) -> str:
        return f"LoopDevice({self.path!r}, {self.major}:{self.minor})"

    def bytes_read(self) -> int:
        """Bytes read from the device node by anyone, since the kernel made the node: a
        reused node counts its earlier attachments too (``read_bytes`` counts per cgroup)."""
        sectors = int((self._sysfs / "stat").read_text().split()[2])
        return sectors * 512           # /sys/block/*/stat counts 512-byte sectors

    def detach(self) -> None:
        """Let go of the device: it is detached now if nothing mounted it, else when the
        last process of the mount's namespace exits."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "LoopDevice":
        return self

    def __exit__(self, *exc) -> None:
        self.detach()


def attach(image: Path) -> LoopDevice:
    """``image`` as a fresh read-only loop device with autoclear, with none of its pages
    cached; the image file behind it is in this machine's page cache (read now if not)."""
    try:
        control = os.open("/dev/loop-control", os.O_RDWR)
    except OSError as exc:
        raise _unavailable(image, exc) from exc
    backing = os.open(image, os.O_RDONLY)
    _warm(backing)
    name = os.fsencode(image)[:LO_NAME_SIZE - 1]
    flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR
    config = _LOOP_CONFIG.pack(backing, BLOCK_SIZE, 0, 0, 0, 0, 0, 0, 0, 0, flags,
                               name, b"", b"", 0, 0, *[0] * 8)
    try:
        for _ in range(ATTACH_ATTEMPTS):
            path = f"/dev/loop{fcntl.ioctl(control, LOOP_CTL_GET_FREE)}"
            fd = os.open(path, os.O_RDONLY)
            try:
                fcntl.ioctl(fd, LOOP_CONFIGURE, config)
            except OSError as exc:
                os.close(fd)
                if exc.errno == errno.EBUSY:
                    continue
                raise _unavailable(image, exc) from exc
            # a fresh device's cache is empty; said again, should its number be reused
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            return LoopDevice(path, fd)
        raise EnvironmentUnavailable(f"no free loop device after {ATTACH_ATTEMPTS} tries "
                                     f"for {image.name}: {HOST_HINT}")
    except OSError as exc:
        raise _unavailable(image, exc) from exc
    finally:
        os.close(control)
        os.close(backing)


def _warm(fd: int) -> None:
    """Read the whole file once, so its pages are cached (a few ms for tens of MB; before
    any clock runs)."""
    offset = 0
    while chunk := os.pread(fd, WARM_CHUNK, offset):
        offset += len(chunk)


def _unavailable(image: Path, exc: OSError) -> EnvironmentUnavailable:
    return EnvironmentUnavailable(
        f"cannot attach {image.name} as a loop device: {exc.strerror or exc}; run as root "
        f"where loop devices exist (modprobe loop), {HOST_HINT}")


# -- cold pages ---------------------------------------------------------------------------

def drop_cached(path: Path) -> None:
    """Drop ``path``'s pages from the page cache (dirty ones are written back first); pages
    that a process has mapped or locked stay."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)                   # DONTNEED drops clean pages only
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def evict(paths: list[Path]) -> int:
    """Drop every file under ``paths`` (files, or folders walked) from the page cache, as
    far as the kernel lets go of them (pages mapped by a running process stay); how many
    files were asked."""
    count = 0
    for path in paths:
        files = ([path] if not path.is_dir()
                 else (Path(folder) / name for folder, _, names in os.walk(path) for name in names))
        for file in files:
            try:
                if file.is_file() and not file.is_symlink():
                    fd = os.open(file, os.O_RDONLY)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    finally:
                        os.close(fd)
                    count += 1
            except OSError:               # unreadable, or gone: nothing cached to drop
                pass
    return count


def resident_pages(path: Path) -> tuple[int, int]:
    """How many of the file's pages are in the page cache, and how many it has (mincore(2)
    on a mapping of it; mapping reads nothing)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, 0
        page = os.sysconf("SC_PAGE_SIZE")
        pages = -(-size // page)
        address = mmap(None, size, PROT_READ, MAP_SHARED, fd, 0)
        if address in (None, MAP_FAILED):
            fail(b"cannot map " + os.fsencode(path))
    finally:
        os.close(fd)
    try:
        vector = (ctypes.c_ubyte * pages)()
        if mincore(address, size, vector) != 0:
            fail(b"mincore failed on " + os.fsencode(path))
        return sum(byte & 1 for byte in vector), pages
    finally:
        munmap(address, size)


# -- read bandwidth (cgroups) -------------------------------------------------------------

@dataclass(frozen=True)
class CodePath:
    """How fast an environment may read its code image: bytes and reads per second
    (None: no limit), as the calibration in use says Lambda delivers code."""

    bytes_per_second: int | None = None
    ios_per_second: int | None = None

    def describe(self) -> dict:
        return {"read_mb_per_s": self.bytes_per_second / 1e6 if self.bytes_per_second else None,
                "read_iops": self.ios_per_second}


def throttle_reads(group: Path, device: LoopDevice, bytes_per_second: int | None = None,
                   ios_per_second: int | None = None) -> None:
    """Limit reads from ``device`` by the processes of the cgroup folder ``group`` (its
    blkio folder on cgroup v1); None: no limit. Call it on v1 even without a limit:
    v1 counts a device's reads (``read_bytes``) only once the device has a rule.

    The kernel grants bandwidth in slices of 100 ms, rounded up: a read runs up to one
    slice's worth ahead of the rate (measured on Linux 6.18: the 9.1 MB Go bootstrap read
    at 50 MB/s in 115 ms, not 182 ms; at 100 MB/s in 8 ms, unthrottled)."""
    device_id = f"{device.major}:{device.minor}"
    if (group / "blkio.throttle.read_bps_device").exists():
        (group / "blkio.throttle.read_bps_device").write_text(
            f"{device_id} {bytes_per_second or 0}")        # 0: no limit
        (group / "blkio.throttle.read_iops_device").write_text(
            f"{device_id} {ios_per_second or 0}")
    elif (group / "io.max").exists():
        (group / "io.max").write_text(f"{device_id} rbps={bytes_per_second or 'max'} "
                                      f"riops={ios_per_second or 'max'}")
    else:
        raise EnvironmentUnavailable(
            f"{group} has no blkio or io controller (cgroup v2: add +io to its parent's "
            f"cgroup.subtree_control), {HOST_HINT}")


def read_bytes(group: Path, device: LoopDevice) -> int:
    """Bytes the processes of the cgroup folder ``group`` have read from ``device``."""
    return _reads(group, device, "blkio.throttle.io_service_bytes", "rbytes")


def read_requests(group: Path, device: LoopDevice) -> int:
    """Read requests the processes of the cgroup folder ``group`` have made of ``device``
    (after the kernel merged adjacent ones)."""
    return _reads(group, device, "blkio.throttle.io_serviced", "rios")


def _reads(group: Path, device: LoopDevice, v1_file: str, v2_key: str) -> int:
    device_id = f"{device.major}:{device.minor}"
    v1 = group / v1_file
    if v1.exists():                    # "7:0 Read 1234"
        for line in v1.read_text().splitlines():
            fields = line.split()
            if fields[:2] == [device_id, "Read"]:
                return int(fields[2])
        return 0
    for line in (group / "io.stat").read_text().splitlines():   # "7:0 rbytes=1234 rios=5 ..."
        fields = line.split()
        if fields and fields[0] == device_id:
            return int(dict(f.split("=", 1) for f in fields[1:]).get(v2_key, 0))
    return 0


# -- leftovers ----------------------------------------------------------------------------

def leftovers() -> list[tuple[str, Path]]:
    """Loop devices with an image of coldbench's cache behind them: (device, image)."""
    images = f"{os.path.realpath(images_dir())}/"      # the kernel names the real path
    found = []
    for backing in sorted(Path("/sys/block").glob("loop*/loop/backing_file")):
        try:
            name = backing.read_text().rstrip("\n").removesuffix(" (deleted)")
        except OSError:                # detached meanwhile
            continue
        if name.startswith(images):
            found.append((f"/dev/{backing.parent.parent.name}", Path(name)))
    return found


def remove_leftovers() -> list[str]:
    """Detach the loop devices ``leftovers`` finds; what was done, one line each."""
    return [remove_leftover(device, image) for device, image in leftovers()]


def remove_leftover(device: str, image: Path) -> str:
    """Detach one of ``leftovers``; what was done. One still mounted by a running process
    is detached when that process ends."""
    try:
        fd = os.open(device, os.O_RDONLY)
    except FileNotFoundError:
        return f"{device} was gone"
    try:
        fcntl.ioctl(fd, LOOP_CLR_FD)       # the kernel detaches at the last close
    except OSError as exc:
        if exc.errno != errno.ENXIO:       # ENXIO: detached meanwhile
            raise
    finally:
        os.close(fd)
    if (Path("/sys/block") / Path(device).name / "loop" / "backing_file").exists():
        return f"{device} ({image.name}) is in use: detached when its mount goes"
    return f"detached {device} ({image.name})"
