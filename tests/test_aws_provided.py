"""The provided runtime on the AWS target, against the stand-ins (aws_standin.py): a
function that brings its own bootstrap is packaged with it executable at the zip's root,
deployed as provided.al2023 and measured cold and warm."""

import json
import os
import stat
import zipfile

import pytest

from aws_standin import DUMMY_ENVIRONMENT, Serve
from conftest import run_cli

pytestmark = [pytest.mark.aws, pytest.mark.slow]

REGION = "us-east-1"
KEY_ID = "COLDBENCHPROVIDEDKEYID"
SECRET = "coldbench-provided-test-secret-not-a-real-one"
ENVIRONMENT = {**os.environ, **DUMMY_ENVIRONMENT, "AWS_ACCESS_KEY_ID": KEY_ID,
               "AWS_SECRET_ACCESS_KEY": SECRET}
ENVIRONMENT.pop("AWS_SESSION_TOKEN")


def test_provided_is_deployed_with_its_bootstrap_and_measured(control_plane, tmp_path):
    moto, standin = control_plane
    serve = Serve.following(standin.url, "provided", 30, REGION,
                            env={"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET})
    try:
        before = len(standin.sent("POST", r"^/2015-03-31/functions/?$"))
        result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes",
                         "provided", "--memory", "128", "--cold", 2, "--warm", 2,
                         "--copies", 1, "--work", 1, "--endpoint-url", standin.url,
                         "--invoke-endpoint-url", serve.url,
                         "--output", tmp_path / "run.json", "--yes", env=ENVIRONMENT,
                         timeout=600)
    finally:
        serve.close()
    assert result.returncode == 0, result.stderr
    (created,) = standin.sent("POST", r"^/2015-03-31/functions/?$")[before:]
    assert created["Runtime"] == "provided.al2023"
    import base64
    import io
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(created["Code"]["ZipFile"])))
    mode = archive.getinfo("bootstrap").external_attr >> 16
    assert mode & stat.S_IXUSR, oct(mode)          # Lambda starts it: it must be executable
    samples = json.loads((tmp_path / "run.json").read_text())["samples"]
    assert [s["mode"] for s in samples].count("cold") == 2
    assert all(s["error"] is None and s["runtime"] == "provided" for s in samples)
    assert all(s["init_ms"] > 0 for s in samples if s["mode"] == "cold")
