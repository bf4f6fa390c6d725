"""Container images for Lambda (``--package image``): the run's functions as images,
deployed and measured beside their zips.

An image is AWS's base image for the function's Lambda runtime identifier (which one is
the runtime's to say: ``Runtime.lambda_image``) with the deployment package's files, the
zip's own, unzipped, at /var/task and the handler as the image's command, as the Lambda
Developer Guide's "Create a Lambda function using a container image" builds one; on
``provided.*`` the ``bootstrap`` is also at /var/runtime, where AWS's OS-only images start
it. Images are built with the Docker SDK on the docker target's image builder
(``coldbench.targets.images``), cached by content, for this machine's architecture.

Where AWS's base image cannot be pulled (no registry reachable), the image is the docker
target's local image of the function instead (``--images local``: Debian, the runtime the
task root was built for, AWS's emulator as entrypoint, which runs the command directly
when Lambda sets AWS_LAMBDA_RUNTIME_API), with the runtime's command line as its command;
a note in the plan and the results says so. Its command carries the memory-dependent
flags of the run's smallest memory size (Node.js and Java heap limits).

The run creates one ECR repository, ``coldbench-<run id>``, tagged as everything else
(``resources``), logs in with GetAuthorizationToken, pushes each image with the tag
``<runtime>-<architecture>``, reads its size as ECR stores it (DescribeImages
``imageSizeInBytes``: the compressed layers, what ECR bills) into ``run.images``, and the
functions are created with PackageType Image and that ImageUri. Cleanup deletes the images
and the repository with the functions; the tags the push added on this machine go too.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from coldbench.build import Artifact
from coldbench.errors import EnvironmentUnavailable, UsageError
from coldbench.targets.aws.client import Clients, describe
from coldbench.targets.aws.package import Package, host_architecture, parse_choices
from coldbench.targets import images as docker_images
from coldbench.targets.images import engine

PACKAGE_TYPES = ("zip", "image")
RECIPE_VERSION = "1"              # bump when an image's layout changes
LABEL_KIND = "coldbench.lambda_image"      # "aws" (AWS's base image) or "local"


def parse_package_types(text: str | None) -> list[str]:
    """``--package``: zip, image or both, comma-separated."""
    return parse_choices(text or "zip", PACKAGE_TYPES, "package type", "--package")


def check_architectures(architectures: list[str]) -> None:
    """Images are built for this machine's architecture only (no emulation here)."""
    host = host_architecture()
    others = [a for a in architectures if a != host]
    if others:
        raise UsageError(f"--package image builds images for this machine's architecture "
                         f"({host}) only, not {', '.join(others)}: pass --arch {host}, or "
                         "measure the other architecture's zips in a run of their own")


@dataclass(eq=False)
class LambdaImage:
    """One function's image for one architecture: built here, then pushed."""

    runtime: str
    architecture: str
    lambda_runtime: str
    image_id: str
    ref: str                      # its name on this machine
    base: str                     # what it was built on
    kind: str                     # "aws" or "local" (the fallback)
    local_bytes: int              # uncompressed, as the engine reports it
    tag: str = ""
    uri: str | None = None        # repository URI and tag, once pushed
    digest: str | None = None
    size_bytes: int | None = None     # as ECR stores it

    def describe(self) -> dict:
        return {"uri": self.uri, "bytes": self.size_bytes, "digest": self.digest,
                "architecture": self.architecture, "lambda_runtime": self.lambda_runtime,
                "base": self.base, "kind": self.kind}


