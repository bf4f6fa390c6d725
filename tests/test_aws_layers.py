"""Layers on the AWS target: published as layer versions of the run, attached in order to
the functions with the setup that goes with them, deleted at the end, and found by
`coldbench cleanup` when a run was killed. Real boto3 over HTTP to moto's server behind
the stand-in (aws_standin.py); invocations served by `coldbench serve`."""

import base64
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from aws_standin import DUMMY_ENVIRONMENT, Serve, boto, functions_in
from conftest import run_cli

pytestmark = [pytest.mark.aws, pytest.mark.slow]

REGION = "us-east-1"
ENVIRONMENT = {**os.environ, **DUMMY_ENVIRONMENT}
PUBLISH = r"^/2018-10-31/layers/[^/]+/versions$"
CREATE = r"^/2015-03-31/functions/?$"


@pytest.fixture
def aws(control_plane):
    moto, standin = control_plane
    serve = Serve.following(standin.url, "python", 30, REGION)
    yield moto, standin, serve
    serve.close()


def coldbench_layers(moto) -> list[str]:
    return [layer["LayerName"] for layer in boto(moto.url, "lambda").list_layers()["Layers"]
            if layer["LayerName"].startswith("coldbench-")]


def _layers(tmp_path):
    tools = tmp_path / "tools"
    (tools / "bin").mkdir(parents=True)
    (tools / "bin" / "tool").write_text("#!/bin/sh\necho tool\n")
    (tools / "bin" / "tool").chmod(0o755)
    data = tmp_path / "data.zip"
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("python/data_module.py", "VALUE = 1\n")
    return tools, data


def test_layers_are_published_attached_in_order_and_deleted(aws, tmp_path):
    moto, standin, serve = aws
    tools, data = _layers(tmp_path)
    result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "python",
                     "--endpoint-url", standin.url, "--invoke-endpoint-url", serve.url,
                     "--memory", "128", "--cold", "1", "--warm", "0", "--provisioned", "0",
                     "--layer", tools, "--layer", data, "--layer-env", "data:DATA_ON=1",
                     "--layer-overhead", "--output", tmp_path / "run.json", "--yes",
                     env=ENVIRONMENT, timeout=600)
    assert result.returncode == 0, result.stderr
    published = standin.sent("POST", PUBLISH)
    assert len(published) == 2                   # once each, for the three prefixes
    tools_zip = zipfile.ZipFile(io.BytesIO(base64.b64decode(published[0]["Content"]["ZipFile"])))
    assert tools_zip.namelist() == ["bin/tool"]
    assert tools_zip.getinfo("bin/tool").external_attr >> 16 & 0o111   # still executable
    assert base64.b64decode(published[1]["Content"]["ZipFile"]) == data.read_bytes()

    created = {spec["FunctionName"]: spec for spec in standin.sent("POST", CREATE)}
    by_layers = {len(spec.get("Layers", [])): spec for spec in created.values()}
    assert set(by_layers) == {0, 1, 2}
    arns = by_layers[2]["Layers"]
    run_id = json.loads((tmp_path / "run.json").read_text())["run"]["aws_run_id"]
    assert [arn.split(":")[6] for arn in arns] == [f"coldbench-{run_id}-tools",
                                                  f"coldbench-{run_id}-data"]
    assert by_layers[2]["Environment"]["Variables"]["DATA_ON"] == "1"
    assert "DATA_ON" not in by_layers[1]["Environment"]["Variables"]
    assert "-l2-" in [n for n, s in created.items() if len(s.get("Layers", [])) == 2][0]

    samples = json.loads((tmp_path / "run.json").read_text())["samples"]
    assert sorted(tuple(s["variant"].get("layers", [])) for s in samples) == \
        [(), ("tools",), ("tools", "data")]
    assert all(s["variant"]["architecture"] == "x86_64" for s in samples)
    assert all(s["error"] is None for s in samples), [s["error"] for s in samples]
    assert "2 layers, " in result.stderr         # said when deleting
    assert coldbench_layers(moto) == []
    assert "Layer overhead" in result.stdout


def test_cleanup_finds_the_layers_of_a_killed_run(aws, tmp_path):
    moto, standin, serve = aws
    tools, _ = _layers(tmp_path)
    run = subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--target", "aws", "--region", REGION,
         "--runtimes", "python", "--memory", "128", "--cold", "500", "--layer", tools,
         "--endpoint-url", standin.url, "--invoke-endpoint-url", serve.url, "--yes",
         "--output", tmp_path / "killed.json", "--quiet"],
        env=ENVIRONMENT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not functions_in(moto.url):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.2)
    time.sleep(1)
    run.send_signal(signal.SIGKILL)                            # no cleanup can run
    run.wait()
    left = coldbench_layers(moto)
    assert len(left) == 1
    run_id = re.fullmatch(r"coldbench-([0-9a-f]{8})-tools", left[0]).group(1)

    common = ("cleanup", "--target", "aws", "--region", REGION, "--endpoint-url", moto.url)
    listed = run_cli(*common, "--dry-run", env=ENVIRONMENT)
    assert listed.returncode == 0, listed.stderr
    assert f"layer coldbench-{run_id}-tools (run {run_id}" in listed.stdout
    other = run_cli(*common, "--run-id", "00000000", "--yes", env=ENVIRONMENT)
    assert other.returncode == 0 and coldbench_layers(moto) == left
    cleaned = run_cli(*common, "--run-id", run_id, "--yes", env=ENVIRONMENT)
    assert cleaned.returncode == 0, cleaned.stderr
    assert coldbench_layers(moto) == []
    assert functions_in(moto.url) == []
