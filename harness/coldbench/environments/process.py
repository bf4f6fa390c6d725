"""The process sandbox: a runtime as a process tree on this machine, in a cgroup of its
own with Lambda's memory limit and CPU share, isolated as on Lambda (``isolation.py``:
its own PID and mount namespaces, a read-only root of only the runtime's files, a private
/tmp, Lambda's unprivileged user), with its own log.

Init Duration counts from the runtime's exec, and the runtime's whole life is inside its
limits: the process joins its cgroup before it execs. Joining costs 10-15 ms on cgroup v1
(the kernel waits for an RCU grace period), which must be neither in Init Duration nor in
what a cold sample waits, so processes are started ahead: a ``Launcher`` is a child forked
before it is needed, which joins a fresh cgroup of its own, makes new PID and mount
namespaces and forks the environment's init (PID 1 there), which forks one more child
that parks, waiting for the command it is to exec. A sandbox takes a parked launcher,
gives its cgroup the memory size's limits, has the init build the environment's file
system, then asks it for each process: extensions (``spawn``), then the runtime
(``start``). The start instant is the moment the runtime's process is about to exec,
everything in place. The next launcher is forked as one is taken, so it joins while the
current sample runs; joining sleeps in the kernel and uses no CPU.

Every process of an environment ends with it: the init ends when the runtime does (the
launcher then ends with the runtime's status) or when coldbench closes the environment,
and as PID 1 of its namespace it takes every other process with it, a double-forked daemon
included. Without root there are no namespaces: the init is its processes' subreaper and
kills them itself.
"""

from __future__ import annotations

import itertools
import os
import pickle
import select
import shutil
import signal
import socket
import struct
import tempfile
import threading
import uuid
from collections import deque
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

from coldbench.environments import cgroups, counters, delivery, isolation, kernel
from coldbench.environments.base import Sandbox
from coldbench.phases import now_ns
from coldbench.signals import check_interrupted, interrupts_held

#: every environment's folder in the temp directory is named FOLDER_PREFIX<name>-<random>
FOLDER_PREFIX = "coldbench-"
CPU_MODELS = ("lambda", "proportional", "none")
# What a process writes on its report pipe just before it execs, with the instant
# (``phases.now_ns``, 8 bytes) it did (no error message starts with it): a runtime's Init
# Duration starts then, once its environment is in place.
READY = b"\0"


