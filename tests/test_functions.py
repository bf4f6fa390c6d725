"""Every runtime's function keeps the same contract (functions/README.md), served by
coldbench's Runtime API through that language's official runtime interface client."""

import pytest

from conftest import CONTRACT
from coldbench.build import Function, build
from coldbench.runtimes import RUNTIMES, get
from coldbench.targets.local.target import LocalTarget

pytestmark = pytest.mark.slow


@pytest.fixture
def target():
    target = LocalTarget(timeout_s=60)
    yield target
    target.close()


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_on_demand_environment(runtime, target):
    artifact = build(Function.builtin(get(runtime)))
    environment = target.start(artifact, 1024, provisioned=False)
    first = environment.invoke({"work": 100})
    second = environment.invoke({"work": 1000})
    third = environment.invoke({})
    environment.close()
    for invoked in (first, second, third):
        assert invoked.error is None, invoked.error
    r1, r2, r3 = first.response, second.response, third.response
    assert r1["runtime"] == runtime and r1["runtime_version"]
    assert (r1["cold"], r2["cold"], r3["cold"]) == (True, False, False)
    assert (r1["invocation"], r2["invocation"], r3["invocation"]) == (1, 2, 3)
    assert r1["instance_id"] == r2["instance_id"] == r3["instance_id"]
    assert len(r1["instance_id"]) == 16
    assert r1["initialization_type"] == "on-demand"
    assert r1["digest"] == CONTRACT["digests"]["100"]
    assert r2["digest"] == CONTRACT["digests"]["1000"]
    assert (r3["work"], r3["digest"]) == (0, "")
    assert first.init_ms > 0 and second.init_ms is None and third.init_ms is None
    assert all(i.duration_ms > 0 for i in (first, second, third))
    assert 0 < first.max_memory_mb <= 1024


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_provisioned_environment_is_not_cold(runtime, target):
    artifact = build(Function.builtin(get(runtime)))
    environment = target.start(artifact, 1024, provisioned=True)
    assert environment.control_plane.api.initialized.is_set()          # init done before the request
    invoked = environment.invoke({"work": 3})
    environment.close()
    assert invoked.error is None, invoked.error
    assert invoked.init_ms is None
    assert invoked.response["cold"] is False
    assert invoked.response["invocation"] == 1
    assert invoked.response["initialization_type"] == "provisioned-concurrency"
    assert invoked.response["digest"] == CONTRACT["digests"]["3"]


def test_another_runtime_instance_is_another_environment(target):
    artifact = build(Function.builtin(get("python")))
    a = target.start(artifact, 256, provisioned=False)
    b = target.start(artifact, 256, provisioned=False)
    ra, rb = a.invoke({}).response, b.invoke({}).response
    assert ra["instance_id"] != rb["instance_id"] and ra["cold"] and rb["cold"]
