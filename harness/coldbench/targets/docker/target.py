"""The docker target: every execution environment is a container, as with
``sam local invoke``, with Lambda's memory limit and CPU share (``--memory``, ``--cpus``),
measured as precisely as on the local target. Images: ``coldbench.targets.docker.images``.

Two control planes (``--api``):
- ``coldbench``: the runtime in the container talks to coldbench's own Runtime API server,
  so Init Duration and Duration are clocked exactly as on the local target;
- ``rie``: AWS's emulator, as AWS's images run it (what it reports: ``coldbench.environments.rie``).

No network. Every container has a network namespace of its own with loopback only
(network "none"), and coldbench enters that namespace (setns(2)) to reach it: under
``coldbench`` to open the environment's Runtime API server there, so the runtime finds
AWS_LAMBDA_RUNTIME_API on 127.0.0.1, as on Lambda, and its requests travel over loopback,
as on the local target; under ``rie`` to connect to the emulator's 127.0.0.1:8080. No port
is published: published ports are relayed by docker-proxy, a userland process that would
stand in every measured request, and the container would need a bridge network. Entering
a namespace and reading a container's cgroup take root on the engine's host, as the local
target's limits do.

What a sample holds, beyond the local target's figures (``coldbench.phases``):
- ``container_start_ms``: create requested -> start returned, for the sample whose
  container was made for it;
- ``init_ms`` (``coldbench``): the runtime's exec -> its first ``GET /next``. The container
  starts held at a gate (a shell reading a line from its stdin); once the engine's start
  has returned, coldbench opens the Runtime API server in the container's namespace, takes
  the start instant and writes the server's address through the gate, so neither the
  engine's set-up work nor coldbench's is in Init Duration, as on the local target;
- under ``rie``: no ``init_ms`` (the emulator folds init into the first invocation),
  ``duration_ms`` as the client saw it, and ``first_response_ms``: start requested -> the
  first response;
- ``max_memory_mb``: the peak of the container's memory cgroup (the emulator included
  under ``rie``), never the configured size the emulator's REPORT echoes.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import platform
import shutil
import socket
import uuid
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from coldbench.environments import cgroups, rie
from coldbench.targets.docker import images
from coldbench.build import Artifact
from coldbench.errors import EnvironmentUnavailable, UsageError
from coldbench.measure.modes import Config, Plan
from coldbench.phases import ms_between
from coldbench.environments.runtime_api import RuntimeAPI, now_ns
from coldbench.targets.base import Invoked, Target
from coldbench.targets.local.target import (ACCOUNT, CPU_MODELS, REGION,
                                     LocalEnvironment, RieProcessEnvironment, limit_notes,
                                     start_environment,
                                     check_api, lambda_variables, out_of_memory,
                                     rie_description)

RUN_LABEL = "coldbench.run"              # on every container of a run: the run's id
# ... and the scope `coldbench cleanup` clears: the name of the cgroup parent
# (COLDBENCH_CGROUP_PARENT), so that a test session clears its own containers only
SCOPE_LABEL = "coldbench.scope"
START_HINT = ("start one with scripts/start-docker (or 'dockerd &' as root), or point "
              "DOCKER_HOST at a running engine")
# The gate: the container's first process reads the Runtime API's address from its stdin,
# then becomes the image's entrypoint with the container's command.
GATE = ('read -r AWS_LAMBDA_RUNTIME_API && export AWS_LAMBDA_RUNTIME_API && '
        'exec "$0" "$@"')
TMP_SIZE = "512m"                       # Lambda's default ephemeral storage
_CLONE_NEWNET = 0x40000000
_LOG_TAIL_LINES = 20


def default_images() -> str:
    """AWS's images, except in CI (the CI variable set), where none can be pulled."""
    return "local" if os.environ.get("CI") else "aws"