class Launcher:
    """A forked child, parked before exec, inside its own cgroup (if any), with the init of
    its environment below it (``_park``, ``_init``): with ``isolate``, the first process of
    a PID and a mount namespace of their own. Processes are started through the init
    (``spawn``), the runtime last; the launcher ends as the runtime does, with its status,
    and everything else in the environment with it."""

    def __init__(self, cgroup: cgroups.Cgroup | None, isolate: bool = False):
        self.cgroup = cgroup
        self.isolated = isolate
        ready_r, ready_w = os.pipe()
        self._channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        procs = [p.encode() for p in cgroup.procs_files] if cgroup else []
        with interrupts_held():                  # not raised in logging's at-fork handlers
            self.pid = os.fork()
            if self.pid == 0:                    # the child: never returns
                _park(procs, ready_w, theirs.fileno(), isolate)
        os.close(ready_w)
        theirs.close()
        self._ready_r = ready_r
        self._asking = threading.Lock()          # one request at a time on the channel
        self._reaping = threading.Lock()         # one waitpid at a time (``_reap``)
        self.returncode: int | None = None
        try:
            check_interrupted()                  # one that came during the fork
        except KeyboardInterrupt:
            self.discard()
            raise

    def wait_ready(self) -> bool:
        """Block until the child has joined its cgroup; False if it died first."""
        try:
            return os.read(self._ready_r, 1) == b"r"
        finally:
            os.close(self._ready_r)
            self._ready_r = -1

    def _ask(self, request: dict, fds: list[int] = ()) -> dict:
        with self._asking:
            socket.send_fds(self._channel, [pickle.dumps(request)], list(fds))
            reply = self._channel.recv(1 << 16)
        if not reply:
            raise OSError("the environment ended before it answered")
        answer = pickle.loads(reply)
        if "error" in answer:
            raise OSError(answer["error"])
        return answer

    def enter(self, jail: isolation.Jail) -> None:
        """Make the environment's file system (``Jail.enter``), before any process runs in
        it. OSError if a step fails."""
        self._ask({"op": "jail", "jail": jail})

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str, log_fd: int,
              runtime: bool = False) -> tuple[int, int]:
        """Start ``argv`` in the environment, its output to ``log_fd``; its process ID in
        the environment, and the instant it was about to exec (a runtime's start instant:
        Init Duration counts from there). ``runtime``: when it ends, the environment ends.
        OSError if it could not be started."""
        with self._asking:
            reply, started, failure = self._spawn(argv, env, cwd, log_fd, runtime)
        answer = pickle.loads(reply) if reply else {"error": "the environment ended"}
        if failure or "error" in answer:
            if runtime:
                self.wait()
            raise OSError((failure.decode("utf-8", "replace") if failure else answer["error"]))
        return answer["pid"], started

    def _spawn(self, argv, env, cwd, log_fd, runtime) -> tuple[bytes, int | None, bytes]:
        report_r, report_w = os.pipe2(os.O_CLOEXEC)   # closes at exec: success
        try:
            request = {"op": "spawn", "argv": argv, "env": env, "cwd": cwd, "runtime": runtime}
            socket.send_fds(self._channel, [pickle.dumps(request)], [log_fd, report_w])
        finally:
            os.close(report_w)
        try:
            first = os.read(report_r, 1)
            started = None
            if first == READY:                   # with the instant the process took
                started, first = struct.unpack("=q", _read_exactly(report_r, 8))[0], b""
            failure = first + _read_all(report_r)
        finally:
            os.close(report_r)
        return self._channel.recv(1 << 16), started, failure

    def host_pid(self, pid: int) -> int:
        """The process ID on this machine of the environment's process ``pid``."""
        if not self.isolated:
            return pid
        for candidate in descendants(self.pid):
            try:
                for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                    if line.startswith("NSpid:") and int(line.split()[-1]) == pid \
                            and len(line.split()) > 2:
                        return candidate
            except OSError:
                continue
        raise OSError(f"process {pid} of the environment is gone")

    def poll(self) -> int | None:
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self._reap(0)
        return self.returncode

    def _reap(self, flags: int) -> None:
        """Collect the launcher's status, one thread at a time: a poll() while another
        thread waits returns at once (that thread records the status); a wait() waits for
        it. Without this, a waitpid could find the child already collected by the other."""
        if not self._reaping.acquire(blocking=not flags & os.WNOHANG):
            return
        try:
            if self.returncode is None:
                pid, status = os.waitpid(self.pid, flags)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        finally:
            self._reaping.release()

    def release_runtime(self, signum: int) -> None:
        """Send ``signum`` (0: none) to the runtime; the environment no longer ends when
        it does."""
        self._ask({"op": "release", "signum": signum})

    def released_status(self) -> int | None:
        """The wait status of a released runtime that has ended (None: it runs)."""
        return self._ask({"op": "status"})["status"]

    def end(self) -> None:
        """Kill every process of the environment and reap the launcher."""
        self._channel.close()                    # the init ends everything it started
        if self.returncode is None:
            _kill_tree(self.pid)
            self.wait()                          # reaped first: the group empties only then

    def discard(self) -> None:
        """Kill an unreleased launcher and release what it holds."""
        if self._ready_r >= 0:
            os.close(self._ready_r)
            self._ready_r = -1
        self.end()
        if self.cgroup is not None:
            cgroups.remove(self.cgroup)


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size and (chunk := os.read(fd, size - len(data))):
        data += chunk
    if len(data) < size:
        raise OSError("the process ended before it said when it started")
    return data


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)


def _park(procs: list[bytes], ready_w: int, channel: int, isolate: bool) -> None:
    """In the forked launcher: join the cgroup, make the environment's init (with
    ``isolate``, in new PID and mount namespaces), then wait for it and end as the runtime
    ended. Only system calls and bytes here: the parent may have had other threads."""
    try:
        # Only its own pipe and socket stay open: not the parent's ends of them, nor
        # another launcher's, nor the parent's sockets and files.
        keep = sorted((ready_w, channel))
        for low, high in zip([2, *keep], [*keep, os.sysconf("SC_OPEN_MAX")]):
            os.closerange(low + 1, high)
        os.setsid()                              # a process group of its own, to kill
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")               # "0": this process
            finally:
                os.close(fd)
        if isolate:
            isolation.enter_namespaces()
        status_r, status_w = os.pipe()
        init = os.fork()
        if init == 0:
            os.close(status_r)
            _init(ready_w, channel, status_w, isolate)
        for fd in (status_w, ready_w, channel):
            os.close(fd)
        _, status = os.waitpid(init, 0)
        reported = _read_all(status_r)           # the runtime's status, if it ended
        _exit_as(int(reported) if reported else status)
    except BaseException:                        # noqa: BLE001 - never back into the caller
        os._exit(127)


