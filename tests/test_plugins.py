"""A runtime added by an entry point alone. tests/plugins/coldbench-shell-runtime is a
package of its own: a shell-script custom runtime on provided.al2023 (a bootstrap that
loops on the Runtime API with curl, the handler a shell function), whose only link to
coldbench is its `coldbench.runtimes` entry point. Installed with pip into a folder of its
own and put on PYTHONPATH, with no change to coldbench, it runs wherever coldbench's own
runtimes run: the local target, the docker target, `coldbench serve`, and `--target aws`
(packaged as Lambda expects it, deployed to and invoked through local stand-ins)."""

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import zipfile

import pytest

from aws_standin import DUMMY_ENVIRONMENT, Serve, moto_behind_standin
from conftest import CONTRACT, ROOT, invoke_client, run_cli

PLUGIN = ROOT / "tests" / "plugins" / "coldbench-shell-runtime"
BUILTIN = ["python", "node", "go", "java", "rust", "provided"]


@pytest.fixture(scope="module")
def with_plugin(tmp_path_factory) -> dict:
    """The environment of a coldbench process that has the plug-in, installed offline into
    a folder of its own (built from a copy: pip builds in the source folder)."""
    work = tmp_path_factory.mktemp("shell-plugin")
    source = work / "source"
    shutil.copytree(PLUGIN, source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = work / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def python(env: dict, code: str, timeout: float = 600) -> str:
    """What ``code`` prints, run by a fresh Python with ``env``."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_entry_point_alone_adds_the_runtime_after_coldbench_s_own(with_plugin):
    listing = "from coldbench.runtimes import RUNTIMES; print(' '.join(RUNTIMES))"
    assert python(with_plugin, listing).split() == [*BUILTIN, "shell"]
    assert python(dict(os.environ), listing).split() == BUILTIN   # not kept installed
    usage = run_cli("run", "--help", env=with_plugin)
    assert "python,node,go,java,rust,provided,shell" in usage.stdout.replace("\n", "").replace(" ", "")


@pytest.mark.slow
def test_on_the_local_target(with_plugin, tmp_path):
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "shell", "--memory", "256", "--cold", 3, "--warm", 3,
                     "--provisioned", 2, "--work", 10, "--output", output, "--quiet",
                     env=with_plugin)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].split()[:3] == ["shell", "256", "MB"]
    samples = json.loads(output.read_text())["samples"]
    assert [s["mode"] for s in samples].count("cold") == 3 and len(samples) == 8
    assert not [s for s in samples if s["error"] or s["misclassified"]]
    assert all(s["init_ms"] > 0 for s in samples if s["mode"] == "cold")


@pytest.mark.slow
def test_its_function_keeps_the_contract(with_plugin):
    # every invocation as the function answered it, through the target interface
    answers = json.loads(python(with_plugin, """
        import json
        from coldbench import targets
        from coldbench.build import Function, build
        from coldbench.workflows.options import RunOptions
        from coldbench.runtimes import get

        artifact = build(Function.builtin(get("shell")))
        target = targets.make("local", RunOptions(runtimes=["shell"], timeout_s=60))
        answers = []
        try:
            for provisioned in (False, True):
                environment = target.start(artifact, 1024, provisioned)
                for event in ({"work": 100}, {"work": 1000}, {}):
                    invoked = environment.invoke(event)
                    answers.append([invoked.response, invoked.error, invoked.init_ms])
                environment.close()
        finally:
            target.close()
        print(json.dumps(answers))
        """))
    assert [error for _, error, _ in answers] == [None] * 6
    on_demand, provisioned = [r for r, _, _ in answers[:3]], [r for r, _, _ in answers[3:]]
    assert [r["cold"] for r in on_demand] == [True, False, False]
    assert [r["cold"] for r in provisioned] == [False, False, False]
    assert [r["invocation"] for r in on_demand + provisioned] == [1, 2, 3] * 2
    assert {r["initialization_type"] for r in on_demand} == {"on-demand"}
    assert {r["initialization_type"] for r in provisioned} == {"provisioned-concurrency"}
    assert len({r["instance_id"] for r in on_demand}) == 1
    assert len(on_demand[0]["instance_id"]) == 16
    assert on_demand[0]["instance_id"] != provisioned[0]["instance_id"]
    for responses in (on_demand, provisioned):
        assert responses[0]["digest"] == CONTRACT["digests"]["100"]
        assert responses[1]["digest"] == CONTRACT["digests"]["1000"]
        assert (responses[2]["work"], responses[2]["digest"]) == (0, "")
    assert on_demand[0]["runtime"] == "shell" and on_demand[0]["runtime_version"]
    assert answers[0][2] > 0 and answers[1][2] is None and answers[3][2] is None


@pytest.mark.slow
def test_under_coldbench_serve(with_plugin):
    serve = Serve("--runtimes", "shell", env={"PYTHONPATH": with_plugin["PYTHONPATH"]})
    try:
        lam = invoke_client(serve.url)
        answers = []
        for work in (100, 3):
            response = lam.invoke(FunctionName="coldbench-shell-256", LogType="Tail",
                                  Payload=json.dumps({"work": work}).encode())
            answers.append((json.loads(response["Payload"].read()),
                            base64.b64decode(response["LogResult"]).decode()))
    finally:
        serve.close()
    (first, first_log), (second, second_log) = answers
    assert first["cold"] is True and first["digest"] == CONTRACT["digests"]["100"]
    assert second["cold"] is False and second["digest"] == CONTRACT["digests"]["3"]
    assert second["instance_id"] == first["instance_id"] and second["invocation"] == 2
    assert "Init Duration" in first_log and "Init Duration" not in second_log


@pytest.mark.slow
def test_packaged_for_lambda_as_a_bootstrap_with_its_scripts(with_plugin):
    paths = json.loads(python(with_plugin, """
        import json
        from coldbench.build import Function, build
        from coldbench.runtimes import get
        from coldbench.targets.aws.package import package

        artifact = build(Function.builtin(get("shell")))
        print(json.dumps({arch: str(package(artifact, arch, "provided.al2023").path)
                          for arch in ("x86_64", "arm64")}))
        """))
    for path in paths.values():
        with zipfile.ZipFile(path) as archive:
            assert sorted(archive.namelist()) == ["bootstrap", "function.sh"]
            mode = stat.S_IMODE(archive.getinfo("bootstrap").external_attr >> 16)
            assert mode == 0o755
            assert archive.read("bootstrap").startswith(b"#!/bin/bash\n")
            assert b"/2018-06-01/runtime" in archive.read("bootstrap")


@pytest.mark.aws
@pytest.mark.slow
def test_on_the_aws_target_against_local_stand_ins(with_plugin, tmp_path):
    # moto's server plays Lambda's control plane, `coldbench serve` its invocations
    environment = {**with_plugin, **DUMMY_ENVIRONMENT}
    with moto_behind_standin() as (moto, standin):
        serve = Serve("--runtimes", "shell", "--control-plane-url", standin.url,
                      "--idle-timeout", "30", env=environment)
        try:
            result = run_cli("run", "--target", "aws", "--region", "us-east-1",
                             "--runtimes", "shell", "--memory", "128", "--cold", 2, "--warm", 2,
                             "--endpoint-url", standin.url, "--invoke-endpoint-url", serve.url,
                             "--work", 10, "--yes", "--output", tmp_path / "run.json",
                             env=environment)
        finally:
            serve.close()
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "run.json").read_text())
    assert [(p["lambda_runtime"], p["architecture"]) for p in document["run"]["packages"]] == [
        ("provided.al2023", "x86_64")]
    samples = document["samples"]
    assert [s["mode"] for s in samples].count("cold") == 2 and len(samples) == 4
    assert not [s for s in samples if s["error"] or s["misclassified"]]
    assert all(s["init_ms"] > 0 for s in samples if s["mode"] == "cold")


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("api", ["coldbench", "rie"])
def test_on_the_docker_target_in_local_images(with_plugin, tmp_path, api):
    from coldbench.errors import EnvironmentUnavailable
    from coldbench.targets.docker.target import engine

    try:
        engine().close()
    except EnvironmentUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    output = tmp_path / "run.json"
    # under the emulator the default provisioned samples are left out, with a note
    result = run_cli("run", "--target", "docker", "--images", "local", "--api", api,
                     "--runtimes", "shell", "--memory", "256", "--cold", 2, "--warm", 2,
                     "--work", 10, "--output", output, "--quiet", env=with_plugin)
    assert result.returncode == 0, result.stderr
    results = json.loads(output.read_text())
    samples = results["samples"]
    assert not [s for s in samples if s["error"] or s["misclassified"]]
    modes = [s["mode"] for s in samples]
    assert modes.count("cold") == 2 and modes.count("warm") == 2
    assert modes.count("provisioned") == (6 if api == "coldbench" else 0)
    assert ("note: --api rie: no provisioned samples" in result.stderr) == (api == "rie")
    image, = results["run"]["container_images"]
    assert image["runtime_version"].startswith("bash ")


@pytest.mark.slow
def test_its_own_profile_probe_splits_its_init(with_plugin, tmp_path):
    """The runtime names its probe (``Runtime.probe``), a module of the plug-in: `coldbench
    profile` reads its init with it (bash's trace), not as one item."""
    output = tmp_path / "profile.json"
    result = run_cli("profile", "--runtimes", "shell", "--samples", 1, "--output", output,
                     env=with_plugin)
    assert result.returncode == 0, result.stderr
    [profile] = json.loads(output.read_text())["profiles"]
    assert profile["means"] == "bash xtrace (BASH_ENV: set -x, PS4 with EPOCHREALTIME)"
    parts = {part["part"]: part["ms"] for part in profile["parts"]}
    # the function's part is its script's init, timed by the trace; the runtime's part is
    # the rest of Init Duration (on a busy machine, clocks apart, it may round to nothing)
    assert parts["function"] > 0 and parts["runtime"] >= 0 and parts["client"] is None, parts
    assert profile["tree"]["children"][2]["children"][0]["name"] == "function.sh (sourced)"
