"""The versions Lambda runs: `--runtimes` takes Lambda's identifiers beside the language
names, each runs on a local toolchain of that version (the function says which from
inside), the results and the table say which, and the prediction is anchored on the
published figure of the same identifier with a hello reference of the same version."""

import json
import os
import statistics

import pytest

from conftest import run_cli

from coldbench import build, runtimes, toolchains
from coldbench.errors import MissingToolchain, UsageError
from coldbench.measure.references import reference_functions
from coldbench.model.config import runtime_rank
from coldbench.templates.definition import runtime_for


# -- names ----------------------------------------------------------------------------------

def test_an_identifier_names_a_version_of_its_language():
    python313 = runtimes.get("python3.13")
    assert (python313.name, python313.language, python313.lambda_runtime) == (
        "python3.13", "python", "python3.13")
    assert python313.aws_init_row == "python3.13"
    assert python313.function_dir == runtimes.get("python").function_dir
    assert runtimes.get("python3.13") is python313              # one instance per identifier
    assert runtimes.get("nodejs24.x").language == "node"
    assert runtimes.get("java25").language == "java"


def test_a_languages_name_is_the_version_the_documented_row_names():
    # the documented comparison's rows: Python 3.12, Node.js 20, Java 21
    assert runtimes.get("python3.12") is runtimes.get("python")
    assert runtimes.get("nodejs20.x") is runtimes.get("node")
    assert runtimes.get("java21") is runtimes.get("java")
    assert [runtimes.get(n).lambda_runtime for n in ("python", "node", "java")] == [
        "python3.12", "nodejs20.x", "java21"]


@pytest.mark.parametrize("name", ["python2.7", "dotnet8", "nodejs18", "java"+"8", "ruby3.4"])
def test_an_unknown_identifier_is_refused(name):
    with pytest.raises(UsageError, match=f"unknown runtime '{name}'.*python3.13"):
        runtimes.get(name)


def test_versions_sort_beside_their_language():
    order = sorted(["rust", "java25", "nodejs22.x", "python3.13", "node", "java", "python",
                    "go"], key=runtime_rank)
    assert order == ["python", "python3.13", "node", "nodejs22.x", "go", "java", "java25",
                     "rust"]


def test_an_app_definitions_identifier_runs_as_that_version():
    assert runtime_for("python3.13") == "python3.13"
    assert runtime_for("nodejs24.x") == "nodejs24.x"
    assert runtime_for("java25") == "java25"
    assert runtime_for("python3.12") == "python"          # the documented version
    assert runtime_for("python3.9") == "python"           # a version coldbench does not run


def test_the_variable_that_provides_a_version():
    assert toolchains.variable("python3.13") == "COLDBENCH_PYTHON313"
    assert toolchains.variable("nodejs22.x") == "COLDBENCH_NODEJS22X"
    assert toolchains.variable("java21") == "COLDBENCH_JAVA21"


def test_a_version_has_its_own_hello_reference():
    """A user's function on python3.13 is predicted against the built-in function on
    python3.13, not on python (3.12)."""
    python, python313 = runtimes.get("python"), runtimes.get("python3.13")
    mine = build.Function("mine", python313, build.Function.builtin(python).source.parent
                          / "realistic" / "python", "app.handler")
    found = reference_functions([build.Function.builtin(python), mine])
    assert [(f.runtime.name, f.name) for f in found] == [("python3.13", "coldbench")]


# -- the command line -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["python2.7", "dotnet8"])
def test_cli_refuses_an_unknown_identifier_with_one_line(tmp_path, name):
    output = tmp_path / "out.json"
    result = run_cli("run", "--runtimes", f"python,{name}", "--cold", "1", "--output", output)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and f"unknown runtime '{name}'" in result.stderr
    assert not output.exists()


