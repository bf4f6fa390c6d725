"""Real third-party layers, built from their public packages by examples/layers/build.py
(pinned), each measured with --layer-overhead against a function without it: Datadog's
datadog-lambda with ddtrace behind its handler redirection, OpenTelemetry's Python
auto-instrumentation started by its exec wrapper, AWS Lambda Powertools. Each must run
cold and warm as data, not errors, and cost its init something."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/dev/loop-control").exists(),
                                 reason="the Lambda-shaped code path needs loop devices")]

BUILD = ROOT / "examples" / "layers" / "build.py"


@pytest.fixture(scope="module")
def third_party() -> Path:
    """The layers, built once per version of the build script (minutes: pip)."""
    from coldbench.build import cache_root
    from coldbench import runtimes, toolchains
    python = toolchains.python(runtimes.get("python").lambda_runtime)   # what they are built for
    key = hashlib.sha256(BUILD.read_bytes() + python.encode()
                         + (BUILD.parent / "otel" / "otel-instrument").read_bytes()).hexdigest()
    out = cache_root() / "example-layers" / key[:16]
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(BUILD), str(out)], check=True, timeout=1500)
    return out


def _label(sample: dict) -> str:
    named = (sample.get("variant") or {}).get("layers", [])
    return f"with {'+'.join(named)}" if named else "without layers"


def overhead(tmp_path, *args) -> tuple[dict, list[dict]]:
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtime", "python", "--memory", "1769", "--cold", "3",
                     "--warm", "1", "--provisioned", "0", "--layer-overhead",
                     "--output", output, "--quiet", *args)
    assert result.returncode == 0, result.stderr + result.stdout
    samples = json.loads(output.read_text())["samples"]
    assert all(s["error"] is None and not s["misclassified"] for s in samples), \
        [s["error"] for s in samples if s["error"]]
    init: dict[str, list[float]] = {}
    for sample in samples:
        if sample["mode"] == "cold":
            init.setdefault(_label(sample), []).append(sample["init_ms"])
    return {name: sorted(values)[len(values) // 2] for name, values in init.items()}, samples


def test_datadog_behind_its_handler_redirection(third_party, tmp_path):
    init, samples = overhead(
        tmp_path, "--layer", third_party / "datadog",
        "--layer-handler", "datadog:datadog_lambda.handler.handler",
        "--layer-env", "datadog:DD_LAMBDA_HANDLER=app.handler")
    assert init["with datadog"] > init["without layers"] + 100, init
    with_layer = [s for s in samples if (s.get("variant") or {}).get("layers")]
    assert with_layer[0]["layers"][0]["handler"] == "datadog_lambda.handler.handler"


def test_opentelemetry_through_its_exec_wrapper(third_party, tmp_path):
    init, _ = overhead(
        tmp_path, "--layer", third_party / "otel",
        "--layer-env", "otel:AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument",
        "--layer-env", "otel:OTEL_TRACES_EXPORTER=none",
        "--layer-env", "otel:OTEL_METRICS_EXPORTER=none",
        "--layer-env", "otel:OTEL_LOGS_EXPORTER=none")
    # auto-instrumentation's start (every instrumentor looked up, botocore's loaded)
    assert init["with otel"] > init["without layers"] + 100, init


def test_powertools_as_a_layer(third_party, tmp_path):
    init, _ = overhead(tmp_path, "--function", ROOT / "examples" / "layers" /
                       "powertools_function", "--layer", third_party / "powertools")
    assert init["with powertools"] > init["without layers"], init
