"""The docker target as registered (entry point ``docker``): its options, their rules, how
they make one, and what a killed run leaves behind: containers (found by label), the
containers that build images (by name), the volumes that gave containers their code (by
label), the loop devices behind them and, when asked, the images coldbench made and the
copies of their task roots (with their packed code images)."""

from __future__ import annotations

import shutil
from functools import partial

from coldbench.environments import cgroups, delivery, isolation
from coldbench.errors import EnvironmentUnavailable
from coldbench.model import RunOptions
from coldbench.targets.base import TargetPlugin, Leftover, Option
from coldbench.targets import images
from coldbench.targets.docker.target import (CODE_IMAGE_PREFIX, RUN_LABEL, SCOPE_LABEL,
                                             DockerTarget, default_images, engine)
from coldbench.targets.machine import (API, DELIVERY, EPHEMERAL_STORAGE, HERE, check_api_options,
                                       code_path, in_use)

IMAGES = Option("--images", choices=images.KINDS,
                help="AWS's base images (pulled; built here when they cannot be) or images "
                     "built here from Debian packages. Default: aws, or local when the CI "
                     "variable is set.")
REMOVE_IMAGES = Option("--images", type=bool,
                       help="also remove the cached images and the copies of their task "
                            "roots (built again when needed).")
# images are removed after the images built on them
_LAYER_ORDER = {"function": 0, "runtime": 1, "provided": 2, "base": 3}


class Docker(TargetPlugin):
    """The docker target as registered: its options, their rules, how they make a
    ``DockerTarget``, and what killed runs left."""

    name = "docker"

    summary = "containers on a Docker engine"
    makes = (DockerTarget,)
    run_options = (API, DELIVERY, IMAGES, EPHEMERAL_STORAGE)
    cleanup_options = (REMOVE_IMAGES,)

    @classmethod
    def check_options(cls, options: RunOptions) -> RunOptions:
        options = check_api_options(options)
        isolation.check_ephemeral_storage(options.target_options.get("ephemeral_storage")
                                          or EPHEMERAL_STORAGE.default)
        return options

    @classmethod
    def from_options(cls, options) -> DockerTarget:
        settings = options.target_options
        return DockerTarget(timeout_s=options.timeout_s, cpu_model=options.cpu_model,
                            limits=options.limits, api=settings.get("api") or "coldbench",
                            images_kind=settings.get("images") or default_images(),
                            rebuild=options.rebuild,
                            delivery=settings.get("delivery") or DELIVERY.default,
                            code_path=code_path(options.calibration),
                            ephemeral_storage_mb=settings.get("ephemeral_storage")
                            or EPHEMERAL_STORAGE.default)

    @classmethod
    def find_leftovers(cls, settings: dict) -> list[Leftover]:
        """Nothing when the Docker SDK is not installed or no engine answers."""
        try:
            client = engine()
        except EnvironmentUnavailable:
            return []
        # containers first: removing one unmounts its code volume, and so lets go of the
        # loop device behind it
        found = [Leftover(f"container {c.name}", HERE, lambda c=c: _remove_container(c),
                          in_use(c.labels.get(RUN_LABEL, "")))
                 for c in leftovers(client)]
        found += [Leftover(f"volume {v.name}", HERE, lambda v=v: _remove_volume(v))
                  for v in volume_leftovers(client)]
        found += [Leftover(f"loop device {device} ({image.name})", HERE,
                           partial(delivery.remove_leftover, device, image))
                  for device, image in delivery.leftovers()
                  if image.name.startswith(CODE_IMAGE_PREFIX)]
        if settings.get("images"):
            made = client.images.list(filters={"label": images.LABEL})
            layer = lambda image: _LAYER_ORDER.get(image.labels.get(images.LABEL), 4)  # noqa: E731
            for image in sorted(made, key=layer):
                name = image.tags[0] if image.tags else image.short_id
                found.append(Leftover(f"image {name}", HERE,
                                      lambda i=image, n=name: _remove_image(client, i, n)))
            # and every task root copy: only images built here are copied, and they all go
            # (a nameless one, replaced by --rebuild, with the child built on it)
            found += [Leftover(f"task root copy of image {key}", HERE, partial(_remove_copy, key))
                      for key in sorted(_copied_keys())]
        return found


def _copied_keys() -> set[str]:
    """The image keys whose task root is copied here, or packed (``DockerTarget.code_for``)."""
    copies = images.task_roots_dir()
    keys = {p.name for p in copies.iterdir() if not p.name.startswith(".")} \
        if copies.is_dir() else set()
    packed = delivery.images_dir()
    if packed.is_dir():
        keys |= {p.stem.removeprefix(CODE_IMAGE_PREFIX)
                 for p in packed.glob(f"{CODE_IMAGE_PREFIX}*.ext4")}
    return keys


def _remove_copy(key: str) -> str:
    """An image's task root copy and its packed code image (a loop device that has it
    attached keeps reading it until detached)."""
    shutil.rmtree(images.task_roots_dir() / key, ignore_errors=True)
    delivery.packed(CODE_IMAGE_PREFIX + key).unlink(missing_ok=True)
    return f"removed the task root copy of image {key}"


def leftovers(client) -> list:
    """Containers a killed run of this scope left behind (by label), and image builds'
    containers (by name)."""
    # a container may go between the engine's list and its inspect: its run removed it
    found = {c.id: c for c in client.containers.list(
        all=True, filters={"label": f"{SCOPE_LABEL}={cgroups.PARENT}"}, ignore_removed=True)}
    prefix = images.build_container_prefix()
    for container in client.containers.list(all=True, filters={"name": prefix},
                                            ignore_removed=True):
        if container.name.startswith(prefix):
            found[container.id] = container
    return list(found.values())


def volume_leftovers(client) -> list:
    """Code volumes a killed run of this scope left behind (by label)."""
    return client.volumes.list(filters={"label": f"{SCOPE_LABEL}={cgroups.PARENT}"})


def _remove_volume(volume) -> str:
    import docker.errors
    try:
        volume.remove(force=True)
    except docker.errors.NotFound:
        pass
    return f"removed volume {volume.name}"


def _remove_container(container) -> str:
    import docker.errors
    try:
        container.remove(force=True)
    except docker.errors.NotFound:        # its run's own cleanup was quicker
        pass
    return f"removed container {container.name}"


def _remove_image(client, image, name: str) -> str:
    import docker.errors
    try:
        client.images.remove(image.id, force=True)
    except docker.errors.NotFound:
        pass
    return f"removed image {name}"