@pytest.mark.parametrize("identifier, variable, given", [
    ("python3.13", "COLDBENCH_PYTHON313", "/nonexistent/python3.13"),
    ("nodejs22.x", "COLDBENCH_NODEJS22X", "/nonexistent/node"),
    ("java25", "COLDBENCH_JAVA25", "/nonexistent/jdk-25"),
])
def test_cli_names_how_to_provide_a_missing_toolchain(tmp_path, identifier, variable, given):
    output = tmp_path / "out.json"
    result = run_cli("run", "--runtimes", identifier, "--cold", "1", "--output", output,
                     env=os.environ | {variable: given})
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{variable}={given}" in result.stderr and identifier in result.stderr
    assert not output.exists()


def test_a_version_that_is_not_here_names_its_variable(monkeypatch, tmp_path):
    """Nothing to find: no pyenv build, no python3.99 on PATH, not coldbench's own."""
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(MissingToolchain, match=r"COLDBENCH_PYTHON399=/path/to/python3\.99"):
        toolchains.python("python3.99")


def test_an_override_of_another_version_is_refused(monkeypatch):
    python312 = toolchains.python("python3.12")
    monkeypatch.setenv("COLDBENCH_PYTHON313", python312)
    with pytest.raises(MissingToolchain, match="is not a Python 3.13 interpreter"):
        toolchains.python("python3.13")


def test_a_toolchain_is_looked_for_once_and_again_when_its_variable_is_set(monkeypatch,
                                                                          tmp_path):
    found = toolchains.python("python3.12")
    # nowhere left to look: the answer is the one found before
    for name in ("PYENV_ROOT", "XDG_CACHE_HOME", "PATH"):
        monkeypatch.setenv(name, str(tmp_path))
    assert toolchains.python("python3.12") == found
    # a variable set is looked at, each time it changes
    monkeypatch.setenv("COLDBENCH_PYTHON312", str(tmp_path / "python3.12"))
    with pytest.raises(MissingToolchain, match="is not a Python 3.12 interpreter"):
        toolchains.python("python3.12")
    monkeypatch.setenv("COLDBENCH_PYTHON312", found)
    assert toolchains.python("python3.12") == found


# -- real runs --------------------------------------------------------------------------------

VERSIONS = {"python3.13": "3.13.", "nodejs22.x": "v22.", "java": "21.", "java25": "25."}


@pytest.fixture(scope="module")
def versions_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("versions") / "versions.json"
    result = run_cli("run", "--runtimes", ",".join(VERSIONS), "--memory", "512",
                     "--cold", "2", "--warm", "1", "--provisioned", "0", "--output", output,
                     timeout=1800)
    assert result.returncode == 0, result.stderr
    return result, json.loads(output.read_text())


@pytest.mark.slow
def test_each_version_runs_on_its_own_toolchain(versions_run):
    """The function reports, from inside, the version its runtime was named by."""
    _, document = versions_run
    cold = [s for s in document["samples"] if s["mode"] == "cold"]
    assert {s["runtime"] for s in cold} == set(VERSIONS)
    for sample in cold:
        assert sample["error"] is None, sample
        assert sample["runtime_version"].startswith(VERSIONS[sample["runtime"]]), sample


@pytest.mark.slow
def test_the_results_and_the_table_say_which_version_each_row_ran(versions_run):
    result, document = versions_run
    run = document["run"]
    assert run["lambda_runtimes"] == {"python3.13": "python3.13", "nodejs22.x": "nodejs22.x",
                                      "java": "java21", "java25": "java25"}
    assert run["runtime_versions"]["python3.13"].startswith("Python 3.13.")
    assert run["runtime_versions"]["nodejs22.x"].startswith("Node.js v22.")
    assert run["runtime_versions"]["java"].startswith("OpenJDK 21.")
    assert run["runtime_versions"]["java25"].startswith("OpenJDK 25.")
    rows = [line.split()[0] for line in result.stdout.splitlines() if " 512 MB " in line]
    assert rows == ["python3.13", "nodejs22.x", "java", "java25"]
    assert "java = java21 (OpenJDK 21." in result.stdout


