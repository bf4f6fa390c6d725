"""How a Python function's bytecode reaches Lambda (``--python-bytecode``): the build leaves
the function's own and its dependencies' .pyc valid, stale or absent, the runtime client's
valid in every mode; a function importing a dependency inits with more CPU when its
bytecode is stale or absent than when it is valid; the results say which was used."""

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from coldbench import build, runtimes
from coldbench.model import median
from coldbench.model.options import RunOptions
from coldbench.runtimes.python import ZIP_EPOCH
from coldbench.workflows.options import functions
from conftest import run_cli

# A function importing a pip-installed dependency (pure Python, pinned), as deployment
# tools package one
APP = '''
import platform
import secrets

import requests

INSTANCE_ID = secrets.token_hex(8)
invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    return {"runtime": "python", "runtime_version": platform.python_version(),
            "cold": invocations == 1, "instance_id": INSTANCE_ID,
            "invocation": invocations, "initialization_type": "on-demand",
            "work": 0, "digest": requests.__version__}
'''
REQUIREMENTS = "requests==2.32.3\n"


@pytest.fixture(scope="module")
def function_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("functions") / "uses-requests"
    folder.mkdir()
    (folder / "app.py").write_text(APP)
    (folder / "requirements.txt").write_text(REQUIREMENTS)
    return folder


def bytecode_states(task_root: Path, top: str) -> dict[str, int]:
    """For every .py under ``task_root/top`` (a folder or a module), how many are in each
    state: "valid" (Python uses the .pyc: its header records the source's date and size),
    "stale" (it does not), "hash" (a hash-based .pyc) or "none" (no .pyc)."""
    path = task_root / top
    found: dict[str, int] = {}
    for source in path.rglob("*.py") if path.is_dir() else [path]:
        # the build's interpreter's, whatever its version (cpython-312 for "python")
        compiled = sorted(source.parent.glob(f"__pycache__/{source.stem}.cpython-*.pyc"))
        if not compiled:
            state = "none"
        else:
            header = compiled[0].read_bytes()[:16]
            stat = source.stat()
            if struct.unpack("<I", header[4:8])[0] & 1:
                state = "hash"
            elif struct.unpack("<II", header[8:16]) == (int(stat.st_mtime) & 0xFFFFFFFF,
                                                          stat.st_size & 0xFFFFFFFF):
                state = "valid"
            else:
                state = "stale"
        found[state] = found.get(state, 0) + 1
    return found


@pytest.mark.parametrize("mode", ["valid", "stale", "none"])
def test_the_build_delivers_the_functions_bytecode_as_asked_and_the_clients_valid(
        function_dir, mode):
    runtime = runtimes.get("python").with_bytecode(mode)
    artifact = build.build(build.Function.user(runtime, function_dir, None))
    root = artifact.task_root
    assert bytecode_states(root, "awslambdaric") == {"valid": len(list((root / "awslambdaric").rglob("*.py")))}
    for own in ("requests", "urllib3", "app.py"):
        states = bytecode_states(root, own)
        assert set(states) == {mode}, (own, states)
    if mode == "stale":          # dated as the deployment tools' zips date every file
        assert int((root / "requests" / "__init__.py").stat().st_mtime) == ZIP_EPOCH
    # each mode is a build of its own
    assert root != build.build(build.Function.user(
        runtimes.get("python").with_bytecode("valid" if mode != "valid" else "stale"),
        function_dir, None)).task_root


def test_a_run_builds_its_python_functions_as_its_options_ask(function_dir):
    """The run's request says how each Python function is built; other runtimes are
    built as they are."""
    asked = RunOptions(runtimes=["python", "node"], python_bytecode="none")
    built = {f.runtime.name: f.runtime.build_settings() for f in functions(asked)}
    assert built == {"python": {"python_bytecode": "none"}, "node": {}}
    [mine] = functions(RunOptions(runtimes=["python3.13"], function_dir=function_dir))
    assert (mine.runtime.name, mine.runtime.build_settings()) == (
        "python3.13", {"python_bytecode": "stale"})


