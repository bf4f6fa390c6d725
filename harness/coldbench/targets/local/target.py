"""The local target: coldbench plays the Lambda service on this machine.

Each execution environment is a process sandbox (``environments/process.py``: a fresh
runtime process with a clean, Lambda-shaped set of variables, its own /tmp and a cgroup
with the memory limit and CPU share of its memory size) under a control plane: coldbench's
own Runtime API server on 127.0.0.1 (``environments/runtime_api.py``), or with
``api="rie"`` AWS's Runtime Interface Emulator, started around the runtime as a process
too (``environments/rie.py``), so that one function can be measured under both control
planes on the same machine.

With ``delivery="lambda"`` the function's code reaches the runtime as on Lambda, from a
block device (``environments/delivery.py``): each task root is packed into a read-only
ext4 image, and every environment mounts it over the task root from a loop device of its
own, in a mount namespace of its own, with none of its pages cached; what init read from
it is recorded (``init_read_mb``).

A function's layers (``--layer``) are merged into one folder that is /opt for each of its
environments, in the environment's own mount namespace: bound read-only, or with
``delivery="lambda"`` mounted from an image of their own on a loop device of their own,
read cold as the code is and counted in ``init_read_mb``.
"""

from __future__ import annotations

import itertools
import platform
import uuid
from pathlib import Path

from coldbench import layers
from coldbench.build import Artifact
from coldbench import owners
from coldbench.environments import cgroups, isolation, rie
from coldbench.environments import delivery as code_delivery
from coldbench.environments.base import ControlPlane, Environment
from coldbench.environments.extensions_api import check_extensions
from coldbench.environments.process import CPU_MODELS, LauncherPool, ProcessSandbox
from coldbench.environments.runtime_api import RuntimeApiPlane
from coldbench.errors import UsageError
from coldbench.targets.base import Target
from coldbench.targets.machine import (DELIVERIES, PROVISIONED_UNDER_RIE, check_api,
                                       limit_notes, rie_description)