@pytest.mark.slow
def test_the_prediction_is_anchored_on_the_same_identifiers_figure(versions_run):
    _, document = versions_run
    prediction = document["run"]["prediction"]
    # aws-lambda-init-duration-2026-08.csv: python3.13 mean 91.1, nodejs22.x p50 140.3,
    # java21 p50 238.6, java25 mean 185.3
    assert prediction["aws_hello_ms"] == {"python3.13": 91.1, "nodejs22.x": 140.3,
                                          "java": 238.6, "java25": 185.3}
    # the built-in functions are their own hello references: each version's own
    assert set(prediction["hello_reference"]) == {f"{name} 512 MB" for name in VERSIONS}
    # a built-in function's predicted median is the published figure it is anchored on
    for name, figure in prediction["aws_hello_ms"].items():
        predicted = [s["predicted_aws_init_ms"] for s in document["samples"]
                     if s["mode"] == "cold" and s["runtime"] == name]
        assert statistics.median(predicted) == pytest.approx(figure, rel=0.02), name


@pytest.mark.slow
def test_a_users_function_is_predicted_against_the_hello_of_its_version(tmp_path):
    function = tmp_path / "fn"
    function.mkdir()
    (function / "app.py").write_text(
        "import json, platform\n"
        "DATA = json.dumps([{'n': i} for i in range(20000)])\n"
        "def handler(event, context):\n"
        "    return {'cold': True, 'runtime_version': platform.python_version()}\n")
    output = tmp_path / "out.json"
    result = run_cli("run", "--runtime", "python3.13", "--function", function, "--handler",
                     "app.handler", "--memory", "256", "--cold", "2", "--warm", "0",
                     "--provisioned", "0", "--output", output, timeout=900)
    assert result.returncode == 0, result.stderr        # every configuration measured
    document = json.loads(output.read_text())
    prediction = document["run"]["prediction"]
    assert [s["runtime"] for s in prediction["reference_samples"]] == ["python3.13"] * 2
    assert set(prediction["hello_reference"]) == {"python3.13 256 MB"}
    assert prediction["aws_hello_ms"] == {"python3.13": 91.1}
    mine = [s for s in document["samples"] if s["mode"] == "cold"]
    assert {s["runtime"] for s in mine} == {"python3.13"}
    assert all(s["error"] is None and s["runtime_version"].startswith("3.13.") for s in mine)
    assert "fn (python3.13)" in result.stdout


def test_a_versions_lambda_function_name_is_one_lambda_takes():
    from coldbench.targets.aws.resources import function_name
    name = function_name("r1", "python3.13", 128, "x86_64", False, "a")
    assert name == "coldbench-r1-python313-128-x86_64-a"


@pytest.mark.docker
@pytest.mark.slow
def test_the_docker_target_runs_the_same_versions(tmp_path):
    """Local images carry the version the task root was built for: pyenv's Python 3.13
    and a Temurin Java 25 home copied in, Node.js 22's binary."""
    output = tmp_path / "docker.json"
    result = run_cli("run", "--target", "docker", "--images", "local", "--runtimes",
                     "python3.13,nodejs22.x,java25", "--memory", "512", "--cold", "1",
                     "--warm", "0", "--provisioned", "0", "--output", output, timeout=1800)
    assert result.returncode == 0, result.stderr
    document = json.loads(output.read_text())
    seen = {s["runtime"]: s["runtime_version"] for s in document["samples"]}
    assert seen["python3.13"].startswith("3.13.") and seen["nodejs22.x"].startswith("v22.")
    assert seen["java25"].startswith("25.")
    images = {i["runtime"]: i["runtime_version"] for i in document["run"]["container_images"]}
    assert images["python3.13"].startswith("Python 3.13.")
    assert images["java25"].startswith('openjdk version "25.')