@pytest.mark.slow
def test_without_the_option_build_and_run_deliver_the_bytecode_stale(function_dir, tmp_path):
    """Stale, as SAM, the CDK and the Serverless Framework deliver it, is what a function
    gets when --python-bytecode is not given."""
    built = run_cli("build", "--function", function_dir, "--runtimes", "python")
    assert built.returncode == 0, built.stderr
    task_root = Path(built.stdout.split()[-1])
    assert set(bytecode_states(task_root, "app.py")) == {"stale"}
    output = tmp_path / "out.json"
    ran = run_cli("run", "--function", function_dir, "--runtime", "python", "--handler",
                  "app.handler", "--memory", "128", "--cold", "1", "--warm", "0",
                  "--provisioned", "0", "--output", output, "--quiet", timeout=900)
    assert ran.returncode == 0, ran.stderr
    [described] = json.loads(output.read_text())["run"]["functions"]
    assert described["python_bytecode"] == "stale"


@pytest.mark.slow
def test_a_local_image_compiles_the_clients_bytecode_and_not_the_functions(function_dir,
                                                                          tmp_path):
    """What the docker target's image of a Python function does once its task root is in
    (``ImageRecipe.finish``), run here on a task root copied in as the image gets it
    (without __pycache__): the client's distributions compiled, as Lambda's runtime brings
    them; the function's own bytecode, stale in the build, arrives as none."""
    runtime = runtimes.get("python")
    artifact = build.build(build.Function.user(runtime, function_dir, None))
    task_root = tmp_path / "task"
    shutil.copytree(artifact.task_root, task_root, ignore=shutil.ignore_patterns("__pycache__"))
    finish = runtime.image.finish.format(task_root=task_root, executable=runtime.interpreter())
    subprocess.run(["/bin/sh", "-c", finish], check=True)
    for client in ("awslambdaric", "simplejson", "snapshot_restore_py.py"):
        assert set(bytecode_states(task_root, client)) == {"valid"}, client
    for own in ("requests", "urllib3", "app.py"):
        assert set(bytecode_states(task_root, own)) == {"none"}, own


def test_an_unknown_mode_is_refused_with_status_2(function_dir):
    result = run_cli("run", "--function", function_dir, "--runtime", "python", "--memory",
                     "128", "--cold", "1", "--warm", "0", "--provisioned", "0",
                     "--python-bytecode", "fresh")
    assert result.returncode == 2
    assert "fresh" in result.stderr


def init_cpu(function_dir: Path, mode: str, output: Path) -> tuple[float, dict]:
    result = run_cli("run", "--function", function_dir, "--runtime", "python", "--memory",
                     "128", "--cold", "6", "--warm", "0", "--provisioned", "0",
                     "--python-bytecode", mode, "--output", output, "--quiet", timeout=900)
    assert result.returncode == 0, result.stderr
    document = json.loads(output.read_text())
    samples = [s for s in document["samples"] if s["mode"] == "cold" and s["error"] is None]
    assert len(samples) == 6
    return (median(s["init_cpu_user_ms"] + s["init_cpu_system_ms"] for s in samples),
            document["run"])


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not Path("/dev/loop-control").exists(),
                    reason="the Lambda-shaped code path needs root and /dev/loop-control")
def test_stale_or_absent_bytecode_costs_init_cpu_and_the_results_say_which(function_dir,
                                                                            tmp_path):
    measured = {mode: init_cpu(function_dir, mode, tmp_path / f"{mode}.json")
                for mode in ("valid", "stale", "none")}
    for mode, (_, run) in measured.items():
        [described] = run["functions"]
        assert described["python_bytecode"] == mode
    valid = measured["valid"][0]
    # compiling requests and urllib3 from source: about 100 ms of CPU here
    assert measured["stale"][0] >= valid + 30, measured
    assert measured["none"][0] >= valid + 30, measured