# the page cache of the runtime's own files at each start: warm, as on Lambda's busy
# workers, or cold (evicted before each start), for experiments
RUNTIME_CACHES = ("warm", "cold")
class LocalTarget(Target):
    """Runtime processes on this machine, one environment at a time."""

    name = "local"

    def __init__(self, timeout_s: float, cpu_model: str = "lambda", limits: bool = True,
                 api: str = "coldbench", delivery: str = "host",
                 code_path: code_delivery.CodePath | None = None,
                 runtime_cache: str = "warm", opt_dir: Path | None = None,
                 variables: dict[str, str] | None = None,
                 ephemeral_storage_mb: int = isolation.EPHEMERAL_DEFAULT_MB,
                 writable: list[Path] = ()):
        if cpu_model not in CPU_MODELS:
            raise UsageError(f"unknown CPU model '{cpu_model}': choose {', '.join(CPU_MODELS)}")
        check_api(api)
        self.timeout_s = timeout_s
        self.cpu_model = cpu_model
        self.cgroup_version = cgroups.detect() if limits else None
        if limits and self.cgroup_version is None:
            raise UsageError("no writable cgroup memory and CPU controllers under "
                             f"{cgroups.ROOT}: run as root, or pass --no-limits to measure "
                             "without Lambda's memory and CPU limits")
        if delivery not in DELIVERIES:
            raise UsageError(f"unknown delivery '{delivery}': choose {', '.join(DELIVERIES)}")
        if delivery == "lambda" and self.cgroup_version != "v1":
            raise UsageError("--delivery lambda counts and limits reads through cgroup v1's "
                             "blkio controller: not available here (--no-limits, or cgroup "
                             "v2); pass --delivery host")
        self.api = api
        if runtime_cache not in RUNTIME_CACHES:
            raise UsageError(f"unknown runtime cache '{runtime_cache}': choose "
                             f"{', '.join(RUNTIME_CACHES)}")
        self.runtime_cache = runtime_cache
        # /opt of every environment (its external extensions: /opt/extensions), and the
        # function's environment variables
        if opt_dir is not None:
            check_extensions(opt_dir)
        self.opt_dir = opt_dir
        self.variables = dict(variables or {})
        self.delivery = delivery
        self.code_path = code_path or code_delivery.CodePath()
        self.rie = rie.executable() if api == "rie" else None   # built before anything runs
        self.ephemeral_storage_mb = isolation.check_ephemeral_storage(ephemeral_storage_mb)
        # folders of this machine every environment may write into, at their own path (a
        # test's side channel); nothing else of this machine is writable
        self.writable = list(writable)
        # why environments cannot be isolated as on Lambda here; None: they are
        self.unisolated = isolation.unavailable()
        if delivery == "lambda" and self.unisolated:
            raise UsageError(f"--delivery lambda mounts the code image in each environment's "
                             f"own namespaces: not possible here ({self.unisolated}); pass "
                             f"--delivery host")
        self.run_id = uuid.uuid4().hex[:8]
        self.claim = owners.claim(self.run_id)    # cleanup keeps what a live run owns
        self.pool = LauncherPool(self.cgroup_version, self.run_id, io=delivery == "lambda",
                                 isolate=self.unisolated is None)
        self._images: dict[Path, Path] = {}    # task root -> its code image
        self._opt: dict[tuple, tuple[Path, Path | None]] = {}   # layers -> /opt, its image
        self._sequence = itertools.count(1)
        self._live: set[Environment] = set()

    def control_plane(self) -> ControlPlane:
        return rie.EmulatorPlane(self.rie) if self.api == "rie" else RuntimeApiPlane()

    def prepare(self, configs, plan):
        """Pack every task root into its code image now (``--delivery lambda``), and attach
        one once: a machine that cannot is refused before anything is measured."""
        images = [self.code_image(config.artifact) for config in configs]
        for config in configs:
            self.opt(config.artifact)
        if images and images[0] is not None:
            code_delivery.attach(images[0]).detach()
        if self.opt_dir is not None or any(c.artifact.function.layers for c in configs):
            Path(layers.OPT).mkdir(exist_ok=True)      # a mount point, as on Lambda
        return configs

    def code_image(self, artifact: Artifact) -> Path | None:
        if self.delivery != "lambda":
            return None
        if artifact.task_root not in self._images:
            # the task root's folder name holds its build key: sources, recipe, toolchain
            # "-r2": packed from a task root every user may read (the runtime runs
            # unprivileged); earlier images may have a top folder only root may enter
            self._images[artifact.task_root] = code_delivery.pack(
                artifact.task_root, f"{artifact.task_root.name}-r2")
        return self._images[artifact.task_root]

    def opt(self, artifact: Artifact) -> tuple[Path | None, Path | None]:
        """The function's layers merged into the folder that is /opt for its environments,
        and with ``--delivery lambda`` that folder's image, read cold from a device of its
        own as the code is (both cached by the layers' digests); without layers, the
        target's ``opt_dir`` (None: none) as it is."""
        chosen = artifact.function.layers
        if not chosen:
            return self.opt_dir, None         # the target's own /opt, if it was given one
        if chosen not in self._opt:
            merged = layers.merge(chosen)
            image = (code_delivery.pack(merged, f"layers-{layers.key(chosen)[:32]}")
                     if self.delivery == "lambda" else None)
            self._opt[chosen] = merged, image
        return self._opt[chosen]

    def start(self, artifact: Artifact, memory_mb: int, provisioned: bool) -> Environment:
        if provisioned and self.api == "rie":
            raise UsageError(PROVISIONED_UNDER_RIE)
        name = f"{self.run_id}-{next(self._sequence)}"
        image = self.code_image(artifact)
        runtime = artifact.function.runtime
        if self.runtime_cache == "cold":     # before the start: no clock runs yet
            code_delivery.evict([*runtime.installation(),
                                 *runtime.runtime_files(artifact.task_root)])
        # what the runtime sees of this machine: its installation, and what its command
        # names (the sandbox adds those of the command it is given)
        visible = [*runtime.installation(), *([self.rie] if self.rie else [])]
        # ... and what its launch names: an extension may make the environment first
        launch = runtime.launch(artifact.task_root, artifact.function.configured_handler,
                                memory_mb)
        visible += [Path(a) for a in launch.argv if a.startswith("/") and Path(a).exists()]
        # the layers (/opt, its extensions): at their own path, as the launch names them,
        # and at /opt, as on Lambda; read-only. With --delivery lambda /opt is their image,
        # read cold from a device of its own (``opt``).
        opt_dir, opt_image = self.opt(artifact)
        opt = [(opt_dir, "/opt")] if opt_dir is not None and opt_image is None else []
        # from the image the extensions too are read at /opt, and only there
        visible += [opt_dir] if opt_dir is not None and opt_image is None else []
        sandbox = ProcessSandbox(self.pool, artifact.task_root, memory_mb,
                                 self.cpu_model if self.cgroup_version else "none", name,
                                 code_image=image, code_path=self.code_path,
                                 warm=runtime.runtime_files(artifact.task_root) if image else (),
                                 visible=visible, mounts=opt,
                                 ephemeral_storage_mb=self.ephemeral_storage_mb,
                                 writable=[*self.writable, *(
                                     runtime.writable()
                                     if isinstance(runtime, isolation.Writes) else ())],
                                 layers_image=opt_image)
        environment = Environment(artifact, memory_mb, provisioned, name, sandbox,
                                  self.control_plane(), self.timeout_s,
                                  on_close=self._live.discard, opt_dir=opt_dir,
                                  variables=self.variables,
                                  opt_at="/opt" if opt_image is not None else None)
        self._live.add(environment)
        return environment

    def describe(self) -> dict:
        described = {
            "target": self.name,
            "api": self.api,
            "cpu_model": self.cpu_model if self.cgroup_version else "none",
            "limits": f"cgroup {self.cgroup_version}" if self.cgroup_version else "none",
            "host_cpus": cgroups.host_cpus(),
            "kernel": platform.release(),
            "delivery": self.delivery,
            "runtime_cache": self.runtime_cache,
            "ephemeral_storage_mb": self.ephemeral_storage_mb,
            "sandbox": sandbox_description(self.unisolated),
        }
        if self.delivery == "lambda":
            described["code_path"] = self.code_path.describe()
        if self.api == "rie":
            described["rie"] = rie_description()
        return described

    def notes(self, memory_mb: int) -> list[str]:
        notes = limit_notes(memory_mb, bool(self.cgroup_version), self.cpu_model, self.api)
        if self.unisolated:
            notes.append(isolation.limitations(self.unisolated))
        return notes

    def close(self) -> None:
        for environment in list(self._live):
            environment.close()
        self.pool.close()
        self.claim.release()


def sandbox_description(unisolated: str | None) -> dict:
    """What the results say of what a function could see and change."""
    if unisolated:
        return {"isolated": False, "reason": unisolated}
    return {"isolated": True, "user": f"{isolation.SANDBOX_UID}:{isolation.SANDBOX_GID}",
            "pid_namespace": True, "root": "read-only, the runtime's files only",
            "tmp": "tmpfs of the ephemeral storage's size"}