def engine():
    """A client of the Docker engine, or EnvironmentUnavailable saying how to start one."""
    try:
        import docker
    except ImportError:
        raise EnvironmentUnavailable("the docker target needs the Docker SDK for Python: "
                                     "pip install 'coldbench[docker]'") from None
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        if "Permission denied" in str(exc):
            raise EnvironmentUnavailable(f"the Docker engine at {where} refused access "
                                         "(permission denied): run as root") from None
        if not os.environ.get("DOCKER_HOST") and shutil.which("dockerd") is None:
            raise EnvironmentUnavailable("no Docker engine is installed: install one "
                                         "(apt-get install docker.io), then start it with "
                                         "scripts/start-docker") from None
        raise EnvironmentUnavailable(f"no Docker engine answers at {where}: "
                                     f"{START_HINT}") from None
    return client


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):                         # Python 3.12 and newer
        os.setns(fd, _CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


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


class ContainerCgroup(cgroups.Cgroup):
    """A container's cgroup, made by the engine, found from one of its processes; read
    and given a CPU quota, never created or removed by coldbench."""

    def __init__(self, version: str, memory_dir: Path, cpu_dir: Path):
        self.version = version
        self.name = memory_dir.name
        self.memory_dir, self.cpu_dir = memory_dir, cpu_dir
        self.dirs = [memory_dir] if memory_dir == cpu_dir else [memory_dir, cpu_dir]

    @classmethod
    def of(cls, pid: int, version: str) -> "ContainerCgroup | None":
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return None
        paths = {}
        for line in lines:
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path.lstrip("/")
        if version == "v2" and "" in paths:
            folder = cgroups.ROOT / paths[""]
            return cls(version, folder, folder)
        if "memory" in paths and "cpu" in paths:
            return cls(version, cgroups.ROOT / "memory" / paths["memory"],
                       cgroups.ROOT / "cpu" / paths["cpu"])
        return None

    def remove(self) -> None:
        raise RuntimeError("a container's cgroup belongs to the engine")


class _ContainerProcess:
    """What the local target's environments need of their process (``pid``, ``poll``,
    ``wait``), for a container: its first process, seen from this host."""

    def __init__(self, container, pid: int):
        self.container = container
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and _running(self.pid):
            return None
        return self.wait()

    def wait(self) -> int:
        """The exit status; a shell reports a child killed by signal N as 128 + N, which
        becomes -N as for a process (the runtime is the first process's child)."""
        if self.returncode is None:
            try:
                status = self.container.wait(timeout=30)["StatusCode"]
            except Exception:             # the engine is gone: the container with it
                status = 137
            self.returncode = -(status - 128) if 128 < status < 160 else status
        return self.returncode


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


class ContainerStartFailed(OSError):
    """A container could not be created or started (recorded as an error sample)."""


class DockerTarget(Target):
    """Containers on one Docker engine, one environment at a time."""

    name = "docker"

    def __init__(self, timeout_s: float, cpu_model: str = "lambda", limits: bool = True,
                 api: str = "coldbench", images_kind: str = "local", rebuild: bool = False,
                 status=images.status_to_stderr):
        if cpu_model not in CPU_MODELS:
            raise UsageError(f"unknown CPU model '{cpu_model}': choose {', '.join(CPU_MODELS)}")
        check_api(api)
        if images_kind not in images.KINDS:
            raise UsageError(f"unknown kind of images '{images_kind}': choose "
                             f"{', '.join(images.KINDS)}")
        if os.geteuid() != 0:
            raise EnvironmentUnavailable(
                "the docker target reaches containers through their network namespace and "
                "reads their cgroups: run coldbench as root on the engine's host")
        self.timeout_s = timeout_s
        self.cpu_model = cpu_model if limits else "none"
        self.limits = limits
        self.api = api
        self.images_kind = images_kind
        self.rebuild = rebuild            # function images too, as --rebuild asks
        self.status = status
        self.client = engine()
        self.cgroup_version = cgroups.detect() or (
            "v2" if str(self.client.info().get("CgroupVersion")) == "2" else "v1")
        self.run_id = uuid.uuid4().hex[:8]
        self.builder = images.Builder(self.client, self.run_id, status)
        self._images: dict[Path, tuple[Artifact, images.Image]] = {}
        self._image_notes: list[str] = []
        self._pull_failure: str | None = None
        self._noted = False
        self._sequence = itertools.count(1)
        self._live: set[ContainerEnvironment] = set()

    # images ----------------------------------------------------------------------------

    def prepare(self, configs: list[Config], plan: Plan) -> list[Config]:
        """Find or build every function's image now, before anything is measured."""
        for artifact in dict.fromkeys(config.artifact for config in configs):
            self.image_for(artifact)
        return configs

    def image_for(self, artifact: Artifact) -> images.Image:
        if artifact.task_root in self._images:
            return self._images[artifact.task_root][1]
        image = None
        if self.images_kind == "aws" and self._pull_failure is None:
            try:
                image = self.builder.aws_function(artifact, self.rebuild)
            except images.ImageUnavailable as exc:
                # one registry: after one failed pull the others are not tried (each could
                # wait out the engine's timeout)
                self._pull_failure = str(exc)
        if image is None and self.images_kind == "aws":
            note = (f"{artifact.function.runtime.name}: AWS's image not used ("
                    f"{self._pull_failure}); measured on images built here (--images local)")
            self._image_notes.append(note)
            self.status(note)
        if image is None:
            image = self.builder.function(artifact, self.rebuild)
        self._images[artifact.task_root] = (artifact, image)
        return image

    # environments ----------------------------------------------------------------------

    def start(self, artifact: Artifact, memory_mb: int,
              provisioned: bool) -> "ContainerEnvironment":
        kind = RieContainerEnvironment if self.api == "rie" else ContainerEnvironment
        return start_environment(self, kind, artifact, memory_mb, provisioned,
                                 f"coldbench-{self.run_id}-{next(self._sequence)}")

    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id, SCOPE_LABEL: cgroups.PARENT}

    def remove(self, container) -> None:
        """Remove a container, whatever its state; an engine that is gone took it along."""
        try:
            container.remove(force=True)
        except Exception:
            pass

    def _forget(self, environment: "ContainerEnvironment") -> None:
        self._live.discard(environment)

    def engine_answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    # the run ---------------------------------------------------------------------------

    def describe(self) -> dict:
        info = {}
        try:
            info = self.client.info()
        except Exception:
            pass
        described = {
            "target": self.name,
            "api": self.api,
            "images": self.images_kind,
            "cpu_model": self.cpu_model,
            "limits": f"docker --memory/--cpus (cgroup {self.cgroup_version})"
                      if self.limits else "none",
            "host_cpus": cgroups.host_cpus(),
            "kernel": platform.release(),
            "engine": {"version": info.get("ServerVersion"),
                       "storage_driver": info.get("Driver"),
                       "cgroup_driver": info.get("CgroupDriver"),
                       "cgroup_version": info.get("CgroupVersion")},
            "network": "none: loopback only; coldbench reaches it through the container's "
                       "network namespace",
            "container_images": [
                {"runtime": artifact.function.runtime.name, "function": artifact.function.name,
                 **image.describe()} for artifact, image in self._images.values()],
            "timing": {
                "container_start_ms": "container create requested -> start returned",
                "init_ms": "the runtime's exec (the container's start gate opened) -> its "
                           "first GET /next" if self.api == "coldbench" else None,
                "first_response_ms": "container start requested -> first response"
                                     if self.api == "rie" else None},
        }
        if self.api == "rie":
            described["rie"] = rie_description()
        return described

    def notes(self, memory_mb: int) -> list[str]:
        notes = []
        if not self._noted:               # said once per run, not once per memory size
            notes.extend(self._image_notes)
            self._noted = True
        return notes + limit_notes(memory_mb, self.limits, self.cpu_model, self.api)

    def close(self) -> None:
        for environment in list(self._live):
            environment.close()
        # also what an interrupted start had made but not yet handed over
        try:
            for container in self.client.containers.list(
                    all=True, filters={"label": f"{RUN_LABEL}={self.run_id}"}):
                self.remove(container)
        except Exception:
            pass
        self.client.close()


