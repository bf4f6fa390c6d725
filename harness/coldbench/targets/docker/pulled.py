"""Container-image functions (PackageType Image) as ``coldbench serve`` runs them: the
function's image pulled from its registry (its ImageUri, logged in with ECR's
GetAuthorizationToken where the control plane has one) and run as the docker target runs
its images, one container sandbox per execution environment (``container.py``) under
coldbench's Runtime API, so Init Duration and Duration are clocked as on the docker target.

The image is run rather than its /var/task copied out and run here: what is measured is
the image, with its own base, runtime and entrypoint, as Lambda runs it. An image built on
AWS's base image starts its entrypoint with the handler; one built on the docker target's
local images (their runtime and emulator) starts the runtime's command line, as
``--target docker`` does (``ContainerSandbox``).
"""

from __future__ import annotations

import threading
import uuid
from typing import Callable

from coldbench.build import Artifact
from coldbench.environments import cgroups
from coldbench.environments.base import LocalEnvironment
from coldbench.environments.runtime_api import RuntimeApiPlane
from coldbench.errors import EnvironmentUnavailable
from coldbench.targets import images
from coldbench.targets.docker.container import ContainerSandbox
from coldbench.targets.docker.target import (RUN_LABEL, SCOPE_LABEL, engine,
                                            remove_run_containers)



class PulledImages:
    """Environments from images pulled by URI, on this machine's Docker engine."""

    def __init__(self, auth: Callable[[str], dict | None] = lambda uri: None):
        """``auth(uri)``: the registry credentials for a pull (None: anonymous)."""
        self.client = engine()
        self.auth = auth
        self.run_id = uuid.uuid4().hex[:8]
        self.cgroup_version = cgroups.detect() or (
            "v2" if str(self.client.info().get("CgroupVersion")) == "2" else "v1")
        self._images: dict[str, images.Image] = {}
        self._lock = threading.Lock()
        self._sequence = 0

    def image(self, uri: str) -> images.Image:
        """The image ``uri`` names, pulled once."""
        import docker.errors

        with self._lock:
            if uri in self._images:
                return self._images[uri]
            repository, _, tag = uri.rpartition(":")
            if "/" in tag or not repository:          # no tag: a digest or the default
                repository, tag = uri, None
            try:
                pulled = self.client.images.pull(repository, tag=tag, auth_config=self.auth(uri))
            except (docker.errors.APIError, OSError) as exc:
                raise EnvironmentUnavailable(f"cannot pull {uri}: {images.reason(exc)}") from None
            labels = dict(pulled.labels or {})
            kind = "local" if labels.get("coldbench.executable") else "aws"
            found = images.Image(ref=uri, id=pulled.id, kind=kind, labels=labels,
                                 entrypoint=tuple(pulled.attrs["Config"].get("Entrypoint") or ()))
            self._images[uri] = found
            return found

    def start(self, artifact: Artifact, uri: str, memory_mb: int, timeout_s: float,
              provisioned: bool) -> LocalEnvironment:
        """A new execution environment of the image ``uri``."""
        image = self.image(uri)
        with self._lock:
            self._sequence += 1
            name = f"coldbench-serve-{self.run_id}-{self._sequence}"
        sandbox = ContainerSandbox(self.client, image, memory_mb, name,
                                   {RUN_LABEL: self.run_id, SCOPE_LABEL: cgroups.PARENT},
                                   self.cgroup_version)
        return LocalEnvironment(artifact, memory_mb, provisioned, name, sandbox, RuntimeApiPlane(),
                           timeout_s)

    def close(self) -> None:
        """Remove what is left of this server's containers (environments close their own)."""
        remove_run_containers(self.client, self.run_id)
        self.client.close()
