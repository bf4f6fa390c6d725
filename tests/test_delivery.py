"""Code delivery from an image: a task root packed into ext4, attached as a fresh loop
device, mounted over the task root in a child's own file system as the sandbox makes it
(``isolation.Jail``); its pages cold, its reads counted and throttled by a real blkio
cgroup; nothing left attached or mounted."""

import errno
import hashlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from coldbench.environments import cgroups, delivery, isolation, kernel
from coldbench.errors import EnvironmentUnavailable

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/loop-control"),
                       reason="needs root and loop devices (/dev/loop-control)"),
]

MIB = 1024 * 1024
# blk-throttle grants bandwidth in slices of 100 ms (HZ/10), rounded up: a read may run
# up to one slice ahead of the rate, and a jiffy (4-10 ms) more
THROTTLE_SLICE_S = 0.12


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A cache of the test's own; afterwards, no image of it attached and nothing of the
    test's folder mounted."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("COLDBENCH_CACHE", str(folder))
    yield folder
    deadline = time.monotonic() + 5
    while attached(folder) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = attached(folder)
    if left:
        delivery.remove_leftovers()
    assert not left, f"loop devices left attached: {left}"
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()


@pytest.fixture
def blkio_group():
    """A cgroup v1 blkio group under this session's parent, removed afterwards."""
    hierarchy = cgroups.ROOT / "blkio"
    if not (hierarchy / "blkio.throttle.read_bps_device").exists():
        pytest.skip("needs the cgroup v1 blkio hierarchy")
    group = hierarchy / cgroups.PARENT / f"delivery-{uuid.uuid4().hex[:8]}"
    group.mkdir(parents=True)
    yield group
    for _ in range(100):
        try:
            group.rmdir()
            break
        except OSError:              # the child is still being reaped
            time.sleep(0.02)
    try:
        group.parent.rmdir()
    except OSError:                  # another test's group is still in it
        pass
    assert not group.exists()


@pytest.fixture
def shared_folder(tmp_path):
    """A folder that is a shared mount, as systemd makes "/": what a child mounts under it
    would show here too, unless the child made its mounts private."""
    folder = tmp_path / "shared"
    folder.mkdir()
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "--recursive", str(folder)], check=True)


def attached(cache: Path) -> list[dict]:
    """Loop devices with a file of ``cache`` behind them, as losetup lists them."""
    listing = subprocess.run(["losetup", "--json", "--list"], capture_output=True,
                             text=True, check=True).stdout
    devices = json.loads(listing)["loopdevices"] if listing.strip() else []
    return [d for d in devices if d["back-file"].startswith(f"{cache}/")]


