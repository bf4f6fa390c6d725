"""What a function can see and change, as on Lambda.

AWS documents the execution environment as "a secure and isolated runtime environment"
whose runtime and external extensions are processes sharing its permissions and resources
(AWS Lambda documentation, "Understanding the Lambda execution environment lifecycle");
the function may write only its ``/tmp``, "512 MB by default, any whole number between 512
and 10,240 MB" (AWS Lambda API reference, "EphemeralStorage"); and its processes run as an
unprivileged user: ``id`` in a Lambda function prints ``uid=993(sbx_user1051) gid=990``,
even for an image whose own user is root (run-command-on-aws-lambda's documentation, which
runs ``id`` on Lambda). Here, as root, an environment gets the same:

- a PID namespace of its own, whose first process is coldbench's small init (``Init`` in
  ``process.py``): the runtime and its extensions see only each other, not coldbench nor
  its environment variables, and when the init goes the kernel kills every process left
  in the namespace, daemons included;
- a mount namespace whose root is an empty, read-only tmpfs holding only what the runtime
  needs, each bound read-only: the system's programs and libraries (``SYSTEM_PATHS``), the
  runtime's installation and the paths its command names, the task root (or its code
  image), extra read-only mounts (layers at /opt); plus a private ``/proc``, a minimal
  ``/dev`` and ``/tmp``: a tmpfs of the ephemeral storage's size (ENOSPC past it). Nothing
  else of this machine is there: not the build cache, nor code images, nor other
  environments' folders, nor /root or /home;
- processes that run as uid 993, gid 990, with no supplementary groups, on mounts without
  set-user-ID programs (nosuid).

Without root none of this can be made (``unavailable`` says why): the runtime then runs as
the user who runs coldbench, with this machine's files, and its processes are found and
killed through the init, a child subreaper (``PR_SET_CHILD_SUBREAPER``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from coldbench.environments.kernel import (CLONE_NEWNS, CLONE_NEWPID, MNT_DETACH, MS_BIND,
                                           MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE,
                                           MS_RDONLY, MS_REC, MS_REMOUNT,
                                           PR_SET_CHILD_SUBREAPER, SYS_PIVOT_ROOT, check,
                                           mount, prctl, syscall, umount2, unshare)
from coldbench.errors import UsageError

# the runtime's user and group on Lambda's managed runtimes (see above)
SANDBOX_UID, SANDBOX_GID = 993, 990
SANDBOX_USER = "sbx_user1051"
EPHEMERAL_DEFAULT_MB, EPHEMERAL_MIN_MB, EPHEMERAL_MAX_MB = 512, 512, 10_240
# the system's programs, libraries and configuration, bound read-only where they exist
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")
ROOT_TMPFS = b"size=4m,nr_inodes=4096,mode=755"

@runtime_checkable
class Writes(Protocol):
    """A runtime (a profiled one, say) that writes into folders of this machine: they are
    shown at their own path, writable, and given to the environment's user."""

    def writable(self) -> list[Path]:
        """This machine's folders the runtime writes into."""


def unavailable() -> str | None:
    """Why this machine cannot isolate an environment as Lambda does; None if it can."""
    if os.geteuid() != 0:
        return "not root"
    if SYS_PIVOT_ROOT is None:
        return f"no pivot_root number known for {os.uname().machine}"
    return None


def limitations(reason: str) -> str:
    """The note a run without isolation carries: what it cannot give, plainly."""
    return (f"{reason}: no sandbox as on Lambda: the runtime runs as this user (not "
            "uid 993), sees this machine's processes, files and the variables of "
            "processes of this user (coldbench's own included), writes wherever this user "
            "may, and its /tmp is a folder of this machine's temp directory without a size "
            "limit; its processes still end with its environment")


def check_ephemeral_storage(mb: int) -> int:
    if not isinstance(mb, int) or not EPHEMERAL_MIN_MB <= mb <= EPHEMERAL_MAX_MB:
        raise UsageError(f"--ephemeral-storage {mb}: Lambda allows {EPHEMERAL_MIN_MB} to "
                         f"{EPHEMERAL_MAX_MB} MB")
    return mb


# -- in the launcher and the init (forked children: system calls only) ------------------

