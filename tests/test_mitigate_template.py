"""`coldbench mitigate --template`: the one function of an app's definition it is pointed
at, measured with its definition's configuration, as `run --template` measures it."""

import json

import pytest

from conftest import ROOT, run_cli

SAM_APP = ROOT / "examples" / "sam-app" / "template.yaml"
EXIT_USAGE = 2


@pytest.mark.slow
@pytest.mark.parametrize("function, runtime, sizes, layers", [
    # its own 512 MB is among the default sizes; its layer comes with it
    ("OrdersFunction", "python", [128, 512, 1024, 1769], ["common"]),
    # its own 256 MB joins the default sizes
    ("InventoryFunction", "go", [128, 256, 512, 1024, 1769], []),
])
def test_mitigate_measures_a_template_function_as_defined(tmp_path, function, runtime,
                                                          sizes, layers):
    output = tmp_path / "mitigate.json"
    result = run_cli("mitigate", "--template", SAM_APP, "--function-name", function,
                     "--cold", 1, "--warm", 1, "--provisioned", 0, "--profile-samples", 1,
                     "--compare", "none", "--output", output, "--quiet", timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"Mitigations measured on {function} ({runtime}" in result.stdout
    doc = json.loads(output.read_text())
    assert (doc["function"], doc["runtime"], doc["memory_mb"]) == (function, runtime, sizes)
    (memory,) = [s for s in doc["strategies"] if s["strategy"] == "memory"]
    assert sorted({s["memory_mb"] for s in memory["samples"]}) == sizes
    for sample in memory["samples"]:
        assert sample["function"] == function and sample["error"] is None
        assert [layer["name"] for layer in sample.get("layers", [])] == layers


@pytest.mark.parametrize("args, says", [
    ([], "pick one with --function-name"),               # the app has two functions
    (["--function-name", "OrdersFunction", "--runtime", "python"], "drop --runtime"),
    (["--function-name", "NoSuchFunction"], "NoSuchFunction"),
])
def test_mitigate_template_bad_input_exits_2(tmp_path, args, says):
    output = tmp_path / "mitigate.json"
    result = run_cli("mitigate", "--template", SAM_APP, *args, "--output", output, "--quiet",
                     timeout=120)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not output.exists()


def test_mitigate_needs_a_runtime_or_a_template(tmp_path):
    result = run_cli("mitigate", "--output", tmp_path / "m.json", timeout=120)
    assert result.returncode == EXIT_USAGE
    assert "--runtime" in result.stderr and len(result.stderr.strip().splitlines()) == 1