def make_task_root(folder: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


class MountedChild:
    """A forked child that joins ``group``, enters a mount namespace of its own and there
    the file system an environment's sandbox makes, with the image on ``device`` over
    ``task_root`` (``isolation.Jail``, built under ``home``); then reads whole files when
    asked, as `cat` would, until it is closed. Its view of the file system is seen from
    here under /proc/PID/root."""

    def __init__(self, device: str, task_root: Path, home: Path, group: Path | None = None):
        (home / "root").mkdir(parents=True)
        jail = isolation.Jail.of(home / "root", task_root, visible=[], device=device)
        command_r, self._command_w = os.pipe()
        self._reply_r, reply_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                # only its own pipe ends: not the test's (the command's EOF), nor the device
                keep = sorted((command_r, reply_w))
                for low, high in zip([2, *keep], [*keep, os.sysconf("SC_OPEN_MAX")]):
                    os.closerange(low + 1, high)
                if group is not None:
                    fd = os.open(group / "cgroup.procs", os.O_WRONLY)
                    os.write(fd, b"0")
                    os.close(fd)
                kernel.check(kernel.unshare(kernel.CLONE_NEWNS), b"cannot make a mount namespace")
                isolation.make_private()
                jail.enter()
                os.write(reply_w, b"ok")
                while path := os.read(command_r, 4096):
                    started = time.monotonic_ns()
                    fd, size = os.open(path, os.O_RDONLY), 0
                    while chunk := os.read(fd, MIB):
                        size += len(chunk)
                    os.close(fd)
                    os.write(reply_w, b"%d %d" % (size, time.monotonic_ns() - started))
                os._exit(0)
            except BaseException as exc:  # noqa: BLE001 - tell the test, then go
                os.write(reply_w, f"{type(exc).__name__}: {exc}".encode())
            finally:
                os._exit(1)
        os.close(command_r)
        os.close(reply_w)
        reply = os.read(self._reply_r, 4096)
        if reply != b"ok":
            self.close()
            raise OSError(reply.decode())

    def sees(self, path: Path) -> Path:
        """``path`` as the child sees it."""
        return Path(f"/proc/{self.pid}/root") / path.relative_to("/")

    def read(self, path: Path) -> tuple[int, float]:
        """Bytes read and seconds taken to read the whole file ``path`` in the child."""
        os.write(self._command_w, os.fsencode(path))
        size, elapsed_ns = os.read(self._reply_r, 4096).split()
        return int(size), int(elapsed_ns) / 1e9

    def mountinfo(self) -> str:
        return Path(f"/proc/{self.pid}/mountinfo").read_text()

    def close(self) -> int:
        if self._command_w >= 0:
            os.close(self._command_w)
            os.close(self._reply_r)
            self._command_w = -1
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
        return self.status


def test_the_image_shows_the_task_root_read_only_and_only_in_the_childs_namespace(
        shared_folder, cache, tmp_path):
    files = {"bootstrap": b"#!/bin/sh\necho hello\n", "lib/module.py": b"VALUE = 1\n",
             "empty": b""}
    root = make_task_root(shared_folder / "task", files)
    (root / "bootstrap").chmod(0o755)
    (root / "current").symlink_to("lib")
    image = delivery.pack(root, "visible")
    assert image == cache / "code-images" / "visible.ext4"
    (root / "added-after-packing").write_text("not in the image")

    device = delivery.attach(image)
    try:
        child = MountedChild(device.path, root, tmp_path / "environment")
    except BaseException:
        device.detach()
        raise
    try:
        device.detach()                       # the mount holds it now
        inside = child.sees(root)
        assert sorted(p.name for p in inside.iterdir()) == ["bootstrap", "current", "empty",
                                                            "lib", "lost+found"]
        for name, content in files.items():
            assert (inside / name).read_bytes() == content
        assert (inside / "bootstrap").stat().st_mode & 0o777 == 0o755
        assert os.readlink(inside / "current") == "lib"
        with pytest.raises(OSError) as refused:
            (inside / "bootstrap").write_text("changed")
        assert refused.value.errno == errno.EROFS
        [line] = [l for l in child.mountinfo().splitlines() if f" {root} " in l]
        options, _, source = line.partition(" - ")
        assert options.split()[5].split(",")[0] == "ro"
        assert source.split()[:2] == ["ext4", device.path]
        assert device.path not in Path("/proc/self/mountinfo").read_text()
        # detached by this process, yet attached while the child's mount holds it
        [listed] = attached(cache)
        assert (listed["name"], listed["ro"], listed["autoclear"]) == (device.path, True, True)
    finally:
        assert child.close() == 0
    deadline = time.monotonic() + 5
    while attached(cache) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not attached(cache), "the device outlived the namespace that mounted it"


def test_pack_reuses_its_image_and_packs_a_folder_to_the_same_bytes(tmp_path, cache):
    content = {f"pkg{i}/module_with_a_long_name_{j}.py": os.urandom(700 * j)
               for i in range(20) for j in range(30)}
    content["big.bin"] = os.urandom(3 * MIB)
    root = make_task_root(tmp_path / "task", content)
    # The image keeps its files' times, access time included; a file read for the first
    # time since it was written gets a new one (relatime), which would change the second
    # image. Read once here, in a later clock tick than the writes, they no longer move.
    time.sleep(0.02)
    for path in root.rglob("*"):
        if path.is_file():
            path.read_bytes()
    image = delivery.pack(root, "same")
    first = image.stat()
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    assert delivery.pack(root, "same") == image
    assert image.stat().st_mtime_ns == first.st_mtime_ns          # not packed again
    assert first.st_mode & 0o777 == 0o444
    assert [p.name for p in image.parent.iterdir()] == ["same.ext4"]  # no staging file
    payload = sum(len(c) for c in content.values())
    assert first.st_size < payload * 1.1 + 4 * MIB                # sized to fit
    check = subprocess.run(["e2fsck", "-f", "-n", str(image)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    image.unlink()
    assert hashlib.sha256(delivery.pack(root, "same").read_bytes()).hexdigest() == digest


def test_a_fresh_attachment_is_cold_and_its_reads_are_counted(tmp_path, cache, blkio_group):
    size = 4 * MIB
    root = make_task_root(tmp_path / "task", {"code.bin": os.urandom(size)})
    image = delivery.pack(root, "cold")
    pages = size // os.sysconf("SC_PAGE_SIZE")
    for attempt in range(2):              # a read through one attachment warms no other
        with delivery.attach(image) as device:
            delivery.throttle_reads(blkio_group, device)       # no limit; v1 counts
            child = MountedChild(device.path, root, tmp_path / f"environment-{attempt}",
                                 blkio_group)
        try:
            code = child.sees(root / "code.bin")
            assert delivery.resident_pages(code) == (0, pages)
            before = delivery.read_bytes(blkio_group, device)
            assert child.read(root / "code.bin")[0] == size
            assert delivery.resident_pages(code) == (pages, pages)
            assert delivery.read_bytes(blkio_group, device) - before >= size
            assert device.bytes_read() >= size
            # the image file stays in this machine's cache: the worker's own cache tier
            assert delivery.resident_pages(image)[0] == delivery.resident_pages(image)[1]
        finally:
            assert child.close() == 0


def test_a_throttled_read_takes_at_least_its_bytes_over_the_bandwidth(
        tmp_path, cache, blkio_group):
    size, bandwidth = 20 * MIB, 8 * MIB
    root = make_task_root(tmp_path / "task", {"code.bin": os.urandom(size)})
    with delivery.attach(delivery.pack(root, "throttled")) as device:
        delivery.throttle_reads(blkio_group, device, bytes_per_second=bandwidth)
        child = MountedChild(device.path, root, tmp_path / "environment", blkio_group)
    try:
        read, seconds = child.read(root / "code.bin")
        counted = delivery.read_bytes(blkio_group, device)
    finally:
        assert child.close() == 0
    assert read == size and counted >= size
    assert seconds >= size / bandwidth - THROTTLE_SLICE_S, f"{size} bytes in {seconds:.3f} s"


def test_a_device_nothing_mounted_is_detached_at_once(tmp_path, cache):
    root = make_task_root(tmp_path / "task", {"a": b"a"})
    with delivery.attach(delivery.pack(root, "unused")) as device:
        assert [d["name"] for d in attached(cache)] == [device.path]
    assert not attached(cache)


def test_a_mount_that_fails_is_an_os_error_in_the_child(tmp_path, cache):
    root = make_task_root(tmp_path / "task", {"a": b"a"})
    missing = tmp_path / "no-device"
    with pytest.raises(OSError, match=f"cannot mount {missing} on {root}: "
                                      f"No such file or directory"):
        MountedChild(str(missing), root, tmp_path / "environment")


def test_leftovers_are_the_cache_images_devices_and_are_detached(tmp_path, cache):
    root = make_task_root(tmp_path / "task", {"a": b"a"})
    image = delivery.pack(root, "left")
    other = tmp_path / "other.img"
    other.write_bytes(bytes(MIB))
    # as a killed run would leave one: attached with no autoclear
    left, unrelated = (subprocess.run(["losetup", "--find", "--show", "--read-only", str(f)],
                                      capture_output=True, text=True, check=True).stdout.strip()
                       for f in (image, other))
    try:
        assert delivery.leftovers() == [(left, image)]
        assert delivery.remove_leftovers() == [f"detached {left} (left.ext4)"]
        assert not attached(cache) and delivery.leftovers() == []
    finally:
        subprocess.run(["losetup", "--detach", unrelated], check=True)


def test_a_leftover_still_mounted_is_detached_when_its_namespace_ends(tmp_path, cache):
    root = make_task_root(tmp_path / "task", {"a": b"a"})
    image = delivery.pack(root, "busy")
    left = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)],
                          capture_output=True, text=True, check=True).stdout.strip()
    child = MountedChild(left, root, tmp_path / "environment")
    try:
        assert delivery.remove_leftovers() == [
            f"{left} (busy.ext4) is in use: detached when its mount goes"]
        assert child.read(root / "a")[0] == 1          # the mount still reads
    finally:
        assert child.close() == 0
    deadline = time.monotonic() + 5
    while attached(cache) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not attached(cache)


def test_attaching_without_root_says_how_to_run_without_images(tmp_path, cache):
    root = make_task_root(tmp_path / "task", {"a": b"a"})
    image = delivery.pack(root, "unprivileged")
    reply_r, reply_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            delivery.attach(image)
            os.write(reply_w, b"attached")
        except EnvironmentUnavailable as exc:
            os.write(reply_w, str(exc).encode())
        finally:
            os._exit(0)
    os.close(reply_w)
    message = os.read(reply_r, 4096).decode()
    os.close(reply_r)
    os.waitpid(pid, 0)
    assert message.startswith("cannot attach unprivileged.ext4 as a loop device: ")
    assert "--delivery host" in message and "\n" not in message
