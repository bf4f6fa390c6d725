"""The docker target's Lambda-shaped code path (--delivery lambda, its default): every
container reads its function's code cold from a read-only image on a loop device of its
own, counted by its cgroup, and leaves no device, volume or mount behind."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from coldbench.build import Function, build
from coldbench.environments import delivery
from coldbench.workflows.options import RunOptions
from coldbench.workflows.run import run
from coldbench.runtimes import RUNTIMES, get
from coldbench.targets.docker import plugin as docker_plugin
from coldbench.targets.docker import target as docker_target
from conftest import run_cli

pytestmark = [pytest.mark.docker, pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or not Path("/dev/loop-control").exists(),
                                 reason="loop devices need root and /dev/loop-control")]

MEMORY = 1024


def code_devices() -> set[str]:
    """Loop devices with a code image of a docker function image behind them."""
    return {device for device, image in delivery.leftovers()
            if image.name.startswith(docker_target.CODE_IMAGE_PREFIX)}


def volumes(engine) -> list[str]:
    """This session's code volumes (by its scope label)."""
    return [v.name for v in docker_plugin.volume_leftovers(engine)]


@pytest.fixture(autouse=True)
def nothing_left(engine):
    """Every test leaves none of its session's containers and volumes behind, and no
    loop device it attached."""
    before = code_devices()
    yield
    assert not [c.name for c in docker_plugin.leftovers(engine)], "containers left behind"
    assert not volumes(engine), "volumes left behind"
    assert code_devices() <= before, "loop devices left behind"


@pytest.fixture(scope="module")
def lambda_run(engine, tmp_path_factory):
    """Every runtime on local images with the default delivery: two cold starts, one
    provisioned, one warm invocation each."""
    output = tmp_path_factory.mktemp("run") / "lambda.json"
    options = RunOptions(target="docker", output=output, runtimes=list(RUNTIMES),
                         memory=[MEMORY], cold=2, warm=1, provisioned=1, timeout_s=120,
                         target_options={"images": "local"})
    results = run(options)
    return results, json.loads(output.read_text())


def test_every_cold_sample_records_what_init_read_and_a_prediction(lambda_run):
    results, _ = lambda_run
    assert {s.runtime for s in results.samples} == set(RUNTIMES)
    assert [s.error for s in results.samples if s.error] == []
    for s in results.samples:
        if s.mode == "warm":
            assert "init_read_mb" not in s.extra
            continue
        assert s.extra["init_read_mb"] > 0, (s.runtime, s.mode, s.extra)
        if s.mode == "cold":
            assert s.extra["predicted_aws_init_ms"] > 0, (s.runtime, s.extra)


def test_every_container_reads_its_code_cold(lambda_run):
    results, _ = lambda_run
    for runtime in RUNTIMES:
        reads = [s.extra["init_read_mb"] for s in results.samples
                 if s.runtime == runtime and s.mode != "warm"]
        # a page cache shared between containers would leave later starts less to read
        assert len(reads) == 3 and max(reads) - min(reads) < 0.05, (runtime, reads)
    # Go's bootstrap is the function's code: read from the device, not a page less
    bootstrap = build(Function.builtin(get("go"))).task_root / "bootstrap"
    go = [s.extra["init_read_mb"] for s in results.samples
          if s.runtime == "go" and s.mode != "warm"]
    assert min(go) > bootstrap.stat().st_size / 2e6, go


def test_the_java_runtimes_own_files_are_not_read_from_the_image(lambda_run):
    # runtime.jsa (~20 MB) and the client's jars are bound warm over the image's copy
    results, _ = lambda_run
    artifact = build(Function.builtin(get("java")))
    archive = (artifact.task_root / "runtime.jsa").stat().st_size
    assert archive > 10e6
    java = [s.extra["init_read_mb"] for s in results.samples
            if s.runtime == "java" and s.mode != "warm"]
    assert java and max(java) * 1e6 < archive / 20, java


def test_the_run_records_the_delivery_and_the_code_path(lambda_run):
    _, document = lambda_run
    described = document["run"]
    assert described["delivery"] == "lambda"
    assert described["code_path"] == {"read_mb_per_s": None, "read_iops": None}
    assert {i["runtime"]: i["delivery"] for i in described["container_images"]} == \
        {runtime: "lambda" for runtime in RUNTIMES}


def test_delivery_host_reads_the_code_from_the_image_and_records_no_reads(engine, tmp_path):
    output = tmp_path / "host.json"
    results = run(RunOptions(target="docker", output=output, runtimes=["python", "go"],
                             memory=[256], cold=1, warm=0, provisioned=1,
                             target_options={"images": "local", "delivery": "host"}))
    assert results.samples and all(s.error is None for s in results.samples)
    assert all("init_read_mb" not in s.extra and "predicted_aws_init_ms" not in s.extra
               for s in results.samples)
    described = json.loads(output.read_text())["run"]
    assert described["delivery"] == "host" and "code_path" not in described
    assert {i["delivery"] for i in described["container_images"]} == {"host"}


def test_aws_images_keep_their_code_in_their_layers_with_a_note(engine):
    artifact = build(Function.builtin(get("go")))
    target = docker_target.DockerTarget(timeout_s=30, images_kind="local", delivery="lambda",
                                        status=lambda text: None)
    try:
        image = target.image_for(artifact)
        assert target.code_for(artifact) is not None
        target._images[artifact.task_root] = (artifact, replace(image, id=image.id + "-aws",
                                                                kind="aws"))
        assert target.code_for(artifact) is None
        notes = target.notes(128)
    finally:
        target.close()
    assert len(notes) == 1 and notes[0].startswith("go: AWS's image")
    assert "--delivery host" in notes[0]


def _start_run(output, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--target", "docker", "--images", "local",
         "--memory", "128", "--warm", "0", "--provisioned", "0", "--output", output, "--quiet",
         *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_mid_run_releases_every_device_and_volume(engine, tmp_path):
    output = tmp_path / "terminated.json"
    proc = _start_run(output, "--runtimes", "python,go", "--cold", "50")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if output.exists() and len(json.loads(output.read_text())["samples"]) >= 3:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    samples = json.loads(output.read_text())["samples"]
    assert len(samples) >= 3 and all(s["init_read_mb"] > 0 for s in samples)
    # the autouse fixture checks that no container, volume or device is left


def test_cleanup_removes_what_a_run_killed_mid_invocation_left(engine, fixture_function,
                                                               tmp_path):
    before = code_devices()
    # a function that sleeps: the killed run's container is there, mid-invocation
    proc = _start_run(tmp_path / "killed.json", "--function", fixture_function("timeout"),
                      "--runtime", "python", "--cold", "1", "--timeout", "120")
    deadline = time.monotonic() + 120
    while not docker_plugin.leftovers(engine) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)                         # the invocation is under way
    proc.kill()
    proc.communicate(timeout=60)
    containers = [c.name for c in docker_plugin.leftovers(engine)]
    left_volumes = volumes(engine)
    devices = code_devices() - before
    assert containers and left_volumes and devices, "the killed run left nothing to clean up"
    result = run_cli("cleanup", "--target", "docker")
    assert result.returncode == 0, result.stderr
    for name in containers:
        assert f"removed container {name}" in result.stdout
    for name in left_volumes:
        assert f"removed volume {name}" in result.stdout
    assert docker_plugin.leftovers(engine) == [] and volumes(engine) == []
    assert not code_devices() & devices, result.stdout
