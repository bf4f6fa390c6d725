"""The docker target against the real engine: every runtime in containers under both
control planes, Lambda's memory limit really applied, failures as samples, nothing left
behind, and images built once."""

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from coldbench.targets import images
from coldbench.build import Function, build
from coldbench.environments import delivery
from coldbench.workflows.options import RunOptions
from coldbench.workflows.run import run
from coldbench.runtimes import RUNTIMES, get
from coldbench.targets.docker import plugin as docker_plugin
from coldbench.targets.docker import target as docker_target
from conftest import run_cli

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MEMORY = [128, 1024]


@pytest.fixture(autouse=True)
def no_container_left(engine):
    """Every test leaves none of its session's containers behind (found by label)."""
    yield
    left = [c.name for c in docker_plugin.leftovers(engine)]
    assert not left, f"containers left behind: {left}"


def docker_options(api, output=None, **kwargs) -> RunOptions:
    return RunOptions(target="docker", output=output,
                      target_options={"api": api, "images": "local"}, **kwargs)


@pytest.fixture(scope="module", params=["coldbench", "rie"])
def every_runtime(request, engine, tmp_path_factory):
    api = request.param
    output = tmp_path_factory.mktemp("run") / f"{api}.json"
    options = docker_options(api, output, runtimes=list(RUNTIMES), memory=MEMORY, cold=2,
                             warm=2, provisioned=1 if api == "coldbench" else 0,
                             timeout_s=120)
    return api, run(options), output


def test_every_runtime_runs_cold_and_warm_at_both_sizes(every_runtime):
    api, results, _ = every_runtime
    for runtime in RUNTIMES:
        for memory in MEMORY:
            mine = [s for s in results.samples if (s.runtime, s.memory_mb) == (runtime, memory)]
            modes = [s.mode for s in mine]
            assert modes.count("cold") == 2 and modes.count("warm") == 2, (runtime, memory)
            assert modes.count("provisioned") == (1 if api == "coldbench" else 0)
            errors = [s.error for s in mine if s.error]
            assert errors == [], f"{api} {runtime} {memory}: {errors}"


def test_the_function_sees_cold_exactly_on_cold_samples(every_runtime):
    _, results, _ = every_runtime
    assert results.samples and all(s.cold is (s.mode == "cold") for s in results.samples)
    for runtime in RUNTIMES:
        warm = [s for s in results.samples if s.runtime == runtime and s.mode == "warm"
                and s.memory_mb == 1024]
        assert len({s.instance_id for s in warm}) == 1
        assert [s.invocation for s in warm] == [2, 3]


def test_init_is_measured_only_where_coldbench_clocks_it(every_runtime):
    api, results, _ = every_runtime
    for s in results.samples:
        if api == "coldbench" and s.mode == "cold":
            assert 0 < s.init_ms < s.e2e_ms
        else:
            assert s.init_ms is None          # the emulator folds init into the invocation
        assert s.duration_ms > 0


def test_container_start_is_recorded_on_the_sample_that_started_it(every_runtime):
    api, results, _ = every_runtime
    for s in results.samples:
        if s.mode == "warm":
            assert "container_start_ms" not in s.extra
            continue
        start = s.extra["container_start_ms"]
        assert start > 0
        if s.mode == "cold":              # provisioned: started before the request
            assert start < s.e2e_ms
        if api == "rie":                 # start -> first response covers init and invoke
            assert s.duration_ms < s.extra["first_response_ms"] < s.e2e_ms


def test_peak_memory_is_read_from_the_container(every_runtime):
    _, results, _ = every_runtime
    for s in results.samples:
        assert 0 < s.max_memory_mb < s.memory_mb, (s.runtime, s.memory_mb, s.max_memory_mb)
    java = [s.max_memory_mb for s in results.samples if s.runtime == "java"]
    go = [s.max_memory_mb for s in results.samples if s.runtime == "go"]
    assert statistics.median(java) > 2 * statistics.median(go)


def test_results_name_the_images_and_the_control_plane(every_runtime):
    api, _, output = every_runtime
    run_ = json.loads(output.read_text())["run"]
    assert run_["target"] == "docker" and run_["api"] == api and run_["images"] == "local"
    used = {i["runtime"]: i for i in run_["container_images"]}
    assert set(used) == set(RUNTIMES)
    for image in used.values():
        assert image["id"].startswith("sha256:") and image["kind"] == "local"
        assert image["os"].startswith("Debian GNU/Linux") and "GLIBC" in image["libc"]
        assert image["rie"].endswith(f"@{images.rie.VERSION}")
    # the runtimes the task roots were built for: Python's major.minor, Java's major, and
    # the very Node.js binary
    host = run_["runtime_versions"]
    python = re.search(r"\d+\.\d+", host["python"])[0]
    assert used["python"]["runtime_version"].startswith(f"Python {python}.")
    assert host["node"] == f"Node.js {used['node']['runtime_version']}"
    java = re.search(r"\d+", host["java"])[0]
    assert used["java"]["runtime_version"].startswith(f'openjdk version "{java}.')
    assert ("rie" in run_) is (api == "rie")


