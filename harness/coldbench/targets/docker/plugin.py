"""The docker target as a plug-in: how the run's options make one, and what a killed run
leaves behind."""

from __future__ import annotations

from coldbench.environments import cgroups
from coldbench.errors import EnvironmentUnavailable, UsageError
from coldbench.targets.docker import images
from coldbench.targets.docker.target import SCOPE_LABEL, DockerTarget, default_images, engine
from coldbench.targets.local.target import PROVISIONED_UNDER_RIE, check_api


def leftovers(client) -> list:
    """Containers a killed run of this scope left behind (by label), and image builds'
    containers (by name)."""
    found = {c.id: c for c in client.containers.list(
        all=True, filters={"label": f"{SCOPE_LABEL}={cgroups.PARENT}"})}
    prefix = images.build_container_prefix()
    for container in client.containers.list(all=True, filters={"name": prefix}):
        if container.name.startswith(prefix):
            found[container.id] = container
    return list(found.values())


def remove_leftovers() -> list[str]:
    """Remove every container coldbench left behind; their names. Nothing when the Docker
    SDK is not installed or no engine answers."""
    try:
        client = engine()
    except EnvironmentUnavailable:
        return []
    removed = []
    try:
        for container in leftovers(client):
            try:
                container.remove(force=True)
                removed.append(container.name)
            except Exception:
                pass
    finally:
        client.close()
    return removed


def remove_images() -> list[str]:
    """Remove every image coldbench built or derived (each layer after the layers built on
    it); their names. Nothing when no engine answers."""
    try:
        client = engine()
    except EnvironmentUnavailable:
        return []
    order = {"function": 0, "runtime": 1, "provided": 2, "base": 3}
    removed = []
    try:
        found = client.images.list(filters={"label": images.LABEL})
        for image in sorted(found, key=lambda i: order.get(i.labels.get(images.LABEL), 4)):
            try:
                client.images.remove(image.id, force=True)
                removed.append(image.tags[0] if image.tags else image.short_id)
            except Exception:
                pass
    finally:
        client.close()
    return removed


def from_options(options) -> DockerTarget:
    api = options.target_options.get("api") or "coldbench"
    check_api(api)
    if api == "rie" and options.provisioned:
        raise UsageError(PROVISIONED_UNDER_RIE)
    return DockerTarget(timeout_s=options.timeout_s, cpu_model=options.cpu_model,
                        limits=options.limits, api=api,
                        images_kind=options.target_options.get("images") or default_images(),
                        rebuild=options.rebuild)