class Images:
    """The images of one run, on this machine's Docker engine."""

    def __init__(self, run_id: str, status: Callable[[str], None], memory_mb: int):
        self.client = engine()
        self.builder = docker_images.Builder(self.client, run_id, status)
        self.status = status
        self.memory_mb = memory_mb
        self.built: list[LambdaImage] = []
        self.notes: list[str] = []
        self._pull_failure: str | None = None

    def build(self, artifact: Artifact, package: Package) -> LambdaImage:
        """The function's image: on AWS's base image, else (with a note) on the docker
        target's local one."""
        runtime = artifact.function.runtime
        recipe = runtime.lambda_image(package.lambda_runtime)
        base = None
        if self._pull_failure is None:
            try:
                base = self.builder.aws_base(recipe.aws_base)
            except docker_images.ImageUnavailable as exc:
                # one registry: after one failed pull the others are not tried
                self._pull_failure = str(exc)
        if base is not None:
            image = self._on_aws_base(artifact, package, recipe, base)
        else:
            note = (f"{runtime.name}: AWS's base image {recipe.aws_base} not used "
                    f"({self._pull_failure}); the container image is built on the docker "
                    "target's local images (Debian, the runtime the task root was built "
                    "for, AWS's emulator)")
            self.notes.append(note)
            self.status(note)
            image = self._on_local_base(artifact, package, recipe.aws_base)
        self.built.append(image)
        return image

    def _on_aws_base(self, artifact, package: Package, recipe, base) -> LambdaImage:
        runtime = artifact.function.runtime.name
        ref = f"coldbench/lambda-{runtime}:" + _key(RECIPE_VERSION, base.id,
                                                    package.code_sha256, package.handler)
        with tempfile.TemporaryDirectory(prefix="coldbench-image-") as work:
            root = Path(work) / "task"
            unzip(package.path, root)
            files = [("var/task", root, 0)]
            if recipe.bootstrap_in_runtime_dir:
                files.append(("var/runtime/bootstrap", root / "bootstrap", 0))
            self.status(f"building image {ref}: {artifact.function.name} on {recipe.aws_base}")
            image = self.builder.layer(
                base, ref, files=files, labels={LABEL_KIND: "aws",
                                                "coldbench.base": recipe.aws_base,
                                                "coldbench.function": artifact.function.name},
                entrypoint=base.attrs["Config"].get("Entrypoint") or [],
                cmd=[package.handler], env=[])
        return self._described(image, ref, package, recipe.aws_base, "aws")

    def _on_local_base(self, artifact, package: Package, wanted: str) -> LambdaImage:
        function = artifact.function
        parent = self.builder.function(artifact)
        launch = function.runtime.launch(Path(docker_images.TASK_ROOT), function.handler,
                                         self.memory_mb)
        argv = list(launch.argv)
        if not argv[0].startswith(f"{docker_images.TASK_ROOT}/"):
            argv[0] = parent.executable or argv[0]
        env = [f"{k}={v}" for k, v in sorted(launch.env.items())]
        ref = f"coldbench/lambda-{function.runtime.name}:" + _key(
            RECIPE_VERSION, "local", parent.id, argv, env)
        image = self.builder.layer(
            self.client.images.get(parent.id), ref,
            labels={LABEL_KIND: "local", "coldbench.base": parent.ref},
            entrypoint=list(parent.entrypoint), cmd=argv, env=env)
        return self._described(image, ref, package, f"{parent.ref} (in place of {wanted})",
                               "local")

    @staticmethod
    def _described(image, ref: str, package: Package, base: str, kind: str) -> LambdaImage:
        return LambdaImage(runtime=package.runtime, architecture=package.architecture,
                           lambda_runtime=package.lambda_runtime, image_id=image.id, ref=ref,
                           base=base, kind=kind, local_bytes=int(image.attrs.get("Size") or 0),
                           tag=f"{package.runtime}-{package.architecture}")

    # pushing ---------------------------------------------------------------------------

    def push_all(self, clients: Clients, repository: str, repository_uri: str) -> None:
        """Log in to the run's repository (GetAuthorizationToken) and push every image."""
        data = clients.ecr.get_authorization_token()["authorizationData"][0]
        username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
        auth = {"username": username, "password": password,
                "serveraddress": data["proxyEndpoint"]}
        for image in self.built:
            self._push(clients, image, repository, repository_uri, auth)

    def _push(self, clients: Clients, image: LambdaImage, repository: str,
              repository_uri: str, auth: dict) -> None:
        self.status(f"pushing {image.ref} to {repository_uri}:{image.tag}")
        self.client.images.get(image.image_id).tag(repository_uri, tag=image.tag)
        image.uri = f"{repository_uri}:{image.tag}"     # tagged here: removed at close
        for line in self.client.api.push(repository_uri, tag=image.tag, auth_config=auth,
                                         stream=True, decode=True):
            if "error" in line:
                raise EnvironmentUnavailable(f"pushing {image.uri} failed: "
                                             f"{' '.join(str(line['error']).split())}")
        try:
            details = clients.ecr.describe_images(
                repositoryName=repository, imageIds=[{"imageTag": image.tag}])["imageDetails"]
        except Exception as exc:
            raise EnvironmentUnavailable(f"AWS: {describe(exc)}") from None
        if not details:
            raise EnvironmentUnavailable(f"ECR does not list {image.uri} after its push")
        image.digest = details[0]["imageDigest"]
        image.size_bytes = int(details[0]["imageSizeInBytes"])

    def close(self) -> None:
        """Remove the tags the pushes added here (the images stay cached by content)."""
        for image in self.built:
            if image.uri:
                try:
                    self.client.images.remove(image.uri, noprune=True)
                except Exception:
                    pass            # gone already
        self.client.close()


def unzip(archive: Path, out: Path) -> None:
    """A zip's files into ``out``, with their modes (executables stay executable)."""
    out.mkdir(parents=True)
    out.chmod(0o755)
    with zipfile.ZipFile(archive) as files:
        for info in files.infolist():
            target = out / info.filename
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with files.open(info) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, mode or 0o644)
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)


def _key(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]
