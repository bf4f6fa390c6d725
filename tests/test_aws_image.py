"""`coldbench run --target aws --package zip,image`: the same function as a zip and as a
container image, measured side by side. Against stand-ins that speak the real protocols:
moto's server for Lambda, IAM, Logs and ECR's API (behind aws_standin.StandIn), a real
registry server where the images are pushed to (registry_standin.py), `coldbench serve`
for invocations, which pulls an image function's image and runs it in a container on the
real Docker engine. No AWS account is involved."""

import json
import os
import re

import pytest

from aws_standin import DUMMY_ENVIRONMENT, Serve, boto
from conftest import run_cli
from registry_standin import Registry, connect

pytestmark = [pytest.mark.aws, pytest.mark.docker, pytest.mark.slow]

REGION = "us-east-1"
ENVIRONMENT = {**os.environ, **DUMMY_ENVIRONMENT}


@pytest.fixture(scope="module")
def registry():
    found = Registry()
    yield found
    found.close()


@pytest.fixture
def aws(control_plane, registry, engine):
    moto, standin = control_plane
    connect(standin, registry)
    serve = Serve.following(standin.url, "python", 30, REGION)
    yield moto, standin, serve
    serve.close()


def repositories(url) -> list[str]:
    return [r["repositoryName"] for r in boto(url, "ecr").describe_repositories()["repositories"]
            if r["repositoryName"].startswith("coldbench-")]


def test_a_zip_and_an_image_run_side_by_side_and_everything_is_deleted(aws, registry,
                                                                       tmp_path):
    moto, standin, serve = aws
    result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "python",
                     "--package", "zip,image", "--endpoint-url", standin.url,
                     "--invoke-endpoint-url", serve.url, "--output", tmp_path / "run.json",
                     "--work", 10, "--memory", "256", "--cold", 2, "--warm", 1,
                     "--copies", 1, "--timeout", 30, "--yes", env=ENVIRONMENT, timeout=600)
    assert result.returncode == 0, result.stderr
    stderr = result.stderr
    run_id = re.search(r"tagged coldbench:run-id=([0-9a-f]{8})", stderr).group(1)
    repository = f"coldbench-{run_id}"
    # the plan names the repository and its image before anything is created
    assert stderr.index(f"ECR repository {repository} with 1 container images") \
        < stderr.index(f"creating ECR repository {repository}")
    assert "ECR storage: 1 images" in stderr

    document = json.loads((tmp_path / "run.json").read_text())
    run = document["run"]
    image = run["images"]["python"]
    assert image["uri"] == f"{registry.host}/{repository}:python-x86_64"
    assert image["digest"].startswith("sha256:") and image["bytes"] > 1_000_000
    assert run["package_types"] == ["zip", "image"]

    samples = document["samples"]
    assert all(s["error"] is None and not s["misclassified"] for s in samples), \
        [s["error"] for s in samples if s["error"]]
    by_type = {kind: [s for s in samples if s["package_type"] == kind] for kind in ("zip", "image")}
    assert all(s["variant"] == {"architecture": "x86_64"} for s in by_type["zip"])
    assert all(s["variant"] == {"architecture": "x86_64", "package_type": "image"}
               for s in by_type["image"])       # never pooled
    for kind, taken in by_type.items():
        assert sorted(s["mode"] for s in taken) == ["cold", "cold", "warm"], kind
        assert all(s["cold"] and s["init_ms"] > 0 for s in taken if s["mode"] == "cold")
    assert all("-img-" in s["function_name"] for s in by_type["image"])
    # AWS's base image where it can be pulled, else the local one, with a note saying so
    assert image["kind"] in ("aws", "local")
    assert (image["kind"] == "local") == bool(run["image_notes"]) == ("not used" in stderr)

    created = standin.sent("POST", r"^/2015-03-31/functions/?$")
    images = [c for c in created if c.get("PackageType") == "Image"]
    assert len(images) == 1 and images[0]["Code"] == {"ImageUri": image["uri"]}
    assert "Runtime" not in images[0] and "Handler" not in images[0]
    assert f"to {registry.host}/{repository}:python-x86_64" in stderr      # pushed
    table = result.stdout
    assert re.search(r"^python x86_64 image +256 MB", table, re.MULTILINE), table
    assert re.search(r"^python x86_64 +256 MB", table, re.MULTILINE), table

    # nothing left: functions, the repository and its image in the registry
    assert boto(moto.url, "lambda").list_functions()["Functions"] == []
    assert repositories(moto.url) == []
    assert registry.tags(repository) == []


def test_cleanup_finds_and_deletes_a_leftover_repository(aws):
    moto, standin, _ = aws
    ecr = boto(standin.url, "ecr")
    ecr.create_repository(repositoryName="coldbench-0badf00d",
                          tags=[{"Key": "coldbench:run-id", "Value": "0badf00d"}])
    ecr.create_repository(repositoryName="coldbench-not-ours")       # no tag: left alone
    common = ("cleanup", "--target", "aws", "--region", REGION, "--endpoint-url", standin.url)
    listed = run_cli(*common, "--dry-run", env=ENVIRONMENT)
    assert listed.returncode == 0, listed.stderr
    assert "repository coldbench-0badf00d (run 0badf00d)" in listed.stdout
    cleaned = run_cli(*common, "--run-id", "0badf00d", "--yes", env=ENVIRONMENT)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "deleted repository coldbench-0badf00d" in cleaned.stdout
    assert repositories(moto.url) == ["coldbench-not-ours"]
    ecr.delete_repository(repositoryName="coldbench-not-ours")