def _exit_as(status: int) -> None:
    """End this process the way a process with wait status ``status`` ended."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _init(ready_w: int, channel_fd: int, status_w: int, isolate: bool) -> None:
    """The environment's init: starts processes on request, reaps every process that ends
    in the environment, and ends when the runtime does (reporting its status on
    ``status_w``) or when coldbench closes the channel. With ``isolate`` it is PID 1 of
    the environment's namespace, whose other processes the kernel kills when it ends;
    without, it is their subreaper and kills them itself."""
    try:
        # no handler of coldbench's: as PID 1 of its namespace, the kernel then drops these
        # signals from the environment's own processes
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        if isolate:
            isolation.make_private()
        else:
            isolation.become_subreaper()
        channel = socket.socket(fileno=channel_fd)
        stub = _fork_stub(isolate)
        os.write(ready_w, b"r")
        os.close(ready_w)
        runtime, runtime_fd = None, -1
        released, released_status = None, None   # a runtime the environment outlives
        while True:
            watched = [channel] + ([runtime_fd] if runtime_fd >= 0 else [])
            readable, _, _ = select.select(watched, [], [], 1.0)
            while True:                          # reap whatever ended
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid == runtime:
                    _end_environment(status_w, status, isolate)
                if pid == released:
                    released_status = status
            if channel not in readable:
                continue
            message, fds, _, _ = socket.recv_fds(channel, 1 << 20, 4, socket.MSG_CMSG_CLOEXEC)
            if not message:
                _end_environment(status_w, None, isolate)
            request = pickle.loads(message)
            try:
                if request["op"] == "jail":
                    request["jail"].enter()
                    reply = {"ok": True}
                elif request["op"] == "release":      # the runtime may end first
                    if runtime is not None:
                        os.close(runtime_fd)
                        released, runtime, runtime_fd = runtime, None, -1
                    if released is not None and released_status is None \
                            and request["signum"]:
                        os.kill(released, request["signum"])
                    reply = {"ok": True}
                elif request["op"] == "status":
                    reply = {"status": released_status}
                else:
                    pid, stub_channel = stub or _fork_stub(isolate)
                    stub = None
                    socket.send_fds(stub_channel, [message], fds)
                    stub_channel.close()
                    reply = {"pid": pid}
                    if request["runtime"]:
                        runtime, runtime_fd = pid, os.pidfd_open(pid)
                    else:                        # the runtime's is forked now, off its clock
                        stub = _fork_stub(isolate)
            except Exception as exc:             # noqa: BLE001 - the caller hears of it
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            finally:
                for fd in fds:
                    os.close(fd)
            channel.send(pickle.dumps(reply))
    except BaseException:                        # noqa: BLE001 - the environment ends
        _end_environment(status_w, None, isolate)


def _fork_stub(isolate: bool) -> tuple[int, socket.socket]:
    """A child of the init, forked ahead of need (a fork copies the init's page tables:
    milliseconds, kept out of the time a start waits), that waits for the command it is to
    exec; its process ID and the socket the command goes through."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid:
        theirs.close()
        return pid, ours
    try:
        keep = theirs.fileno()
        for low, high in ((3, keep), (keep + 1, os.sysconf("SC_OPEN_MAX"))):
            os.closerange(low, high)
        message, fds, _, _ = socket.recv_fds(theirs, 1 << 20, 4, socket.MSG_CMSG_CLOEXEC)
    except BaseException:                        # noqa: BLE001 - never back into the loop
        os._exit(127)
    if not message:                              # the init ended, or had no use for it
        os._exit(0)
    _exec(pickle.loads(message), fds, isolate)


def _exec(request: dict, fds: list[int], isolate: bool) -> None:
    """In a stub: become the request's command (stdout and stderr to the log). Never
    returns."""
    log_fd, report_w = fds
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        for low, high in zip([2, report_w], [report_w, os.sysconf("SC_OPEN_MAX")]):
            os.closerange(low + 1, high)
        os.chdir(request["cwd"])
        if isolate:
            isolation.drop_privileges()
        for signum in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
            try:
                signal.signal(signum, signal.SIG_DFL)
            except ValueError:               # not the main thread: left as inherited
                pass
        os.set_inheritable(report_w, False)  # closed at exec: the parent hears success
        # the clock starts now: the instant read here, not when the parent wakes to read it
        os.write(report_w, READY + struct.pack("=q", now_ns()))
        os.execvpe(request["argv"][0], request["argv"], request["env"])
    except BaseException as exc:             # noqa: BLE001 - tell the parent, then go
        try:
            os.write(report_w, f"{type(exc).__name__}: {exc}".encode())
        finally:
            os._exit(127)


