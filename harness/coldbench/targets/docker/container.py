"""The container sandbox: a runtime in a container of its own, as with ``sam local
invoke``, with Lambda's memory limit and CPU share (``--memory``, ``--cpus``).

No network. Every container has a network namespace of its own with loopback only
(network "none"), and coldbench enters that namespace (setns(2)) to reach it: a control
plane opens its Runtime API server there, so the runtime finds AWS_LAMBDA_RUNTIME_API on
127.0.0.1 as on Lambda, or connects to the emulator's 127.0.0.1:8080 from there. No port
is published: published ports are relayed by docker-proxy, a userland process that would
stand in every measured request, and the container would need a bridge network.

When a control plane has work to do before the runtime runs (``before_exec``: opening the
Runtime API server in the container's namespace), the container starts held at a gate: a
shell that reads the server's address from its stdin, then becomes the image's entrypoint.
Once the engine's start has returned, the work is done, the start instant is taken and the
address written through the gate, so that neither the engine's set-up nor coldbench's is
in Init Duration.

The function's code, as on Lambda (``CodeVolume``): a container reads its task root from a
read-only ext4 image on a loop device of its own, attached fresh (none of its pages
cached) and given to the engine as a volume of the local driver, mounted read-only at
/var/task; the runtime's own files are bound over it from this machine's copy of them,
read warm. The container's block I/O cgroup limits reads from the device at the
calibration's rate and counts them: ``init_read_mb``.

The function's layers, merged (``coldbench.layers``), are at /opt, read-only: with the
code's volume, from an image of their own on a loop device of their own, read cold and
counted as the code is (``init_read_mb``, ``init_read_layers_mb``); otherwise bound from
this machine's folder. The emulator in the image starts what is in /opt/extensions
itself; it has no Telemetry API.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from coldbench.environments import cgroups, delivery, isolation, kernel
from coldbench.environments.base import LOG_TAIL_LINES, Sandbox
from coldbench.errors import BuildError, EnvironmentUnavailable
from coldbench.phases import ms_between, now_ns
from coldbench.targets import images
from coldbench.targets.images import START_HINT

GATE = ('read -r AWS_LAMBDA_RUNTIME_API && export AWS_LAMBDA_RUNTIME_API && '
        'exec "$0" "$@"')
CREATE_GRACE_S = 2.0                    # for the engine to finish a create the client left
LAYERS = "/opt"                         # where Lambda puts a function's layers
# bytes per second where the code path sets no limit: on cgroup v1 the container's group
# counts a device's reads only once the device has a rule (0 would remove it)
UNLIMITED_BPS = 10**12


class ContainerStartFailed(OSError):
    """A container could not be created or started (recorded as an error sample)."""


@dataclass(frozen=True)
class CodeVolume:
    """How a container gets its function's code as on Lambda: ``image``, the task root as
    a read-only ext4 image (``delivery.pack``), at the container's task root, read at
    ``code_path``'s rate; ``warm``, the runtime's own files, (this machine's copy, place in
    the container), bound over the image's."""

    image: Path
    warm: tuple[tuple[str, str], ...] = ()
    code_path: delivery.CodePath = field(default_factory=delivery.CodePath)


@contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM wait until the block is over (blocked, not lost): Ctrl-C in the
    middle of the engine's answer would leave something nobody knows of."""
    deferred = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _setns(fd: int) -> None:
    kernel.check(kernel.setns(fd, kernel.CLONE_NEWNET), b"setns")


