"""The docker target: every execution environment is a container, as with
``sam local invoke``, with Lambda's memory limit and CPU share (``--memory``, ``--cpus``),
measured as precisely as on the local target. Each environment is a container sandbox
(``container.py``) under a control plane; images: ``images.py``.

Two control planes (``--api``):
- ``coldbench``: the runtime in the container talks to coldbench's own Runtime API server,
  so Init Duration and Duration are clocked exactly as on the local target;
- ``rie``: AWS's emulator, as AWS's images run it (what it reports:
  ``coldbench.environments.rie``).

No network: see ``container.py``.

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
  under ``rie``), never the configured size the emulator's REPORT echoes;
- ``init_read_mb`` (``--delivery lambda``, the default): what init read of the function's
  code, from a read-only image of the image's own task root on a loop device of the
  container's own (``container.CodeVolume``), counted by the container's block I/O
  cgroup. AWS's images read their code from their own layers, as with ``--delivery host``
  (their provided runtimes run the bootstrap from /var/runtime, not /var/task).
"""

from __future__ import annotations

import itertools
import os
import platform
import time
import uuid
from pathlib import Path

from coldbench import layers, owners
from coldbench.build import Artifact
from coldbench.environments import cgroups, isolation, rie
from coldbench.environments import delivery as code_delivery
from coldbench.environments.base import ControlPlane, LocalEnvironment
from coldbench.environments.process import CPU_MODELS
from coldbench.environments.runtime_api import RuntimeApiPlane
from coldbench.errors import EnvironmentUnavailable, UsageError
from coldbench.model import Config, Plan
from coldbench.targets.base import Target
from coldbench.targets import images
from coldbench.targets.images import engine
from coldbench.targets.docker.container import CodeVolume, ContainerSandbox
from coldbench.targets.machine import (DELIVERIES, PROVISIONED_UNDER_RIE, check_api,
                                       limit_notes, path_description)

RUN_LABEL = "coldbench.run"              # on every container of a run: the run's id
# ... and the scope `coldbench cleanup` clears: the name of the cgroup parent
# (COLDBENCH_CGROUP_PARENT), so that a test session clears its own containers only
SCOPE_LABEL = "coldbench.scope"
REMOVAL_WAIT_S = 30.0                     # at most, for the engine to remove a run's containers
CODE_IMAGE_PREFIX = "docker-"             # the code images of function images, by image id


def default_images() -> str:
    """AWS's images, except in CI (the CI variable set), where none can be pulled."""
    return "local" if os.environ.get("CI") else "aws"