def _end_environment(status_w: int, status: int | None, isolate: bool) -> None:
    """End the init (and, with it, every process of its namespace); without a namespace,
    kill what it started, and their orphans, first."""
    if status is not None:
        os.write(status_w, str(status).encode())
    if not isolate:
        for _ in range(100):
            below = descendants(os.getpid())
            if not below:
                break
            for pid in below:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            while True:
                try:
                    if os.waitpid(-1, os.WNOHANG)[0] == 0:
                        break
                except ChildProcessError:
                    break
    os._exit(0)


class LauncherPool:
    """Parked launchers, each in a fresh cgroup, one forked ahead of need."""

    def __init__(self, cgroup_version: str | None, run_id: str, ahead: int = 1,
                 io: bool = False, isolate: bool = False):
        self.cgroup_version = cgroup_version
        self.io = io                      # groups in the block I/O controller too
        self.isolate = isolate            # each in namespaces of its own (root only)
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
            return Launcher(group, self.isolate)
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
    """One runtime process (and its children, and the processes ``spawn`` starts) on this
    machine; isolated as on Lambda (``isolation.py``) when the pool's launchers are."""

    def __init__(self, pool: LauncherPool, task_root: Path, memory_mb: int,
                 cpu_model: str = "lambda", name: str = "", code_image: Path | None = None,
                 code_path: delivery.CodePath | None = None, warm: list[Path] = (),
                 visible: list[Path] = (), mounts: list[tuple[Path, str]] = (),
                 ephemeral_storage_mb: int = isolation.EPHEMERAL_DEFAULT_MB,
                 writable: list[Path] = (), layers_image: Path | None = None):
        self.pool = pool
        self.isolated = pool.isolate
        self.code_image = code_image      # the task root as a read-only image, if given
        self.layers_image = layers_image  # the layers (/opt) as one, read cold as the code
        self.code_path = code_path or delivery.CodePath()    # how fast it reads
        self.warm = list(warm)            # paths of the task root read from this machine
        self.visible = list(visible)      # this machine's paths the runtime needs
        self.mounts = list(mounts)        # (path here, path inside), read-only: /opt
        self.writable = list(writable)    # folders here the runtime writes into
        self.ephemeral_storage_mb = ephemeral_storage_mb
        self.task_root = str(task_root)
        self.memory_mb = memory_mb
        self.cpu_model = cpu_model
        self.share = cgroups.CpuShare.for_memory(memory_mb)
        self.home = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{name or uuid.uuid4().hex[:8]}-"))
        if self.isolated:                 # a tmpfs of its own, built on an empty folder
            self.tmp = "/tmp"
            (self.home / "root").mkdir()
        else:
            self.tmp = str(self.home / "tmp")
            Path(self.tmp).mkdir()
        self.log_path = self.home / "output.log"
        self.launcher: Launcher | None = None
        self.device: delivery.LoopDevice | None = None
        self.layers_device: delivery.LoopDevice | None = None
        self.extra = {}
        self._log_fd = -1
        self._runtime: int | None = None  # the runtime's process ID in the environment
        self._released: int | None = None  # a released runtime's process ID here
        self._closed = False

    @property
    def cgroup(self) -> cgroups.Cgroup | None:
        return self.launcher.cgroup if self.launcher else None

    def network(self):
        return nullcontext()

    def _prepare(self, argv: list[str] = ()) -> Launcher:
        """The environment, made on its first process: a parked launcher, its limits, its
        file system. ``argv``: the runtime's command, whose files it must see."""
        if self.launcher is not None:
            return self.launcher
        if (self.code_image or self.layers_image) is not None and not self.isolated:
            raise OSError("a code image is mounted in the environment's own namespaces: "
                          "only as root")
        self.launcher = self.pool.take()
        if self.cgroup is not None:
            self.cgroup.set_memory(self.memory_mb)
            if self.cpu_model == "proportional":
                self.cgroup.set_cpu(self.share.applied_vcpus)
        self._log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND
                               | os.O_CLOEXEC, 0o644)
        if not self.isolated:
            return self.launcher
        if self.code_image is not None:   # a fresh device: none of its pages are cached
            # (the target gives such a sandbox a pool whose groups count block I/O)
            self.device = delivery.attach(self.code_image)
            delivery.throttle_reads(self.cgroup.io_dir, self.device,    # counted from here
                                    self.code_path.bytes_per_second,
                                    self.code_path.ios_per_second)
        if self.layers_image is not None:  # likewise the layers', on a device of their own
            self.layers_device = delivery.attach(self.layers_image)
            delivery.throttle_reads(self.cgroup.io_dir, self.layers_device,
                                    self.code_path.bytes_per_second,
                                    self.code_path.ios_per_second)
        named = [Path(a) for a in argv if a.startswith("/") and os.path.exists(a)]
        for folder in self.writable:      # the environment's user writes there
            os.chown(folder, isolation.SANDBOX_UID, isolation.SANDBOX_GID)
        jail = isolation.Jail.of(self.home / "root", Path(self.task_root),
                                 [*self.visible, *named], self.mounts, self.ephemeral_storage_mb,
                                 self.device.path if self.device else None,
                                 self.warm if self.device else (), self.writable,
                                 self.layers_device.path if self.layers_device else None)
        try:
            self.launcher.enter(jail)
        finally:
            for device in (self.device, self.layers_device):
                if device is not None:    # mounted by now: the mount holds it
                    device.detach()
        return self.launcher

    def start(self, argv, env, before_exec: Callable[[], dict[str, str]] | None = None) -> None:
        launcher = self._prepare(argv)
        if before_exec is not None:
            env = env | before_exec()
        self._runtime, self.started_ns = launcher.spawn(argv, env, self.task_root,
                                                        self._log_fd, runtime=True)

    @property
    def runtime_pid(self) -> int:
        """The runtime's process ID on this machine (looked up when asked: not while init
        runs)."""
        return self.launcher.host_pid(self._runtime)

    def spawn(self, argv: list[str], env: dict[str, str], name: str) -> int:
        """A further process in the runtime's environment (made now if the runtime has not
        started yet: its file system then shows what ``argv`` names), writing to
        ``<name>.log`` (``spawned_log``); its process ID on this machine."""
        launcher = self._prepare(argv)
        log = os.open(self.home / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND
                      | os.O_CLOEXEC, 0o644)
        try:
            pid, _ = launcher.spawn(argv, env, self.task_root, log)
        except OSError as exc:
            raise OSError(f"{name}: {exc}") from exc
        finally:
            os.close(log)
        return launcher.host_pid(pid)

    def spawned_log(self, name: str, offset: int = 0) -> tuple[str, int]:
        return _read_from(self.home / f"{name}.log", offset)

    def release_runtime(self, signum: int) -> int | None:
        """``SignalsRuntime``: the runtime gets ``signum`` (0: none) through the
        environment's init, which then outlives it: from then on ``running`` and
        ``exit_status`` are the runtime's own."""
        if not self.running():
            return None
        try:
            if self._released is None:
                self._released = self.runtime_pid
            self.launcher.release_runtime(signum)
        except OSError:                   # it ended meanwhile
            return None
        return self._released

    def running(self) -> bool:
        if self.launcher is None or self.launcher.poll() is not None:
            return False
        return self._released is None or kernel.running(self._released)

    def exit_status(self) -> int:
        if self._released is not None:
            for _ in range(500):              # ended: the init reaps it when asked
                try:
                    status = self.launcher.released_status()
                except OSError:               # the environment itself ended
                    return self.launcher.wait()
                if status is not None:
                    return os.waitstatus_to_exitcode(status)
                threading.Event().wait(0.01)
            return -signal.SIGKILL            # not seen to end: it is killed with the rest
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
        if self.cgroup is not None:       # what init did (environments/counters.py)
            self.extra.update(counters.init_counters(self.cgroup))
        devices = [d for d in (self.device, self.layers_device) if d is not None]
        if devices:                       # what init read from the code path, layers too
            read = [delivery.read_bytes(self.cgroup.io_dir, d) for d in devices]
            self.extra["init_read_mb"] = round(sum(read) / 1e6, 3)
            self.extra["init_read_requests"] = sum(
                delivery.read_requests(self.cgroup.io_dir, d) for d in devices)
            if self.layers_device is not None:
                self.extra["init_read_layers_mb"] = round(read[-1] / 1e6, 3)
        self.limit_cpu()

    def log(self, offset: int = 0) -> tuple[str, int]:
        return _read_from(self.log_path, offset)

    def close(self) -> None:
        if self._closed:
            return
        if self.launcher is not None:
            self.launcher.end()
            if self.cgroup is not None:
                cgroups.remove(self.cgroup)
        if self._log_fd >= 0:
            os.close(self._log_fd)
            self._log_fd = -1
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

