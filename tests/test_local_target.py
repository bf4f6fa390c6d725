"""The local target measured for real: every runtime, every mode, two memory sizes, with
Lambda's memory and CPU limits applied through cgroups."""

import json
import statistics

import pytest

from coldbench.environments import cgroups
from coldbench.build import Function, build
from coldbench.workflows.options import RunOptions
from coldbench.workflows.run import run
from coldbench.runtimes import get
from coldbench.workflows.options import parse_runtimes
from coldbench.analysis.summary import summarize_samples
from coldbench.targets.local.target import LocalTarget
from coldbench.results.schema import SCHEMA_VERSION

pytestmark = pytest.mark.slow

MEMORY = [128, 1024]
# what `--runtimes all` measures: the language runtimes (provided's bash function, whose
# SHA-256 rounds are processes, has its own tests: test_provided.py, test_functions.py)
RUNTIMES = parse_runtimes("all")


@pytest.fixture(scope="module")
def every_runtime(tmp_path_factory):
    output = tmp_path_factory.mktemp("run") / "all.json"
    options = RunOptions(runtimes=RUNTIMES, memory=MEMORY, cold=3, warm=3,
                         provisioned=2, timeout_s=120, output=output)
    return run(options), output


def test_every_configuration_and_mode_is_sampled(every_runtime):
    results, _ = every_runtime
    for runtime in RUNTIMES:
        for memory in MEMORY:
            mine = [s for s in results.samples if (s.runtime, s.memory_mb) == (runtime, memory)]
            modes = [s.mode for s in mine]
            assert (modes.count("cold"), modes.count("warm"), modes.count("provisioned")) == (3, 3, 2)
            errors = [s.error for s in mine if s.error]
            assert errors == [], f"{runtime} {memory}: {errors}"


def test_init_is_measured_on_cold_samples_only(every_runtime):
    results, _ = every_runtime
    for s in results.samples:
        if s.mode == "cold":
            assert s.init_ms > 0 and s.e2e_ms > s.init_ms + s.duration_ms
        else:
            assert s.init_ms is None
        assert s.duration_ms > 0 and s.billed_ms >= s.duration_ms


def test_the_function_reports_cold_exactly_on_cold_samples(every_runtime):
    results, _ = every_runtime
    assert results.samples and all(s.cold is (s.mode == "cold") for s in results.samples)
    assert not any(s.misclassified for s in results.samples)
    # warm samples are served by one environment that has already served
    for runtime in RUNTIMES:
        warm = [s for s in results.samples if s.runtime == runtime and s.mode == "warm"
                and s.memory_mb == 1024]
        assert len({s.instance_id for s in warm}) == 1
        assert [s.invocation for s in warm] == [2, 3, 4]


def test_warm_is_faster_than_cold_for_every_runtime(every_runtime):
    results, _ = every_runtime
    for config in summarize_samples(results.samples):
        assert config.modes["warm"].figure.p50 < config.modes["cold"].figure.p50, config.label


def test_peak_memory_is_measured_within_the_limit(every_runtime):
    results, _ = every_runtime
    for s in results.samples:
        assert 0 < s.max_memory_mb <= s.memory_mb, (s.runtime, s.memory_mb, s.max_memory_mb)
    java = [s.max_memory_mb for s in results.samples if s.runtime == "java"]
    go = [s.max_memory_mb for s in results.samples if s.runtime == "go"]
    assert statistics.median(java) > 2 * statistics.median(go)   # a JVM is not a Go binary


def test_results_file_holds_every_sample_and_the_runs_metadata(every_runtime):
    results, output = every_runtime
    document = json.loads(output.read_text())
    assert document["schema_version"] == SCHEMA_VERSION
    assert len(document["samples"]) == len(results.samples) == 5 * 2 * 8
    run_ = document["run"]
    assert run_["target"] == "local" and run_["cpu_model"] == "lambda"
    assert set(run_["runtime_versions"]) == set(RUNTIMES)
    assert run_["started_at"] and run_["ended_at"] and run_["cpu"]
    assert {f["runtime"] for f in run_["functions"]} == set(RUNTIMES)


def test_memory_limit_is_the_configured_size():
    target = LocalTarget(timeout_s=30)
    try:
        environment = target.start(build(Function.builtin(get("python"))), 200, provisioned=True)
        group = environment.sandbox.cgroup
        limit_file = group.memory_dir / (
            "memory.limit_in_bytes" if group.version == "v1" else "memory.max")
        assert int(limit_file.read_text()) == 200 * 1024 * 1024
        pid = environment.sandbox.launcher.pid
        assert pid in group.pids()
    finally:
        target.close()


def test_cpu_share_follows_memory_after_init():
    """At 128 MB a function gets 128/1769 of a vCPU, at 1769 MB one vCPU: the quota is set
    once init is done, the kernel throttles the small one, and the same work takes several
    times longer there."""
    artifact = build(Function.builtin(get("python")))
    target = LocalTarget(timeout_s=60)
    durations, quotas, throttled = {}, {}, {}
    try:
        for memory in (128, 1769):
            environment = target.start(artifact, memory, provisioned=True)
            environment.invoke({"work": 0})
            # ~30 ms of CPU: more than four of 128 MB's 7.2 ms quotas, so however the work
            # falls across the 100 ms periods it waits out at least three of them
            durations[memory] = environment.invoke({"work": 10000}).duration_ms
            group = environment.sandbox.cgroup
            if group.version == "v1":
                quotas[memory] = int((group.cpu_dir / "cpu.cfs_quota_us").read_text())
            else:
                quotas[memory] = int((group.cpu_dir / "cpu.max").read_text().split()[0])
            stat = dict(line.split() for line in (group.cpu_dir / "cpu.stat").read_text().splitlines())
            throttled[memory] = int(stat["nr_throttled"])
            environment.close()
    finally:
        target.close()
    assert quotas == {128: int(128 / 1769 * 100_000), 1769: 100_000}
    assert throttled[128] > 0
    assert durations[128] > 3 * durations[1769], durations


def test_proportional_cpu_model_throttles_init_too():
    artifact = build(Function.builtin(get("python")))
    init = {}
    for model in ("lambda", "proportional"):
        target = LocalTarget(timeout_s=60, cpu_model=model)
        try:
            init[model] = statistics.median(
                target.start(artifact, 128, provisioned=False).invoke({}).init_ms
                for _ in range(3))
        finally:
            target.close()
    assert init["proportional"] > 3 * init["lambda"], init


def test_capped_cpu_share_is_said():
    target = LocalTarget(timeout_s=10)
    share = cgroups.CpuShare.for_memory(10240)
    assert share.lambda_vcpus == pytest.approx(10240 / 1769)   # 5.79: "up to 6 vCPUs"
    if cgroups.host_cpus() < 6:
        assert share.capped and target.notes(10240)
        assert "capped" in target.notes(10240)[0]
    assert target.notes(128) == []