def test_memory_and_cpu_limits_are_those_of_the_memory_size(engine):
    artifact = build(Function.builtin(get("python")))
    target = docker_target.DockerTarget(timeout_s=60, images_kind="local")
    try:
        environment = target.start(artifact, 200, provisioned=True)
        host = engine.containers.get(environment.sandbox.container.id).attrs["HostConfig"]
        assert host["Memory"] == host["MemorySwap"] == 200 * 1024 * 1024
        assert host["NetworkMode"] == "none"
        group = environment.sandbox.cgroup
        limit = group.memory_dir / ("memory.limit_in_bytes" if group.version == "v1"
                                    else "memory.max")
        assert int(limit.read_text()) == 200 * 1024 * 1024
        # the "lambda" CPU model: the share applies once init is over (provisioned: now)
        quota = (group.cpu_dir / "cpu.cfs_quota_us").read_text() if group.version == "v1" \
            else (group.cpu_dir / "cpu.max").read_text().split()[0]
        assert int(quota) == int(200 / 1769 * 100_000)
        assert environment.invoke({"work": 1}).response["cold"] is False
    finally:
        target.close()


def test_the_memory_limit_is_really_applied(fixture_function, tmp_path):
    """512 MB do not fit in 128 MB (out of memory) but fit in 1024 MB, under both planes."""
    for api in ("coldbench", "rie"):
        output = tmp_path / f"oom-{api}.json"
        result = run_cli("run", "--target", "docker", "--images", "local", "--api", api,
                         "--function", fixture_function("oom"), "--runtime", "python",
                         "--memory", "128,1024", "--cold", 1, "--warm", 1, "--provisioned", 0,
                         "--timeout", 30, "--output", output, "--quiet")
        samples = json.loads(output.read_text())["samples"]
        small = [s for s in samples if s["memory_mb"] == 128 and s["mode"] == "cold"]
        large = [s for s in samples if s["memory_mb"] == 1024]
        assert small and all(s["error"]["type"] == "Runtime.OutOfMemory" for s in small), small
        assert large and all(s["error"] is None for s in large), large
        assert all(s["max_memory_mb"] > 512 for s in large)
        assert result.returncode == 1, result.stderr


@pytest.mark.parametrize("api", ["coldbench", "rie"])
@pytest.mark.parametrize("name, error_type, phase", [
    ("init_error", "RuntimeError", "init"),
    ("handler_error", "ValueError", "invoke"),
    ("timeout", "Sandbox.Timedout", "invoke"),
    ("crash", "Runtime.ExitError", "invoke"),
])
def test_each_failure_is_a_sample_with_its_error(fixture_function, tmp_path, api, name,
                                                  error_type, phase):
    output = tmp_path / f"{name}.json"
    result = run_cli("run", "--target", "docker", "--images", "local", "--api", api,
                     "--function", fixture_function(name), "--runtime", "python",
                     "--memory", "256", "--cold", 1, "--warm", 1, "--provisioned", 0,
                     "--timeout", 2, "--output", output, "--quiet")
    assert result.returncode == 1, result.stderr
    cold = [s for s in json.loads(output.read_text())["samples"] if s["mode"] == "cold"]
    assert cold and all((s["error"]["type"], s["error"]["phase"]) == (error_type, phase)
                        for s in cold), cold


def test_a_container_that_cannot_start_is_an_error_sample(engine):
    from coldbench.measure.modes import Config, Measurement, Plan

    artifact = build(Function.builtin(get("go")))
    target = docker_target.DockerTarget(timeout_s=30, images_kind="local")
    samples = []
    try:
        image = target.image_for(artifact)        # then an image the engine does not have
        target._images[artifact.task_root] = (artifact, replace(image, id="sha256:" + "0" * 64))
        Measurement(target, [Config(artifact, 128)], Plan(cold=2, warm=0, provisioned=0,
                                                          event={}), samples.append).run()
    finally:
        target.close()
    assert len(samples) == 2
    assert all(s.error["type"] == "Coldbench.StartFailed" for s in samples)
    assert "No such image" in samples[0].error["message"]


