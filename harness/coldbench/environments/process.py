"""The process sandbox: a runtime as a process tree on this machine, in a cgroup of its
own with Lambda's memory limit and CPU share, with its own /tmp and log.

Init Duration counts from the runtime's exec, and the runtime's whole life is inside its
limits: the process joins its cgroup before it execs. Joining costs 10-15 ms on cgroup v1
(the kernel waits for an RCU grace period), which must be neither in Init Duration nor in
what a cold sample waits, so processes are started ahead: a ``Launcher`` is a child forked
before it is needed, which joins a fresh cgroup of its own and then parks, waiting for
the command it is to exec. A sandbox takes a parked launcher, gives its cgroup the memory
size's limits, and releases it: the start instant is taken there, and the child execs at
once. The next launcher is forked as one is taken, so it joins while the current sample
runs; joining sleeps in the kernel and uses no CPU.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from collections import deque
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

from coldbench.environments import cgroups, delivery
from coldbench.environments.base import Sandbox
from coldbench.phases import now_ns

#: every environment's folder in the temp directory is named FOLDER_PREFIX<name>-<random>
FOLDER_PREFIX = "coldbench-"
CPU_MODELS = ("lambda", "proportional", "none")
# What a child writes on its error pipe once its code image is mounted (no error message
# starts with it): Init Duration starts then, not before the mount.
MOUNTED = b"\0"


class Launcher:
    """A forked child, parked before exec, inside its own cgroup (if any)."""

    def __init__(self, cgroup: cgroups.Cgroup | None):
        self.cgroup = cgroup
        ready_r, ready_w = os.pipe()
        command_r, self._command_w = os.pipe()
        self._error_r, error_w = os.pipe()       # closes at exec (O_CLOEXEC): success
        procs = [p.encode() for p in cgroup.procs_files] if cgroup else []
        self.pid = os.fork()
        if self.pid == 0:                        # the child: never returns
            _park(procs, ready_w, command_r, error_w)
        for fd in (ready_w, command_r, error_w):
            os.close(fd)
        self._ready_r = ready_r
        self.returncode: int | None = None

    def wait_ready(self) -> bool:
        """Block until the child has joined its cgroup; False if it died first."""
        try:
            return os.read(self._ready_r, 1) == b"r"
        finally:
            os.close(self._ready_r)
            self._ready_r = -1

    def release(self, argv: list[str], env: dict[str, str], cwd: str, log: Path,
                mount: delivery.PrivateMount | None = None) -> int:
        """Let the child exec ``argv`` (after mounting ``mount``, if any); the start
        instant: with a mount, the moment the child says its code is in place, as on Lambda
        the function's code is there before its runtime starts. OSError if the mount or the
        exec failed."""
        fields = [os.fsencode(cwd), os.fsencode(log),
                  mount.source if mount else b"", mount.target if mount else b"",
                  mount.staging if mount else b"", b"\n".join(mount.warm) if mount else b"",
                  str(len(argv)).encode(), *(a.encode() for a in argv),
                  *(f"{name}={value}".encode() for name, value in env.items())]
        message = b"\0".join(fields)
        started = now_ns()
        try:
            os.write(self._command_w, message)   # below the pipe's 64 KiB: one write
        finally:
            os.close(self._command_w)
            self._command_w = -1
        first = b""
        if mount is not None:
            first = os.read(self._error_r, 1)
            if first == MOUNTED:
                started, first = now_ns(), b""
        failure = first + os.read(self._error_r, 4096)   # empty: exec'd (closed at exec)
        os.close(self._error_r)
        self._error_r = -1
        if failure:
            self.wait()
            raise OSError(failure.decode("utf-8", "replace"))
        return started

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def discard(self) -> None:
        """Kill an unreleased launcher and release what it holds."""
        for fd in (self._ready_r, self._command_w, self._error_r):
            if fd >= 0:
                os.close(fd)
        self._ready_r = self._command_w = self._error_r = -1
        _kill_tree(self.pid)
        self.wait()
        if self.cgroup is not None:
            cgroups.remove(self.cgroup)


def _park(procs: list[bytes], ready_w: int, command_r: int, error_w: int) -> None:
    """In the forked child: join the cgroup, say so, wait for the command, exec it. Only
    system calls and bytes here: the parent may have had other threads."""
    try:
        # Only its own three pipe ends stay open: not the parent's ends of them (the
        # command ends when the parent closes it, or dies), nor another launcher's, nor
        # the parent's sockets and files.
        keep = sorted((ready_w, command_r, error_w))
        for low, high in zip([2, *keep], [*keep, os.sysconf("SC_OPEN_MAX")]):
            os.closerange(low + 1, high)
        os.setsid()                              # a process group of its own, to kill
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")               # "0": this process
            finally:
                os.close(fd)
        os.write(ready_w, b"r")
        os.close(ready_w)
        chunks = []
        while chunk := os.read(command_r, 65536):
            chunks.append(chunk)
        if not chunks:                           # the parent went away, or discarded it
            os._exit(0)
        cwd, log, source, target, staging, warm, count, *rest = b"".join(chunks).split(b"\0")
        argv, variables = rest[:int(count)], rest[int(count):]
        if source:                               # the code from its image, as on Lambda
            delivery.PrivateMount(source, target, staging,
                                  tuple(warm.split(b"\n")) if warm else ()).enter()
            os.write(error_w, MOUNTED)           # the clock starts now
        env = dict(v.split(b"=", 1) for v in variables)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.chdir(cwd)
        for signum in (signal.SIGPIPE, signal.SIGXFSZ):   # as subprocess restores them
            try:
                signal.signal(signum, signal.SIG_DFL)
            except ValueError:               # not the main thread: left as inherited
                pass
        os.execvpe(argv[0], argv, env)
    except BaseException as exc:                 # noqa: BLE001 - tell the parent, then go
        try:
            os.write(error_w, f"{type(exc).__name__}: {exc}".encode())
        finally:
            os._exit(127)


class LauncherPool:
    """Parked launchers, each in a fresh cgroup, one forked ahead of need."""

    def __init__(self, cgroup_version: str | None, run_id: str, ahead: int = 1,
                 io: bool = False):
        self.cgroup_version = cgroup_version
        self.io = io                      # groups in the block I/O controller too
        self.run_id = run_id
        self.ahead = ahead
        self._parked: deque[Launcher] = deque()
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()
        self._closed = False

    def _fork(self) -> Launcher:
        group = None
        if self.cgroup_version:
            group = cgroups.create(self.cgroup_version, f"{self.run_id}-{next(self._sequence)}",
                                   io=self.io)
        try:
            return Launcher(group)
        except BaseException:
            if group is not None:
                cgroups.remove(group)
            raise

    def take(self) -> Launcher:
        """A launcher that has joined its cgroup; another is forked to replace it."""
        with self._lock:
            if self._closed:
                raise OSError("the target is closed")
            launcher = self._parked.popleft() if self._parked else self._fork()
            while len(self._parked) < self.ahead:
                self._parked.append(self._fork())
        if not launcher.wait_ready():
            code = launcher.wait()
            if launcher.cgroup is not None:
                cgroups.remove(launcher.cgroup)
            raise OSError(f"the process that was to start the runtime ended before it was "
                          f"ready (status {code}): could it join its cgroup?")
        return launcher

    def close(self) -> None:
        with self._lock:
            self._closed = True
            parked, self._parked = list(self._parked), deque()
        for launcher in parked:
            launcher.discard()


class ProcessSandbox(Sandbox):
    """One runtime process (and its children) on this machine."""

    def __init__(self, pool: LauncherPool, task_root: Path, memory_mb: int,
                 cpu_model: str = "lambda", name: str = "", code_image: Path | None = None,
                 code_path: delivery.CodePath | None = None, warm: list[Path] = ()):
        self.pool = pool
        self.code_image = code_image      # the task root as a read-only image, if given
        self.code_path = code_path or delivery.CodePath()    # how fast it reads
        self.warm = list(warm)            # paths of the task root read from this machine
        self.task_root = str(task_root)
        self.memory_mb = memory_mb
        self.cpu_model = cpu_model
        self.share = cgroups.CpuShare.for_memory(memory_mb)
        self.home = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{name or uuid.uuid4().hex[:8]}-"))
        self.tmp = str(self.home / "tmp")
        Path(self.tmp).mkdir()
        self.log_path = self.home / "output.log"
        self.launcher: Launcher | None = None
        self.device: delivery.LoopDevice | None = None
        self.extra = {}
        self._spawned: list[subprocess.Popen] = []
        self._closed = False

    @property
    def cgroup(self) -> cgroups.Cgroup | None:
        return self.launcher.cgroup if self.launcher else None

    def network(self):
        return nullcontext()

    def _take_launcher(self) -> None:
        if self.launcher is not None:
            return
        self.launcher = self.pool.take()
        if self.cgroup is not None:
            self.cgroup.set_memory(self.memory_mb)
            if self.cpu_model == "proportional":
                self.cgroup.set_cpu(self.share.applied_vcpus)

    def spawn(self, argv: list[str], env: dict[str, str], name: str) -> int:
        """A further process in the runtime's cgroup (taken now if the runtime has not
        started yet), in a session of its own, writing to ``<name>.log``. It joins the
        group through a shell before it execs, so that all of its life counts."""
        self._take_launcher()
        procs = self.cgroup.procs_files if self.cgroup is not None else []
        join = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 126; shift; done; shift; exec "$@"'
        with open(self.home / f"{name}.log", "ab") as log:
            process = subprocess.Popen(["/bin/sh", "-c", join, "sh", *procs, "--", *argv],
                                       env=env, cwd=self.home, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self._spawned.append(process)
        return process.pid

    def start(self, argv, env, before_exec: Callable[[], dict[str, str]] | None = None) -> None:
        self._take_launcher()
        if before_exec is not None:
            env = env | before_exec()
        mount = None
        if self.code_image is not None:   # a fresh device: none of its pages are cached
            # (the target gives such a sandbox a pool whose groups count block I/O)
            self.device = delivery.attach(self.code_image)
            delivery.throttle_reads(self.cgroup.io_dir, self.device,    # counted from here
                                    self.code_path.bytes_per_second,
                                    self.code_path.ios_per_second)
            mount = delivery.PrivateMount.of(self.device, Path(self.task_root), self.warm,
                                             self.home / "runtime")
        try:
            self.started_ns = self.launcher.release(argv, env, self.task_root, self.log_path,
                                                    mount)
        finally:
            if self.device is not None:   # mounted by now: the mount holds it
                self.device.detach()

    def running(self) -> bool:
        return self.launcher is not None and self.launcher.poll() is None

    def exit_status(self) -> int:
        return self.launcher.wait()

    def out_of_memory(self) -> bool:
        return self.cgroup is not None and self.cgroup.oom_killed()

    def peak_memory_mb(self) -> float | None:
        if self.cgroup is not None:
            return self.cgroup.peak_memory_mb()
        if self.launcher is None:
            return None
        # without cgroups: the highest high-water mark of the process and its children
        peaks = []
        for pid in [self.launcher.pid, *descendants(self.launcher.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
            except OSError:
                pass
        return max(peaks, default=None)

    def limit_cpu(self) -> None:
        if self.cgroup is not None and self.cpu_model == "lambda":
            self.cgroup.set_cpu(self.share.applied_vcpus)

    def init_done(self) -> None:
        if self.device is not None:       # what init read from the code path
            read = delivery.read_bytes(self.cgroup.io_dir, self.device)
            self.extra["init_read_mb"] = round(read / 1e6, 3)
            self.extra["init_read_requests"] = delivery.read_requests(self.cgroup.io_dir,
                                                                      self.device)
        self.limit_cpu()

    def log(self, offset: int = 0) -> tuple[str, int]:
        return _read_from(self.log_path, offset)

    def spawned_log(self, name: str, offset: int = 0) -> tuple[str, int]:
        return _read_from(self.home / f"{name}.log", offset)

    def close(self) -> None:
        if self._closed:
            return
        for process in self._spawned:
            if process.poll() is None:
                _kill_tree(process.pid)
            process.wait()
        if self.launcher is not None and self.started_ns is None:
            self.launcher.discard()       # taken for spawned processes, never released
        elif self.launcher is not None:
            if self.launcher.returncode is None:
                _kill_tree(self.launcher.pid)
                self.launcher.wait()          # reaped first: the group empties only then
            if self.cgroup is not None:
                cgroups.remove(self.cgroup)
        shutil.rmtree(self.home, ignore_errors=True)
        self._closed = True


def _read_from(path: Path, offset: int) -> tuple[str, int]:
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            data = log.read()
    except OSError:
        return "", offset
    return data.decode("utf-8", "replace"), offset + len(data)


def _kill_tree(pid: int) -> None:
    """SIGKILL a process, its process group and every process below it (an emulator
    starts its runtime in a group of its own)."""
    below = descendants(pid)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for process in [pid, *below]:
        try:
            os.kill(process, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def descendants(pid: int) -> list[int]:
    """Processes below ``pid``, children first (from /proc/PID/task/TID/children)."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop(0)
        try:                              # a process that ends meanwhile has no children left
            threads = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for thread in threads:
            try:
                pids = [int(c) for c in (thread / "children").read_text().split()]
            except OSError:
                continue
            found.extend(pids)
            queue.extend(pids)
    return found