class ContainerEnvironment(LocalEnvironment):
    """One container whose runtime talks to coldbench's Runtime API. The waiting, timing
    and error handling are the local target's (``LocalEnvironment``): a container is
    handed to them as a process."""

    container = None
    container_start_ms: float | None = None
    netns: int | None = None              # an open /proc/PID/ns/net of the container
    _gate = None

    def _spawn(self) -> None:
        target = self.target
        self.share = cgroups.CpuShare.for_memory(self.memory_mb)
        self.image = target.image_for(self.artifact)
        runtime = self.artifact.function.runtime.name
        function_name = f"coldbench-{runtime}-{self.memory_mb}"
        argv, launch_env = images.command(self.image, self.artifact, self.memory_mb)
        env = lambda_variables(replace(self.artifact, task_root=Path(images.TASK_ROOT)),
                               self.memory_mb, self.provisioned, "", function_name,
                               Path("/tmp")) | launch_env
        if self.image.kind == "aws":       # their images set their own PATH and locale
            for name in ("PATH", "LANG", "TZ", "TMPDIR"):
                env.pop(name, None)
        del env["AWS_LAMBDA_RUNTIME_API"]          # given through the gate, or by the emulator
        self.function_name = function_name
        self._create(argv, self._control_plane(env))

    # gated: the runtime starts once its control plane is up
    gated = True

    def _control_plane(self, env: dict) -> dict:
        """The container's variables for its control plane."""
        return env

    def _open_gate(self) -> None:
        """Open the environment's Runtime API server inside the container's network
        namespace, take the start instant, and let the runtime start."""
        on_init_done = None
        if self.target.limits and self.target.cpu_model == "lambda":
            on_init_done = self._limit_cpu
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        with network_namespace(self.netns):
            self.api = RuntimeAPI(arn, on_init_done)
        self.spawned_ns = now_ns()
        try:
            getattr(self._gate, "_sock", self._gate).sendall(f"{self.api.address}\n".encode())
        except OSError:
            pass                          # the container is gone: the wait sees it exit

    def _limit_cpu(self) -> None:
        if self.cgroup is not None:
            self.cgroup.set_cpu(self.share.applied_vcpus)

    def _create(self, argv: list[str], env: dict) -> None:
        target = self.target
        settings = {}
        if target.limits:
            settings = {"mem_limit": f"{self.memory_mb}m", "memswap_limit": f"{self.memory_mb}m"}
            if target.cgroup_version == "v1":
                settings["mem_swappiness"] = 0       # no swap, as on Lambda
            if target.cpu_model == "proportional":
                settings |= {"cpu_period": cgroups.CFS_PERIOD_US, "cpu_quota": max(
                    1000, int(self.share.applied_vcpus * cgroups.CFS_PERIOD_US))}
        gated = self.gated
        entrypoint = ["/bin/sh", "-c", GATE, *self.image.entrypoint] if gated else None
        try:
            created = now_ns()
            self.container = target.client.containers.create(
                self.image.id, command=argv, entrypoint=entrypoint, environment=env,
                network_mode="none", stdin_open=gated, read_only=True,
                tmpfs={"/tmp": f"size={TMP_SIZE}"}, working_dir=images.TASK_ROOT,
                labels=target.labels(), name=self.name, **settings)
            if gated:
                self._gate = target.client.api.attach_socket(
                    self.container.id, params={"stdin": 1, "stream": 1})
            self.spawned_ns = now_ns()
            self.container.start()
            started = now_ns()
            self.container_start_ms = ms_between(created, started)
            self.container.reload()
        except Exception as exc:
            if not target.engine_answers():
                raise EnvironmentUnavailable(f"the Docker engine stopped answering: "
                                             f"{START_HINT}") from None
            raise ContainerStartFailed(f"container {self.name}: {images.reason(exc)}") from None
        pid = self.container.attrs["State"]["Pid"]
        self.process = _ContainerProcess(self.container, pid)
        if pid:
            self.cgroup = ContainerCgroup.of(pid, target.cgroup_version)
            try:
                self.netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            except OSError:
                pass                      # exited already: the wait sees it
        if gated:
            if self.netns is None:
                raise ContainerStartFailed(f"container {self.name} exited as it started: "
                                           f"{self._log_tail() or 'no output'}")
            self._open_gate()

    def invoke(self, event: dict) -> Invoked:
        first = self.invocations == 0
        result = super().invoke(event)
        if first:
            result.extra["container_start_ms"] = self.container_start_ms
        return result

    # what the local target's workflow asks of an environment --------------------------

    _peak: float | None = None

    def _peak_memory_mb(self) -> float | None:
        # the cgroup goes with the container when it exits: then the last peak read
        peak = self.cgroup.peak_memory_mb() if self.cgroup is not None else None
        if peak is not None:
            self._peak = peak
        return self._peak

    def _exit_error(self, phase: str) -> dict:
        self.process.wait()
        if self._oom_killed():
            return out_of_memory(phase, self.memory_mb)
        return super()._exit_error(phase)

    def _oom_killed(self) -> bool:
        if self.cgroup is not None and self.cgroup.oom_killed():
            return True
        try:
            self.container.reload()
            return bool(self.container.attrs["State"].get("OOMKilled"))
        except Exception:
            return False

    def _log_tail(self) -> str:
        if self.container is None:
            return ""
        try:
            return self.container.logs(tail=_LOG_TAIL_LINES).decode("utf-8", "replace").strip()
        except Exception:
            return ""

    def close(self) -> None:
        if self._closed:                  # each step may run twice (see LocalEnvironment)
            return
        self.alive = False
        if getattr(self, "client", None) is not None:
            self.client.close()
        if self._gate is not None:
            self._gate.close()
        if self.container is not None:
            self.target.remove(self.container)
        if self.netns is not None:
            os.close(self.netns)
            self.netns = None
        if self.api is not None:
            self.api.close()
        shutil.rmtree(self.home, ignore_errors=True)
        self._closed = True
        self.target._forget(self)


class RieContainerEnvironment(ContainerEnvironment, RieProcessEnvironment):
    """One container as AWS's images run it: the emulator as the container's first
    process, the runtime its child, invoked over HTTP inside the container's own network
    namespace (which has loopback only)."""

    gated = False

    def _control_plane(self, env: dict) -> dict:
        self.client = rie.Client(self._connect)
        return env | {"AWS_LAMBDA_FUNCTION_TIMEOUT": rie.timeout_setting(self.target.timeout_s)}

    def _connect(self) -> socket.socket:
        if self.netns is None:
            raise ConnectionRefusedError("the container has no network namespace: it exited")
        with network_namespace(self.netns):
            return socket.create_connection(("127.0.0.1", rie.INVOKE_PORT))