def test_an_engine_that_does_not_answer_is_one_line_and_exit_2(tmp_path):
    result = run_cli("run", "--target", "docker", "--images", "local", "--runtimes", "go",
                     "--quiet", env=dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/none.sock"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no Docker engine answers" in result.stderr
    assert "scripts/start-docker" in result.stderr


def test_provisioned_under_the_emulator_is_refused():
    result = run_cli("run", "--target", "docker", "--images", "local", "--api", "rie",
                     "--runtimes", "go", "--provisioned", 1, "--quiet")
    assert result.returncode == 2 and "--provisioned 0" in result.stderr


def _start_run(output, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--target", "docker", "--images", "local",
         "--runtimes", "python,go", "--memory", "128", "--cold", "50", "--warm", "0",
         "--provisioned", "0", "--output", output, "--quiet", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_samples(output, count):
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if output.exists() and len(json.loads(output.read_text())["samples"]) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {count} samples in {output} within 300 s")


def test_an_interrupted_run_removes_its_containers(engine, tmp_path):
    output = tmp_path / "interrupted.json"
    proc = _start_run(output)
    _wait_for_samples(output, 3)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert json.loads(output.read_text())["run"]["ended_at"]
    # the autouse fixture checks that no container is left


def test_cleanup_removes_what_a_killed_run_left(engine, fixture_function, tmp_path):
    # a function that sleeps: the killed run's container is there, mid-invocation
    proc = subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--target", "docker", "--images", "local",
         "--function", fixture_function("timeout"), "--runtime", "python", "--memory", "128",
         "--cold", "1", "--warm", "0", "--provisioned", "0", "--timeout", "120", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not docker_plugin.leftovers(engine) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)
    proc.kill()
    proc.communicate(timeout=60)
    left = docker_plugin.leftovers(engine)
    assert left, "the killed run left no container: the test proves nothing"
    result = run_cli("cleanup")
    assert result.returncode == 0, result.stderr
    assert all(f"removed container {c.name}" in result.stdout for c in left)
    assert docker_plugin.leftovers(engine) == []


def test_images_are_built_once_and_then_reused(engine, tmp_path):
    def ours():
        return sorted(i.id for i in engine.images.list(filters={"label": images.LABEL}))

    options = docker_options("coldbench", runtimes=["python", "rust"], memory=[256], cold=1,
                             warm=0, provisioned=0)
    first = run(replace(options, output=tmp_path / "first.json"))
    before = ours()
    started = time.monotonic()
    second = run(replace(options, output=tmp_path / "second.json"))
    assert ours() == before                     # no image made the second time
    assert time.monotonic() - started < 30
    assert first.run["container_images"] == second.run["container_images"]
    # --rebuild makes the functions' images again, under the same names
    third = run(replace(options, rebuild=True, output=tmp_path / "third.json"))
    made = {(i["runtime"], i["function"]): i for i in third.run["container_images"]}
    for image in second.run["container_images"]:
        again = made[image["runtime"], image["function"]]
        assert again["image"] == image["image"] and again["id"] != image["id"]
    # the replaced images stay, nameless, with their task roots' copies, for cleanup --images
    replaced = {images.image_key(engine.images.get(i["id"])) for i in second.run["container_images"]}
    assert all((images.task_roots_dir() / key).is_dir() for key in replaced)
    assert not any(left.what.startswith("task root copy")
                   for left in docker_plugin.Docker.find_leftovers({}))
    listed = {left.what: left for left in docker_plugin.Docker.find_leftovers({"images": True})}
    for key in replaced:            # removed here one by one: the other images stay for later tests
        assert listed[f"task root copy of image {key}"].remove().startswith("removed")
        assert not (images.task_roots_dir() / key).exists()
        assert not (delivery.images_dir() / f"{docker_target.CODE_IMAGE_PREFIX}{key}.ext4").exists()


def _unreachable_aws_base(monkeypatch, runtime: str, reference: str) -> None:
    """Point ``runtime``'s AWS base image at a registry that refuses at once, on this
    machine: no request leaves it."""
    recipe = get(runtime).image
    monkeypatch.setattr(get(runtime), "image", replace(recipe, aws_base=reference))


def test_aws_images_that_cannot_be_pulled_fall_back_to_local_ones(engine, monkeypatch):
    _unreachable_aws_base(monkeypatch, "go", "127.0.0.1:9/lambda/provided:al2023")
    artifact = build(Function.builtin(get("go")))
    target = docker_target.DockerTarget(timeout_s=30, images_kind="aws", status=lambda text: None)
    try:
        image = target.image_for(artifact)
        notes = target.notes(128)
    finally:
        target.close()
    assert image.kind == "local"
    assert len(notes) == 1 and "cannot pull 127.0.0.1:9/lambda/provided:al2023" in notes[0]
    assert "--images local" in notes[0]


def test_after_one_failed_pull_the_other_aws_images_are_not_tried(engine, monkeypatch):
    tried = []
    _unreachable_aws_base(monkeypatch, "go", "127.0.0.1:9/lambda/provided:al2023")
    _unreachable_aws_base(monkeypatch, "rust", "127.0.0.1:9/lambda/rust:al2023")
    target = docker_target.DockerTarget(timeout_s=30, images_kind="aws", status=tried.append)
    try:
        for runtime in ("go", "rust"):
            assert target.image_for(build(Function.builtin(get(runtime)))).kind == "local"
        notes = target.notes(128)
    finally:
        target.close()
    assert sum("pulling" in line for line in tried) == 1, tried
    # each runtime's note is about its own image: rust's does not quote go's failure
    go_note, rust_note = notes
    assert go_note.startswith("go: ") and "127.0.0.1:9/lambda/provided:al2023" in go_note
    assert rust_note.startswith("rust: ") and "provided" not in rust_note
    assert "no other was tried" in rust_note
