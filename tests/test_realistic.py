"""The realistic function set (functions/realistic/): each runtime's function keeps the
contract of functions/README.md, does its init's work (an AWS SDK client, the 1 MB catalogue,
a framework's dependencies) and takes longer to init than the runtime's hello function;
``--function-set`` picks the set on the command line."""

import importlib.util
import json
import statistics
import zipfile

import pytest

from conftest import CONTRACT, ROOT, run_cli
from coldbench.build import Function, build
from coldbench.environments.base import REGION
from coldbench.runtimes import get
from coldbench.workflows.options import parse_runtimes
from coldbench.targets.local.target import LocalTarget

# the set has a function for each language runtime, those of `--runtimes all` (provided
# brings no language of its own)
RUNTIMES = parse_runtimes("all")

REALISTIC = ROOT / "functions" / "realistic"
COLD_STARTS = 3
MEMORY_MB = 1024


def _generator():
    spec = importlib.util.spec_from_file_location("make_catalog", REALISTIC / "make_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def target():
    target = LocalTarget(timeout_s=120)
    yield target
    target.close()


def test_every_runtime_ships_the_generated_catalogue():
    generator = _generator()
    document = generator.render()
    assert 0.9e6 < len(document) < 1.2e6                  # "about 1 MB"
    assert set(generator.COPIES) == set(RUNTIMES)
    for runtime, copy in generator.COPIES.items():
        assert (REALISTIC / runtime / copy).read_bytes() == document, (
            f"{runtime}'s catalog.json differs: run functions/realistic/make_catalog.py")
    assert len(json.loads(document)["products"]) == generator.PRODUCTS


def test_unknown_function_set_is_bad_input():
    for command in (["run", "--quiet"], ["build"], ["profile", "--quiet"]):
        result = run_cli(*command, "--runtimes", "go", "--function-set", "bogus")
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            "coldbench: error: unknown function set 'bogus': choose one of hello, realistic"]
    result = run_cli("run", "--quiet", "--function", ROOT / "functions" / "go",
                     "--runtime", "go", "--function-set", "realistic")
    assert result.returncode == 2 and "exclude each other" in result.stderr


def _cold_start(target, artifact, event):
    environment = target.start(artifact, MEMORY_MB, provisioned=False)
    try:
        first = environment.invoke(event)
        second = environment.invoke({"work": 1000})
    finally:
        environment.close()
    assert first.error is None and second.error is None, (first.error, second.error)
    return first, second


# Builds every runtime's realistic function: minutes on an empty build cache (Rust's AWS
# SDK and Node.js's client addon most), seconds once built.
@pytest.mark.slow
@pytest.mark.heavy_build
@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_realistic_function_keeps_the_contract_and_inits_longer(runtime, target):
    realistic = build(Function.builtin(get(runtime), "realistic"))
    hello = build(Function.builtin(get(runtime)))
    assert realistic.function.name == "realistic" != hello.function.name
    assert realistic.task_root != hello.task_root

    inits = {"realistic": [], "hello": []}
    for round_ in range(COLD_STARTS):          # interleaved, so drift hits both alike
        for name, artifact in (("realistic", realistic), ("hello", hello)):
            cold, warm = _cold_start(target, artifact, {"work": 100})
            inits[name].append(cold.init_ms)
            if name == "realistic" and round_ == 0:
                r1, r2 = cold.response, warm.response
                assert r1["runtime"] == runtime and r1["runtime_version"]
                assert (r1["cold"], r2["cold"]) == (True, False)
                assert (r1["invocation"], r2["invocation"]) == (1, 2)
                assert r1["instance_id"] == r2["instance_id"] and len(r1["instance_id"]) == 16
                assert r1["initialization_type"] == "on-demand"
                assert r1["digest"] == CONTRACT["digests"]["100"]
                assert r2["digest"] == CONTRACT["digests"]["1000"]
                assert cold.init_ms > 0 and warm.init_ms is None
                # what its init did: the whole catalogue parsed, the client's region
                # taken from the environment Lambda sets
                assert r1["catalog_products"] == _generator().PRODUCTS
                assert r1["sdk_region"] == REGION
    assert statistics.median(inits["realistic"]) > statistics.median(inits["hello"]), inits


@pytest.mark.slow
def test_run_measures_the_realistic_set_under_its_own_name(tmp_path):
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "go", "--function-set", "realistic", "--memory",
                     "512", "--cold", "1", "--warm", "1", "--provisioned", "0", "--quiet",
                     "--format", "json", "--output", output)
    assert result.returncode == 0, result.stderr
    samples = json.loads(output.read_text())["samples"]
    assert {s["function"] for s in samples} == {"realistic"}
    assert sorted(s["mode"] for s in samples) == ["cold", "warm"]
    assert "realistic (go)" in result.stdout


@pytest.mark.slow
@pytest.mark.heavy_build
def test_aws_packages_keep_the_locked_dependencies_but_not_the_client():
    from coldbench.targets.aws.package import package

    node = package(build(Function.builtin(get("node"), "realistic")), "x86_64", "nodejs20.x")
    with zipfile.ZipFile(node.path) as archive:
        names = archive.namelist()
        packed = json.loads(archive.read("package-lock.json"))["packages"]
    locked = json.loads((REALISTIC / "node" / "package-lock.json").read_text())["packages"]
    assert "catalog.json" in names and "node_modules/express/package.json" in names
    assert not any(n.startswith("node_modules/aws-lambda-ric/") for n in names)
    assert "node_modules/aws-lambda-ric" not in packed
    for name in ("node_modules/express", "node_modules/@aws-sdk/client-s3"):
        assert packed[name]["version"] == locked[name]["version"]

    java = package(build(Function.builtin(get("java"), "realistic")), "x86_64", "java21")
    with zipfile.ZipFile(java.path) as archive:
        jars = [n.removeprefix("lib/") for n in archive.namelist()]
    for needed in ("coldbench-realistic-", "jackson-databind-", "s3-", "url-connection-client-"):
        assert any(j.startswith(needed) for j in jars), (needed, jars)
    for client_only in ("aws-lambda-java-runtime-interface-client", "aws-lambda-java-serialization",
                        "apache-client", "netty-nio-client"):
        assert not any(j.startswith(client_only) for j in jars), jars