@contextmanager
def network_namespace(fd: int):
    """Run the block in the network namespace ``fd`` names (an open /proc/PID/ns/net).
    Only the calling thread moves; sockets made in the block stay in that namespace."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(fd)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


@contextmanager
def _exited():
    """The network of a container that has exited: there is none to connect to."""
    raise ConnectionRefusedError("the container has no network namespace: it exited")
    yield


class ContainerSandbox(Sandbox):
    """One container on one engine, from one function's image."""

    task_root = images.TASK_ROOT
    tmp = "/tmp"

    def __init__(self, client, image: images.Image, memory_mb: int, name: str,
                 labels: dict[str, str], cgroup_version: str, limits: bool = True,
                 cpu_model: str = "lambda", code: CodeVolume | None = None,
                 ephemeral_storage_mb: int = isolation.EPHEMERAL_DEFAULT_MB,
                 opt_dir: Path | None = None, opt_image: Path | None = None):
        self.client = client
        self.ephemeral_storage_mb = ephemeral_storage_mb
        self.code = code                  # None: the code is the image's own /var/task
        self.opt_dir = opt_dir            # the function's layers, merged: bound at /opt,
        self.opt_image = opt_image        # or with the code's volume, this image of them
        self.opt_device: delivery.LoopDevice | None = None
        self.opt_volume: str | None = None
        self.image = image
        self.memory_mb = memory_mb
        self.name = name
        self.labels = labels
        self.cgroup_version = cgroup_version
        self.limits = limits
        self.cpu_model = cpu_model if limits else "none"
        self.share = cgroups.CpuShare.for_memory(memory_mb)
        self.container = None
        self.pid: int | None = None
        self.cgroup: cgroups.Cgroup | None = None
        self.netns: int | None = None              # an open /proc/PID/ns/net
        self.device: delivery.LoopDevice | None = None
        self.volume: str | None = None             # the code's volume, once created
        self.extra: dict = {}
        self._gate = None
        self._creating = False
        self._status: int | None = None
        self._closed = False

    def network(self):
        return network_namespace(self.netns) if self.netns is not None else _exited()

    def start(self, argv, env, before_exec: Callable[[], dict[str, str]] | None = None) -> None:
        argv, env = self._command(argv, env)
        settings = {}
        if self.limits:
            settings = {"mem_limit": f"{self.memory_mb}m", "memswap_limit": f"{self.memory_mb}m"}
            if self.cgroup_version == "v1":
                settings["mem_swappiness"] = 0       # no swap, as on Lambda
            if self.cpu_model == "proportional":
                settings |= {"cpu_period": cgroups.CFS_PERIOD_US, "cpu_quota": max(
                    1000, int(self.share.applied_vcpus * cgroups.CFS_PERIOD_US))}
        gated = before_exec is not None
        entrypoint = ["/bin/sh", "-c", GATE, *self.image.entrypoint] if gated else None
        if self.code is not None:         # a fresh device: none of its pages are cached
            self.device = delivery.attach(self.code.image)
        try:
            created = now_ns()
            if self.code is not None:
                settings |= self._code_settings()
            if self.code is not None and self.opt_image is not None:
                settings = self._layers_settings(settings)   # read cold, as the code is
            elif self.opt_dir is not None:  # the layers, where Lambda puts them, read-only
                from docker.types import Mount
                settings["mounts"] = [*settings.get("mounts", []),
                                      Mount(LAYERS, str(self.opt_dir), type="bind",
                                            read_only=True)]
            self._create(
                self.image.id, command=argv, entrypoint=entrypoint, environment=env,
                network_mode="none", stdin_open=gated, read_only=True,
                # as on Lambda (isolation.py): Lambda's unprivileged user, whatever the
                # image's own; /tmp of the ephemeral storage's size
                user=f"{isolation.SANDBOX_UID}:{isolation.SANDBOX_GID}",
                tmpfs={"/tmp": f"size={self.ephemeral_storage_mb}m,mode=1777"},
                working_dir=images.TASK_ROOT,
                labels=self.labels, name=self.name, **settings)
            if gated:
                self._gate = self.client.api.attach_socket(
                    self.container.id, params={"stdin": 1, "stream": 1})
            self.started_ns = now_ns()
            self.container.start()
            self.extra["container_start_ms"] = ms_between(created, now_ns())
            self.container.reload()
        except Exception as exc:
            if not self._engine_answers():
                raise EnvironmentUnavailable(f"the Docker engine stopped answering: "
                                             f"{START_HINT}") from None
            raise ContainerStartFailed(f"container {self.name}: {images.reason(exc)}") from None
        finally:
            for device in (self.device, self.opt_device):
                if device is not None:    # mounted by now: the mount holds it
                    device.detach()
        self.pid = self.container.attrs["State"]["Pid"] or None
        if self.pid:
            self.cgroup = cgroups.Cgroup.of_process(self.pid, self.cgroup_version)
            try:
                self.netns = os.open(f"/proc/{self.pid}/ns/net", os.O_RDONLY)
            except OSError:
                pass                      # exited already: the wait sees it
        if gated:
            if self.netns is None:
                raise ContainerStartFailed(f"container {self.name} exited as it started: "
                                           f"{self.log_tail() or 'no output'}")
            with network_namespace(self.netns):
                variables = before_exec()
            self.started_ns = now_ns()
            try:   # the gate passes on this one variable
                getattr(self._gate, "_sock", self._gate).sendall(
                    f"{variables['AWS_LAMBDA_RUNTIME_API']}\n".encode())
            except OSError:
                pass                      # the container is gone: the wait sees it

    def _create(self, image: str, **settings) -> None:
        """Create the container, with signals deferred (``close`` has it to remove)."""
        self._creating = True
        with _signals_deferred():
            self.container = self.client.containers.create(image, **settings)
        self._creating = False

    def _code_settings(self) -> dict:
        """The code's volume, made now, and the container's settings that mount it, bind
        the runtime's own files over it and limit (and so count) reads from its device."""
        from docker.types import Mount
        name = f"{self.name}-code"
        # noload: never replay a journal (a read-only image has none to replay)
        with _signals_deferred():
            self.client.volumes.create(name=name, driver="local", labels=self.labels,
                                       driver_opts={"type": "ext4", "device": self.device.path,
                                                    "o": "ro,noload"})
            self.volume = name
        mounts = [Mount(images.TASK_ROOT, name, type="volume", read_only=True, no_copy=True)]
        mounts += [Mount(place, source, type="bind", read_only=True)
                   for source, place in self.code.warm]
        code_path = self.code.code_path
        settings = {"mounts": mounts, "device_read_bps": [
            {"Path": self.device.path, "Rate": code_path.bytes_per_second or UNLIMITED_BPS}]}
        if code_path.ios_per_second:
            settings["device_read_iops"] = [{"Path": self.device.path,
                                             "Rate": code_path.ios_per_second}]
        return settings

    def _layers_settings(self, settings: dict) -> dict:
        """``settings`` with the layers' image on a fresh device of its own as a volume at
        /opt, its reads limited and counted as the code's are."""
        from docker.types import Mount
        self.opt_device = delivery.attach(self.opt_image)
        name = f"{self.name}-opt"
        with _signals_deferred():
            self.client.volumes.create(name=name, driver="local", labels=self.labels,
                                       driver_opts={"type": "ext4",
                                                    "device": self.opt_device.path,
                                                    "o": "ro,noload"})
            self.opt_volume = name
        code_path = self.code.code_path
        settings = dict(settings)
        settings["mounts"] = [*settings.get("mounts", []),
                              Mount(LAYERS, name, type="volume", read_only=True, no_copy=True)]
        settings["device_read_bps"] = [*settings.get("device_read_bps", []), {
            "Path": self.opt_device.path, "Rate": code_path.bytes_per_second or UNLIMITED_BPS}]
        if code_path.ios_per_second:
            settings["device_read_iops"] = [*settings.get("device_read_iops", []), {
                "Path": self.opt_device.path, "Rate": code_path.ios_per_second}]
        return settings

    def _remove_unknown(self) -> None:
        """A create that was interrupted anyway (the signal went to another thread): the
        engine may still make the container after the client gave up; find it by name."""
        deadline = now_ns() + int(CREATE_GRACE_S * 1e9)
        while now_ns() < deadline:
            try:
                found = self.client.api.containers(all=True, filters={"name": f"^/{self.name}$"})
                for container in found:
                    self.client.api.remove_container(container["Id"], force=True)
            except Exception:
                return                    # the engine is gone, and the container with it
            if found:
                return
            time.sleep(0.05)

    def _command(self, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict]:
        """The container's command and variables for the image: local images take the
        runtime's own command line with its program as installed in the image; AWS's
        images take the handler, and their bootstrap starts the runtime."""
        if self.image.kind == "aws":
            # their images set their own, LD_LIBRARY_PATH with /opt/lib last; their
            # bootstrap honours AWS_LAMBDA_EXEC_WRAPPER itself
            for name in ("PATH", "LANG", "TZ", "TMPDIR", "LD_LIBRARY_PATH"):
                env.pop(name, None)
            return [env["_HANDLER"]], env
        argv = list(argv)
        # an exec wrapper (a layer's file under /opt) gets the runtime's command after it
        program = 1 if argv[0] == env.get("AWS_LAMBDA_EXEC_WRAPPER") else 0
        if not argv[program].startswith(f"{images.TASK_ROOT}/"):
            if self.image.executable is None:
                raise BuildError(f"image {self.image.ref} has no runtime to start "
                                 f"{argv[program]}")
            argv[program] = self.image.executable
        return argv, env

    def _engine_answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def running(self) -> bool:
        return self._status is None and self.pid is not None and kernel.running(self.pid)

    def exit_status(self) -> int:
        """The exit status; a shell reports a child killed by signal N as 128 + N, which
        becomes -N as for a process (the runtime is the first process's child)."""
        if self._status is None:
            try:
                status = self.container.wait(timeout=30)["StatusCode"]
            except Exception:             # the engine is gone: the container with it
                status = 137
            self._status = -(status - 128) if 128 < status < 160 else status
        return self._status

    def out_of_memory(self) -> bool:
        if self.cgroup is not None and self.cgroup.oom_killed():
            return True
        try:
            self.container.reload()
            return bool(self.container.attrs["State"].get("OOMKilled"))
        except Exception:
            return False

    def peak_memory_mb(self) -> float | None:
        return self.cgroup.peak_memory_mb() if self.cgroup is not None else None

    def limit_cpu(self) -> None:
        if self.cgroup is not None and self.cpu_model == "lambda":
            self.cgroup.set_cpu(self.share.applied_vcpus)

    def init_done(self) -> None:
        group = self.cgroup.io_dir if self.cgroup is not None else None
        devices = [d for d in (self.device, self.opt_device) if d is not None]
        if devices and group is not None:   # what init read of its code, layers too
            try:
                read = [delivery.read_bytes(group, d) for d in devices]
                requests = sum(delivery.read_requests(group, d) for d in devices)
            except OSError:               # the container is gone: its group with it
                read = None
            if read is not None:
                self.extra["init_read_mb"] = round(sum(read) / 1e6, 3)
                self.extra["init_read_requests"] = requests
                if self.opt_device is not None:
                    self.extra["init_read_layers_mb"] = round(read[-1] / 1e6, 3)
        self.limit_cpu()

    def log(self, offset: int = 0) -> tuple[str, int]:
        if self.container is None:
            return "", offset
        try:
            data = self.container.logs()
        except Exception:
            return "", offset
        return data[offset:].decode("utf-8", "replace"), len(data)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if self.container is None:
            return ""
        try:
            return self.container.logs(tail=lines).decode("utf-8", "replace").strip()
        except Exception:
            return ""

    def close(self) -> None:
        if self._closed:
            return
        if self._gate is not None:
            self._gate.close()
        if self.container is not None:
            try:       # whatever its state; an engine that is gone took it along
                self.container.remove(force=True)
            except Exception:
                pass
        elif self._creating:
            self._remove_unknown()
        for volume in (self.volume, self.opt_volume):
            if volume is not None:        # unmounted with its container: the device goes
                try:
                    self.client.api.remove_volume(volume, force=True)
                except Exception:
                    pass                  # the target removes its run's volumes at close
        if self.netns is not None:
            os.close(self.netns)
            self.netns = None
        self._closed = True
