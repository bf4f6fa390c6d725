"""One run in two AWS regions against the stand-ins: moto's server (which serves any region)
for the control plane, and a `coldbench serve` per region for Invoke, as Lambda has an
endpoint per region. Real boto3 over HTTP; no AWS account is involved."""

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from aws_standin import Serve, functions_in, left_in
from conftest import run_cli
from test_aws_target import ENVIRONMENT, KEY_ID, SECRET

from coldbench.analysis import compare
from coldbench.errors import UsageError
from coldbench.model import Variant
from coldbench.results.schema import load
from coldbench.render.compare import difference_text
from coldbench.targets.aws.regions import endpoints_by_region, parse_regions


REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture
def two_regions(control_plane):
    moto, standin = control_plane
    serves = {region: Serve.following(standin.url, "python", 30, region, env={
                  "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET})
              for region in REGIONS}
    yield moto, standin, serves
    for serve in serves.values():
        serve.close()


def invoke_urls(serves) -> str:
    return ",".join(f"{region}={serve.url}" for region, serve in serves.items())


@pytest.mark.aws
@pytest.mark.slow
def test_a_run_in_two_regions_deploys_in_both_keeps_them_apart_and_removes_both(two_regions,
                                                                                  tmp_path):
    moto, standin, serves = two_regions
    result = run_cli("run", "--target", "aws", "--region", ",".join(REGIONS),
                     "--runtimes", "python", "--memory", "128", "--cold", 2, "--warm", 1,
                     "--copies", 1, "--endpoint-url", standin.url,
                     "--invoke-endpoint-url", invoke_urls(serves), "--work", 10,
                     "--output", tmp_path / "run.json", "--yes", env=ENVIRONMENT, timeout=600)
    assert result.returncode == 0, result.stderr
    # each region's plan, and the sum, before anything is created
    for region in REGIONS:
        assert f"coldbench will create in AWS region {region}" in result.stderr
    assert re.search(r"In all 2 regions \(us-east-1, eu-west-1\): at most \$[0-9.]+",
                     result.stderr)
    assert "eu-west-1 may differ" in result.stderr          # priced as us-east-1, said so

    document = json.loads((tmp_path / "run.json").read_text())
    run, samples = document["run"], document["samples"]
    assert run["region"] == "us-east-1,eu-west-1" and run["regions"] == list(REGIONS)
    assert set(run["cost_bound_by_region"]) == set(REGIONS)
    assert run["cost_bound_usd"] == pytest.approx(sum(run["cost_bound_by_region"].values()),
                                                  abs=1e-6)
    assert len(samples) == 2 * (2 + 1)
    assert all(s["error"] is None and not s["misclassified"] for s in samples), \
        [s["error"] for s in samples if s["error"]]
    for region in REGIONS:
        mine = [s for s in samples if s["region"] == region]
        assert len(mine) == 3 and all(s["variant"] == {"architecture": "x86_64", "region": region}
                                   for s in mine)
    assert re.search(r"^python x86_64 eu-west-1 +128 MB", result.stdout, re.MULTILINE)
    assert re.search(r"^python x86_64 us-east-1 +128 MB", result.stdout, re.MULTILINE)
    assert "deleting" in result.stderr
    assert left_in(moto.url, "us-east-1") == [] and left_in(moto.url, "eu-west-1") == []

    # the results keep the regions apart: compare never pools them
    results = load(tmp_path / "run.json")
    found = compare.compare(results, results)
    assert {c.key.variant.label() for c in found} == {"x86_64 us-east-1", "x86_64 eu-west-1"}
    assert all(c.status != compare.NOT_COMPARABLE for c in found)
    pooled = load(tmp_path / "run.json")
    for s in pooled.samples:                     # one configuration, two regions' samples
        s.variant = Variant(architecture="x86_64")
    [cold, warm] = compare.compare(pooled, pooled, modes=("cold", "warm"))
    assert cold.status == compare.NOT_COMPARABLE and cold.result is None
    assert difference_text(cold.differences[0]) == ("samples of 2 regions (eu-west-1, "
                                                    "us-east-1) in one configuration")

    # and so do the cost model and the history
    priced = run_cli("cost", tmp_path / "run.json", "--requests-per-month", "1M",
                     "--arch", "x86_64")
    assert priced.returncode == 0, priced.stderr
    assert re.search(r"^python x86_64 eu-west-1 +128 MB", priced.stdout, re.MULTILINE)
    assert "The run measured in eu-west-1: the table holds us-east-1's prices only" \
        in priced.stdout


@pytest.mark.aws
@pytest.mark.slow
def test_cleanup_removes_what_a_killed_run_left_in_each_region(two_regions, tmp_path):
    moto, standin, serves = two_regions
    run = subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--target", "aws",
         "--region", ",".join(REGIONS), "--runtimes", "python", "--memory", "128",
         "--cold", "500", "--copies", "1", "--endpoint-url", standin.url,
         "--invoke-endpoint-url", invoke_urls(serves), "--yes",
         "--output", tmp_path / "killed.json", "--quiet"],
        env=ENVIRONMENT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not all(functions_in(moto.url, region) for region in REGIONS):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.2)
    time.sleep(1)
    run.send_signal(signal.SIGKILL)                             # no cleanup can run
    run.wait()
    for region in REGIONS:
        assert len(left_in(moto.url, region)) == 3                  # function, log group, role

    cleaned = run_cli("cleanup", "--target", "aws", "--region", ",".join(REGIONS),
                      "--endpoint-url", moto.url, "--yes", env=ENVIRONMENT)
    assert cleaned.returncode == 0, cleaned.stderr
    assert cleaned.stdout.count("deleted ") == 6
    assert "in us-east-1" in cleaned.stdout and "in eu-west-1" in cleaned.stdout
    assert left_in(moto.url, "us-east-1") == [] and left_in(moto.url, "eu-west-1") == []


def test_regions_and_their_invoke_endpoints_are_checked():
    assert parse_regions("us-east-1, eu-west-1,us-east-1") == ["us-east-1", "eu-west-1"]
    assert parse_regions("us-gov-west-1") == ["us-gov-west-1"]
    with pytest.raises(UsageError, match="us-east is not an AWS region name"):
        parse_regions("us-east")
    assert endpoints_by_region("http://a", ["us-east-1", "eu-west-1"]) == {
        "us-east-1": "http://a", "eu-west-1": "http://a"}
    assert endpoints_by_region("us-east-1=http://a,eu-west-1=http://b",
                               ["us-east-1", "eu-west-1"])["eu-west-1"] == "http://b"
    with pytest.raises(UsageError, match="no URL for eu-west-1"):
        endpoints_by_region("us-east-1=http://a", ["us-east-1", "eu-west-1"])