class DockerTarget(Target):
    """Containers on one Docker engine, one environment at a time."""

    name = "docker"

    def __init__(self, timeout_s: float, cpu_model: str = "lambda", limits: bool = True,
                 api: str = "coldbench", images_kind: str = "local", rebuild: bool = False,
                 status=images.status_to_stderr, delivery: str = "host",
                 code_path: code_delivery.CodePath | None = None,
                 ephemeral_storage_mb: int = isolation.EPHEMERAL_DEFAULT_MB):
        if cpu_model not in CPU_MODELS:
            raise UsageError(f"unknown CPU model '{cpu_model}': choose {', '.join(CPU_MODELS)}")
        check_api(api)
        self.ephemeral_storage_mb = isolation.check_ephemeral_storage(ephemeral_storage_mb)
        if images_kind not in images.KINDS:
            raise UsageError(f"unknown kind of images '{images_kind}': choose "
                             f"{', '.join(images.KINDS)}")
        if delivery not in DELIVERIES:
            raise UsageError(f"unknown delivery '{delivery}': choose {', '.join(DELIVERIES)}")
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
        self.delivery = delivery
        self.code_path = code_path or code_delivery.CodePath()
        self.status = status
        self.client = engine()
        self.cgroup_version = cgroups.detect() or (
            "v2" if str(self.client.info().get("CgroupVersion")) == "2" else "v1")
        self.run_id = uuid.uuid4().hex[:8]
        self.claim = owners.claim(self.run_id)    # cleanup keeps what a live run owns
        self.builder = images.Builder(self.client, self.run_id, status)
        self._images: dict[Path, tuple[Artifact, images.Image]] = {}
        self._code: dict[str, CodeVolume | None] = {}      # image id -> how code reaches it
        self._image_notes: list[str] = []
        self._pull_failure: str | None = None
        self._noted = False
        self._sequence = itertools.count(1)
        self._live: set[LocalEnvironment] = set()

    # images ----------------------------------------------------------------------------

    def prepare(self, configs: list[Config], plan: Plan) -> list[Config]:
        """Find or build every function's image now, and with ``--delivery lambda`` pack
        its task root and attach one once, before anything is measured: a machine that
        cannot is refused first."""
        volumes = [self.code_for(artifact)
                   for artifact in dict.fromkeys(config.artifact for config in configs)]
        packed = [volume for volume in volumes if volume is not None]
        if packed:
            code_delivery.attach(packed[0].image).detach()
        return configs

    def image_for(self, artifact: Artifact) -> images.Image:
        if artifact.task_root in self._images:
            return self._images[artifact.task_root][1]
        image = None
        runtime = artifact.function.runtime.name
        if self.images_kind == "aws":
            if self._pull_failure is None:
                try:
                    image = self.builder.aws_function(artifact, self.rebuild)
                except images.ImageUnavailable as exc:
                    # one registry: after one failed pull the others are not tried (each
                    # could wait out the engine's timeout)
                    self._pull_failure = f"{runtime}'s"
                    why = str(exc)
            else:
                why = (f"not pulled: the pull of {self._pull_failure} base image failed, "
                       "so no other was tried")
            if image is None:
                note = (f"{runtime}: AWS's image not used ({why}); measured on images "
                        "built here (--images local)")
                self._image_notes.append(note)
                self.status(note)
        if image is None:
            image = self.builder.function(artifact, self.rebuild)
        self._images[artifact.task_root] = (artifact, image)
        return image

    def code_for(self, artifact: Artifact) -> CodeVolume | None:
        """How the function's code reaches its containers with ``--delivery lambda``: the
        image's own task root (a copy here, packed), the runtime's own files of that copy
        bound warm; None where the code is read from the image's layers."""
        image = self.image_for(artifact)
        if self.delivery != "lambda":
            return None
        if image.id in self._code:
            return self._code[image.id]
        code = None
        if image.kind == "aws":
            note = (f"{artifact.function.runtime.name}: AWS's image reads the function's code "
                    "from its own layers, as with --delivery host (no init_read_mb): the "
                    "Lambda code path is for images built here (--images local)")
            self._image_notes.append(note)
            self.status(note)
        else:
            copy = self.builder.task_root_of(image)
            warm = tuple((str(path), f"{images.TASK_ROOT}/{path.relative_to(copy)}")
                         for path in artifact.function.runtime.runtime_files(copy))
            packed = code_delivery.pack(copy, CODE_IMAGE_PREFIX + images.image_key(image))
            code = CodeVolume(packed, warm, self.code_path)
        self._code[image.id] = code
        return code

    def layers_image(self, artifact: Artifact) -> Path | None:
        """The function's layers merged and packed into an image of their own (cached by
        their digests, as on the local target); None without layers."""
        chosen = artifact.function.layers
        if not chosen:
            return None
        key = layers.key(chosen)[:32]
        return code_delivery.pack(layers.merge(chosen), f"layers-{key}")

    # environments ----------------------------------------------------------------------

    def control_plane(self) -> ControlPlane:
        # in the container the image's entrypoint starts the emulator (as AWS's do)
        return rie.EmulatorPlane() if self.api == "rie" else RuntimeApiPlane()

    def start(self, artifact: Artifact, memory_mb: int, provisioned: bool) -> LocalEnvironment:
        if provisioned and self.api == "rie":
            raise UsageError(PROVISIONED_UNDER_RIE)
        name = f"coldbench-{self.run_id}-{next(self._sequence)}"
        opt_dir = layers.merge(artifact.function.layers) if artifact.function.layers else None
        code = self.code_for(artifact)
        sandbox = ContainerSandbox(self.client, self.image_for(artifact), memory_mb, name,
                                   self.labels(), self.cgroup_version, self.limits,
                                   self.cpu_model, code=code,
                                   ephemeral_storage_mb=self.ephemeral_storage_mb,
                                   opt_dir=opt_dir,
                                   opt_image=self.layers_image(artifact) if code else None)
        environment = LocalEnvironment(artifact, memory_mb, provisioned, name, sandbox,
                                  self.control_plane(), self.timeout_s,
                                  on_close=self._live.discard)
        self._live.add(environment)
        return environment

    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id, SCOPE_LABEL: cgroups.PARENT}

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
            "ephemeral_storage_mb": self.ephemeral_storage_mb,
            "sandbox": {"isolated": True,
                        "user": f"{isolation.SANDBOX_UID}:{isolation.SANDBOX_GID}",
                        "pid_namespace": True, "root": "the image's, read-only",
                        "tmp": "tmpfs of the ephemeral storage's size"},
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
            "delivery": self.delivery,
            "container_images": [
                {"runtime": artifact.function.runtime.name, "function": artifact.function.name,
                 **image.describe(),
                 "delivery": "lambda" if self._code.get(image.id) else "host"}
                for artifact, image in self._images.values()],
            "timing": {
                "container_start_ms": "container create requested -> start returned",
                "init_ms": "the runtime's exec (the container's start gate opened) -> its "
                           "first GET /next" if self.api == "coldbench" else None,
                "first_response_ms": "container start requested -> first response"
                                     if self.api == "rie" else None},
        }
        return described | path_description(self.delivery, self.code_path, self.api)

    def notes(self, memory_mb: int) -> list[str]:
        notes = []
        if not self._noted:               # said once per run, not once per memory size
            notes.extend(self._image_notes)
            self._noted = True
        return notes + limit_notes(memory_mb, self.limits, self.cpu_model, self.api)

    def close(self) -> None:
        for environment in list(self._live):
            environment.close()
        # also what an interrupted start or close left
        try:
            remove_run_containers(self.client, self.run_id)
        finally:
            self.claim.release()
        # the code volumes an interrupted start or close left (their containers are gone)
        try:
            for volume in self.client.api.volumes(
                    filters={"label": f"{RUN_LABEL}={self.run_id}"}).get("Volumes") or []:
                try:
                    self.client.api.remove_volume(volume["Name"], force=True)
                except Exception:
                    pass
        except Exception:
            pass                          # the engine is gone
        self.client.close()


def remove_run_containers(client, run_id: str) -> None:
    """Remove the containers labelled with ``run_id``, until the engine has removed them all
    (at most ``REMOVAL_WAIT_S``): a removal that Ctrl-C cut short goes on in the engine
    ("removing")."""
    deadline = time.monotonic() + REMOVAL_WAIT_S
    while time.monotonic() < deadline:
        try:
            left = client.api.containers(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})
        except Exception:
            return                        # the engine is gone, and its containers with it
        if not left:
            return
        for container in left:
            if container.get("State") != "removing":
                try:
                    client.api.remove_container(container["Id"], force=True)
                except Exception:
                    pass
        time.sleep(0.05)
