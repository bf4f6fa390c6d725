"""A real container registry behind the ECR stand-in, for ``--package image`` tests.

- ``Registry``: the distribution registry (Debian's ``docker-registry``), the registry
  server ECR's own API is in front of, as a subprocess on 127.0.0.1 with its storage in a
  temporary folder and deletion enabled. The Docker engine pushes to and pulls from
  127.0.0.0/8 registries over plain HTTP without being told.
- ``connect``: makes the stand-in (aws_standin.StandIn, in front of moto's ECR) name that
  registry where ECR names its own (GetAuthorizationToken's proxyEndpoint, every
  repositoryUri), and answers ECR's image calls (DescribeImages, ListImages,
  BatchDeleteImage) from the registry's own API, where the images are.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from aws_standin import free_port, stop, wait_for_port

ECR = "AmazonEC2ContainerRegistry_V20150921"
MANIFESTS = ", ".join(["application/vnd.docker.distribution.manifest.v2+json",
                       "application/vnd.oci.image.manifest.v1+json"])
CONFIG = """version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


class Registry:
    def __init__(self):
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry not found: scripts/setup --test installs it")
        self.folder = Path(tempfile.mkdtemp(prefix="coldbench-registry-"))
        self.port = free_port()
        config = self.folder / "config.yml"
        config.write_text(CONFIG.format(root=self.folder / "storage", port=self.port))
        self.process = subprocess.Popen([binary, "serve", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _request(self, method: str, path: str, headers: dict | None = None):
        request = urllib.request.Request(f"http://{self.host}{path}", method=method,
                                         headers=headers or {})
        return urllib.request.urlopen(request, timeout=30)

    def tags(self, name: str) -> list[str]:
        try:
            with self._request("GET", f"/v2/{name}/tags/list") as answer:
                return json.loads(answer.read()).get("tags") or []
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise

    def manifest(self, name: str, reference: str) -> tuple[str, dict] | None:
        """(digest, manifest) of a tag or digest, None if there is none."""
        try:
            with self._request("GET", f"/v2/{name}/manifests/{reference}",
                               {"Accept": MANIFESTS}) as answer:
                return answer.headers["Docker-Content-Digest"], json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def delete(self, name: str, digest: str) -> None:
        self._request("DELETE", f"/v2/{name}/manifests/{digest}").close()

    def close(self) -> None:
        stop(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)


def connect(standin, registry: Registry) -> None:
    """ECR through the stand-in, with its images in ``registry``."""

    def here(document):
        if not isinstance(document, dict):
            return document
        if "authorizationData" in document:
            for data in document["authorizationData"]:
                data["proxyEndpoint"] = f"http://{registry.host}"
        for repository in [document.get("repository"), *document.get("repositories", [])]:
            if isinstance(repository, dict) and "repositoryUri" in repository:
                name = repository["repositoryUri"].split("/", 1)[1]
                repository["repositoryUri"] = f"{registry.host}/{name}"
        return document

    standin.override("POST", r"^/$", here)

    def images(name: str, ids: list[dict] | None):
        found, missing = [], []
        wanted = ids if ids is not None else [{"imageTag": t} for t in registry.tags(name)]
        for image_id in wanted:
            reference = image_id.get("imageTag") or image_id.get("imageDigest")
            manifest = registry.manifest(name, reference)
            if manifest is None:
                missing.append(image_id)
            else:
                found.append((image_id, *manifest))
        return found, missing

    def describe_images(request):
        found, missing = images(request["repositoryName"], request.get("imageIds"))
        if missing:
            return 400, {"__type": "ImageNotFoundException",
                         "message": f"The image with imageId {missing[0]} does not exist"}
        details = [{"registryId": "123456789012", "repositoryName": request["repositoryName"],
                    "imageDigest": digest,
                    "imageTags": [i["imageTag"]] if "imageTag" in i else [],
                    # what ECR reports and bills: the compressed layers as pushed
                    "imageSizeInBytes": sum(layer["size"] for layer in manifest["layers"]),
                    "imagePushedAt": datetime.now(timezone.utc).timestamp(),
                    "imageManifestMediaType": manifest.get("mediaType", "")}
                   for i, digest, manifest in found]
        return 200, {"imageDetails": details}

    def list_images(request):
        found, _ = images(request["repositoryName"], None)
        return 200, {"imageIds": [{"imageDigest": d, "imageTag": i["imageTag"]}
                                  for i, d, _ in found]}

    def batch_delete_image(request):
        found, missing = images(request["repositoryName"], request["imageIds"])
        for _, digest, _ in found:
            registry.delete(request["repositoryName"], digest)
        return 200, {"imageIds": [{"imageDigest": d} for _, d, _ in found],
                     "failures": [{"imageId": i, "failureCode": "ImageNotFound",
                                   "failureReason": "Requested image not found"}
                                  for i in missing]}

    standin.answer(f"{ECR}.DescribeImages", describe_images)
    standin.answer(f"{ECR}.ListImages", list_images)
    standin.answer(f"{ECR}.BatchDeleteImage", batch_delete_image)
