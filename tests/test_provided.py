"""The provided runtime: a function that brings its own bootstrap, started as Lambda's
provided.al2023 starts it. A shell bootstrap (the built-in function, curl; and one over
bash's /dev/tcp in the CDK example) and a compiled one (a Go program built here from the
standard library alone, as a folder and as a zip), cold and warm, on the local and docker
targets; a bootstrap that is missing or not executable is refused (exit 2)."""

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import run_cli


# A custom runtime in Go with nothing but the standard library: init once, then GET the
# next event, answer it, POST the answer (AWS Lambda Developer Guide, "Building a custom
# runtime for AWS Lambda"). It reports what it was started with.
GO_BOOTSTRAP = r'''
package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
)

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"
	cwd, _ := os.Getwd()
	invocation := 0
	for {
		next, err := http.Get(api + "/invocation/next")
		if err != nil {
			os.Exit(1)
		}
		next.Body.Close()
		invocation++
		answer, _ := json.Marshal(map[string]any{
			"cold":        invocation == 1 && os.Getenv("AWS_LAMBDA_INITIALIZATION_TYPE") != "provisioned-concurrency",
			"invocation":  invocation,
			"handler":     os.Getenv("_HANDLER"),
			"task_root":   os.Getenv("LAMBDA_TASK_ROOT"),
			"cwd":         cwd,
			"runtime_api": os.Getenv("AWS_LAMBDA_RUNTIME_API") != "",
		})
		id := next.Header.Get("Lambda-Runtime-Aws-Request-Id")
		posted, err := http.Post(api+"/invocation/"+id+"/response", "application/json",
			bytes.NewReader(answer))
		if err != nil {
			os.Exit(1)
		}
		posted.Body.Close()
	}
}
'''


@pytest.fixture(scope="module")
def go_function(tmp_path_factory) -> Path:
    """A folder holding a compiled bootstrap, built here."""
    if shutil.which("go") is None:
        pytest.skip("go is not installed")
    source = tmp_path_factory.mktemp("go-source")
    (source / "main.go").write_text(GO_BOOTSTRAP)
    function = tmp_path_factory.mktemp("go-function")
    subprocess.run(["go", "build", "-trimpath", "-o", str(function / "bootstrap"), "main.go"],
                   cwd=source, check=True, env=dict(os.environ, CGO_ENABLED="0"),
                   capture_output=True, timeout=600)
    return function


def zipped(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as package:
        for path in sorted(folder.rglob("*")):
            package.write(path, path.relative_to(folder))   # keeps the file's mode
    return out


def measured(tmp_path: Path, *args) -> list[dict]:
    output = tmp_path / "run.json"
    result = run_cli("run", "--cold", "3", "--warm", "3", "--provisioned", "1",
                     "--memory", "1024", "--work", "1", "--output", output, "--force",
                     "--quiet", *args)
    assert result.returncode == 0, result.stderr
    samples = json.loads(output.read_text())["samples"]
    assert [s["mode"] for s in samples].count("cold") == 3
    assert [s["mode"] for s in samples].count("warm") == 3
    for sample in samples:
        assert sample["error"] is None and not sample["misclassified"], sample
        assert sample["runtime"] == "provided"
    return samples


@pytest.mark.slow
def test_a_compiled_bootstrap_cold_and_warm(go_function, tmp_path):
    samples = measured(tmp_path, "--function", go_function, "--runtime", "provided",
                       "--handler", "my.handler")
    cold = [s for s in samples if s["mode"] == "cold"]
    assert all(s["init_ms"] > 0 for s in cold)


@pytest.mark.slow
def test_a_compiled_bootstrap_in_a_zip(go_function, tmp_path):
    package = zipped(go_function, tmp_path / "function.zip")
    samples = measured(tmp_path, "--function", package, "--runtime", "provided")
    assert {s["function"] for s in samples} == {"function.zip"}


@pytest.mark.slow
def test_started_as_lambda_starts_it(go_function):
    from coldbench.build import Function, build
    from coldbench.runtimes import get
    from coldbench.targets.local.target import LocalTarget

    artifact = build(Function.user(get("provided"), go_function, "my.handler"))
    target = LocalTarget(timeout_s=30)
    try:
        environment = target.start(artifact, 512, provisioned=False)
        answer = environment.invoke({}).response
        environment.close()
    finally:
        target.close()
    assert answer["handler"] == "my.handler" and answer["runtime_api"] is True
    assert answer["task_root"] == str(artifact.task_root) == answer["cwd"]


@pytest.mark.slow
def test_the_shell_bootstrap(tmp_path):
    samples = measured(tmp_path, "--runtimes", "provided")
    assert {s["function"] for s in samples} == {"coldbench"}
    # predicted from Rust's hello function, measured beside it, and Rust's published figure
    run = json.loads((tmp_path / "run.json").read_text())["run"]
    assert run["prediction"]["anchored_on"] == {"provided": "rust"}
    assert "rust 1024 MB" in run["prediction"]["hello_reference"]
    assert all(s.get("predicted_aws_init_ms", 0) > 0 for s in samples if s["mode"] == "cold")


@pytest.mark.slow
def test_without_the_anchors_toolchain_a_bootstrap_is_measured_not_predicted(tmp_path):
    # no cargo on PATH: Rust's hello function, the reference, cannot be built
    cargo = Path(shutil.which("cargo") or "/nonexistent").parent
    if cargo in (Path("/usr/bin"), Path("/bin")):
        pytest.skip("cargo is in the system's own folder, which the run needs on its PATH")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not (Path(p) / "cargo").exists())
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "provided", "--memory", "1024", "--cold", "2",
                     "--warm", "0", "--provisioned", "0", "--output", output, "--quiet",
                     env=os.environ | {"PATH": path})
    assert result.returncode == 0, result.stderr
    assert "no Predicted AWS Init for provided" in result.stderr and "cargo" in result.stderr
    samples = json.loads(output.read_text())["samples"]
    assert len(samples) == 2 and all(s["error"] is None for s in samples)
    assert not any("predicted_aws_init_ms" in s for s in samples)


@pytest.mark.slow
@pytest.mark.docker
def test_both_bootstraps_on_docker(engine, go_function, tmp_path):
    measured(tmp_path, "--target", "docker", "--images", "local", "--runtimes", "provided")
    measured(tmp_path, "--target", "docker", "--images", "local",
             "--function", go_function, "--runtime", "provided")


@pytest.mark.slow
def test_a_bootstrap_missing_or_not_executable_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "main.sh").write_text("echo hi\n")
    not_executable = tmp_path / "not-executable"
    not_executable.mkdir()
    (not_executable / "bootstrap").write_text("#!/bin/sh\n")
    (not_executable / "bootstrap").chmod(0o644)
    bad_zip = zipped(not_executable, tmp_path / "bad.zip")
    for function, words in ((empty, "no file named bootstrap"),
                            (not_executable, "not executable"),
                            (bad_zip, "not executable")):
        output = tmp_path / f"{function.name}.json"
        result = run_cli("run", "--function", function, "--runtime", "provided",
                         "--cold", "1", "--output", output)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], result.stderr
        assert not output.exists()


def test_not_in_all():
    from coldbench.workflows.options import parse_runtimes
    assert "provided" not in parse_runtimes("all")
    assert parse_runtimes("provided") == ["provided"]