def enter_namespaces() -> None:
    """In the launcher: new mount and PID namespaces; its next child is their init."""
    check(unshare(CLONE_NEWNS | CLONE_NEWPID), b"cannot make PID and mount namespaces")


def make_private() -> None:
    """In the init: nothing mounted here propagates to this machine's namespace."""
    check(mount(None, b"/", None, MS_REC | MS_PRIVATE, None), b"cannot make mounts private")


def become_subreaper() -> None:
    """In the init without namespaces: orphans of the runtime become its children."""
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def drop_privileges() -> None:
    """In a process of the environment, before exec: Lambda's unprivileged user."""
    os.setgroups([])
    os.setgid(SANDBOX_GID)
    os.setuid(SANDBOX_UID)


@dataclass(frozen=True)
class Jail:
    """The file system an environment sees (the module's docstring says what), made by its
    init in its own mount namespace: bytes and numbers, made in the parent."""

    root: bytes                               # an empty folder of this machine to build on
    binds: tuple[tuple[bytes, bytes], ...]    # (this machine's path, the path inside)
    tmp_mb: int
    writable: tuple[bytes, ...] = ()          # this machine's folders, shown writable
    code: tuple[bytes, bytes] | None = None   # (loop device, task root): the code image
    warm: tuple[bytes, ...] = ()              # task root's paths kept from this machine
    layers: bytes | None = None               # a loop device with the layers' image: /opt

    @classmethod
    def of(cls, root: Path, task_root: Path, visible: list[Path],
           mounts: list[tuple[Path, str]] = (), tmp_mb: int = EPHEMERAL_DEFAULT_MB,
           device: str | None = None, warm: list[Path] = (),
           writable: list[Path] = (), layers_device: str | None = None) -> "Jail":
        """``visible``: this machine's paths the runtime needs, shown at the same path;
        ``mounts``: (this machine's path, path inside) shown read-only too (layers at
        /opt); ``device``: a loop device with the task root's code image, mounted over it,
        with ``warm`` (paths under the task root) bound from this machine over the image's
        copies; ``writable``: folders shown writable at their own path; ``layers_device``:
        a loop device with the layers' image, mounted at /opt as the code is."""
        task_root = Path(task_root).resolve()
        binds: dict[bytes, bytes] = {}
        for path in [*(Path(p) for p in SYSTEM_PATHS), *visible]:
            path = Path(os.path.abspath(path))
            if _under(path, [task_root]):
                continue
            if path.exists() and not _under(path, SYSTEM_PATHS):
                binds[os.fsencode(path)] = os.fsencode(path.resolve())
            elif path.exists() and str(path) in SYSTEM_PATHS and not path.is_symlink():
                binds[os.fsencode(path)] = os.fsencode(path)
        for path in SYSTEM_PATHS:                 # /bin -> usr/bin: made as links
            if Path(path).is_symlink():
                binds.pop(os.fsencode(path), None)
        if device is None:
            binds[os.fsencode(task_root)] = os.fsencode(task_root)
        for source, inside in mounts:
            binds[os.fsencode(inside)] = os.fsencode(Path(source).resolve())
        # the runtime's user is in the environment's /etc/passwd, as on Lambda: a runtime
        # that looks itself up (Node.js's os.homedir() without HOME, Python's pwd) finds it
        passwd = Path(root).parent / "passwd"
        passwd.write_text(_passwd())
        binds[b"/etc/passwd"] = os.fsencode(passwd)
        relative = tuple(os.fsencode(Path(p).resolve().relative_to(task_root)) for p in warm)
        # parents before what is below them
        ordered = tuple((binds[t], t) for t in sorted(binds, key=lambda t: (t.count(b"/"), t)))
        return cls(os.fsencode(root), ordered, tmp_mb,
                   tuple(os.fsencode(Path(p).resolve()) for p in writable),
                   (os.fsencode(device), os.fsencode(task_root)) if device else None,
                   relative, os.fsencode(layers_device) if layers_device else None)

    def enter(self) -> None:
        """In the init, in its own mount and PID namespaces, before any process of the
        environment runs: build the root, move into it."""
        root = self.root
        check(mount(b"tmpfs", root, b"tmpfs", MS_NOSUID | MS_NODEV, ROOT_TMPFS),
              b"cannot mount the root")
        for path in SYSTEM_PATHS:                 # merged /usr: /bin is a link
            link = os.fsencode(path)
            if os.path.islink(link):
                os.symlink(os.readlink(link), root + link)
        # /tmp first: what is bound below it (a task root in a temp folder) stays on top
        _make_place(root + b"/tmp", directory=True)
        check(mount(b"tmpfs", root + b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV,
                    b"size=%dm,mode=1777" % self.tmp_mb), b"cannot mount /tmp")
        for source, target in self.binds:
            _bind_read_only(source, root + target)
        for folder in self.writable:
            _make_place(root + folder, directory=True)
            check(mount(folder, root + folder, None, MS_BIND, None),
                  b"cannot bind " + folder)
            check(mount(None, root + folder, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV,
                        None), b"cannot remount " + folder)
        _make_place(root + b"/proc", directory=True)
        check(mount(b"proc", root + b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    None), b"cannot mount /proc")
        _make_place(root + b"/dev", directory=True)
        check(mount(b"tmpfs", root + b"/dev", b"tmpfs", MS_NOSUID | MS_NOEXEC,
                    b"size=64k,mode=755"), b"cannot mount /dev")
        for name in DEVICES:
            device = b"/dev/" + name.encode()
            if os.path.exists(device):
                _make_place(root + device, directory=False)
                check(mount(device, root + device, None, MS_BIND, None),
                      b"cannot bind " + device)
        for name, target in ((b"fd", b"/proc/self/fd"), (b"stdin", b"/proc/self/fd/0"),
                             (b"stdout", b"/proc/self/fd/1"), (b"stderr", b"/proc/self/fd/2")):
            os.symlink(target, root + b"/dev/" + name)
        if self.code is not None:         # last: its reads are throttled from here on
            device, task_root = self.code
            _make_place(root + task_root, directory=True)
            # noload: never replay a journal (a read-only image has none to replay)
            check(mount(device, root + task_root, b"ext4", MS_RDONLY | MS_NOSUID | MS_NODEV,
                        b"noload"), b"cannot mount " + device + b" on " + task_root)
            for path in self.warm:
                _bind_read_only(task_root + b"/" + path, root + task_root + b"/" + path)
        if self.layers is not None:       # the layers are code too, read cold as it is
            _make_place(root + b"/opt", directory=True)
            check(mount(self.layers, root + b"/opt", b"ext4",
                        MS_RDONLY | MS_NOSUID | MS_NODEV, b"noload"),
                  b"cannot mount " + self.layers + b" on /opt")
        os.chdir(root)
        check(syscall(SYS_PIVOT_ROOT, b".", b"."), b"cannot pivot_root")
        check(umount2(b".", MNT_DETACH), b"cannot detach the old root")
        os.chdir(b"/")
        check(mount(None, b"/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                    None), b"cannot make the root read-only")


@functools.cache
def _passwd() -> str:
    """This machine's /etc/passwd with the sandbox's user added."""
    try:
        known = Path("/etc/passwd").read_text()
    except OSError:
        known = ""
    if known and not known.endswith("\n"):
        known += "\n"
    return known + (f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}::/home/{SANDBOX_USER}:"
                    "/sbin/nologin\n")


def _under(path: Path, folders) -> bool:
    return any(path == Path(f) or Path(f) in path.parents for f in folders)


def _make_place(path: bytes, directory: bool) -> None:
    """A mount point at ``path`` in the new root, and its parents (mode 755)."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if directory:
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))


def _bind_read_only(source: bytes, target: bytes) -> None:
    """``source`` at ``target``, read-only, with every mount below it read-only too."""
    _make_place(target, directory=os.path.isdir(source))
    check(mount(source, target, None, MS_BIND | MS_REC, None),
          b"cannot bind " + source + b" on " + target)
    for point in [target, *_mounts_below(target)]:
        check(mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                    None), b"cannot make " + point + b" read-only")


def _mounts_below(target: bytes) -> list[bytes]:
    """Mount points strictly below ``target`` (from /proc/self/mountinfo)."""
    with open(b"/proc/self/mountinfo", "rb") as info:
        points = [line.split(b" ")[4] for line in info.read().splitlines()]
    points = [p.replace(b"\\040", b" ").replace(b"\\011", b"\t").replace(b"\\012", b"\n")
              .replace(b"\\134", b"\\") for p in points]
    return [p for p in dict.fromkeys(points) if p.startswith(target + b"/")]
