"""`coldbench mitigate --target aws`: every row of the mitigation table measured on the AWS
target, end to end. Real boto3 over HTTP to moto's server behind the stand-in
(aws_standin.py); invocations served by `coldbench serve` (offering the function under
test), behind a second stand-in that writes into a SnapStart version's log tail the Restore
Duration Lambda reports and serve does not. serve runs its own build of each runtime's
built-in function whatever code was deployed, so the figures here are of those; that the
function and its trimmed build are what was deployed is checked on the CreateFunction
requests."""

import base64
import io
import json
import math
import os
import zipfile

import pytest

from aws_standin import DUMMY_ENVIRONMENT, left_in, restored, serve_behind
from conftest import run_cli
from test_mitigate import function_with_unused_package, measured_column, row

from coldbench.analysis import mitigation
from coldbench.render import mitigation as table
from coldbench.errors import EXIT_OK, EXIT_USAGE

pytestmark = [pytest.mark.aws, pytest.mark.slow]

REGION = "us-east-1"
ENVIRONMENT = {**os.environ, **DUMMY_ENVIRONMENT}
UNUSED_BYTES = 1_000_000
COLD = 2
CREATE = r"^/2015-03-31/functions/?$"


@pytest.fixture(scope="module")
def mitigated(control_plane, tmp_path_factory):
    """One `coldbench mitigate --target aws` of a Python function carrying a package it never
    imports, with the Go built-in beside it and a short idle sweep."""
    moto, standin = control_plane
    folder = function_with_unused_package(tmp_path_factory.mktemp("aws") / "bloated",
                                          UNUSED_BYTES)
    creates_before = len(standin.sent("POST", CREATE))
    output = folder.parent / "mitigate.json"
    with serve_behind(standin.url, "python,go", 1, REGION) as front:
        front.rewrite_log(r"/invocations\?Qualifier=\d+", restored)
        result = run_cli("mitigate", "--target", "aws", "--region", REGION,
                         "--endpoint-url", standin.url, "--invoke-endpoint-url", front.url,
                         "--runtime", "python", "--function", folder, "--memory", "128",
                         "--cold", COLD, "--warm", 2, "--provisioned", 1,
                         "--profile-samples", 1, "--compare", "go", "--work", 1,
                         "--lambda-runtime", "python=python3.13",
                         "--idle", "0.2s,2s", "--idle-samples", 1, "--keep-warm", "5m",
                         "--yes", "--max-cost", "5", "--output", output,
                         env=ENVIRONMENT, timeout=300)
    creates = standin.sent("POST", CREATE)[creates_before:]
    doc = json.loads(output.read_text()) if output.exists() else None
    return result, doc, creates, moto


def test_provisioned_memory_and_runtime_rows_are_measured_on_aws(mitigated):
    result, doc, _, _ = mitigated
    assert result.returncode == EXIT_OK, result.stderr
    assert doc["target"] == "aws" and doc["region"] == REGION
    assert doc["architecture"] == "x86_64" and doc["cost_bound_usd"] > 0
    # three deployments: the function and Go, SnapStart beside it, the trimmed build
    assert "deployment 3 of 3: the build without the unused packages" in result.stderr
    provisioned = row(doc, "provisioned")
    figures = provisioned["figures"]
    assert figures["provisioned"]["n"] == 1 and figures["cold_start"]["n"] == COLD
    assert "removed_ms" in figures
    assert provisioned["samples"] and all(
        s["variant"] == {"architecture": "x86_64"} and s["function_name"].startswith("coldbench-")
        for s in provisioned["samples"])
    (size,) = row(doc, "memory")["figures"]["sizes"]
    assert size["memory_mb"] == 128 and size["usd_per_million"] > 0
    assert size["cold_start"]["n"] == COLD
    assert row(doc, "runtime")["figures"]["built_in"]["go"]["n"] == COLD


def test_the_trimmed_build_is_deployed_and_measured_on_aws(mitigated):
    result, doc, creates, _ = mitigated
    package = row(doc, "package")
    assert package["applies"] and package["figures"]["unused"] == ["bigpkg"]
    trimmed = [s for s in package["samples"] if s["variant"] == {"architecture": "x86_64", "version": "trimmed"}]
    assert len(trimmed) == COLD and all(s["error"] is None and s["init_ms"] > 0
                                        for s in trimmed)
    assert package["figures"]["cold_start_trimmed"]["n"] == COLD
    shown = measured_column(result.stdout, "Smaller deployment packages")
    assert ("which packages init loads comes from profiled cold starts on this machine "
            "(profiling needs the local target); the build without them was measured on "
            "AWS") in shown
    assert "not loaded by these events is not proof of unused" in shown
    # the python functions deployed: with bigpkg, except the trimmed build's
    python = [c for c in creates if c["Runtime"].startswith("python")]
    files = [zipfile.ZipFile(io.BytesIO(base64.b64decode(c["Code"]["ZipFile"]))).namelist()
             for c in python]
    with_big = [names for names in files if "bigpkg/data.bin" in names]
    without = [names for names in files if "bigpkg/data.bin" not in names]
    assert with_big and len(without) >= 1
    assert all("helper/__init__.py" in names for names in without)


def test_snapstart_row_compares_restores_with_the_function_without_it(mitigated):
    result, doc, _, _ = mitigated
    snap = row(doc, "snapstart")
    figures = snap["figures"]
    assert snap["applies"] and figures["restored"] == figures["cold_samples"] == COLD
    assert figures["cold_start_with"]["n"] == figures["cold_start_without"]["n"] == COLD
    restores = [s for s in snap["samples"] if s["variant"] == {"architecture": "x86_64", "snapstart": True}
                and s["mode"] == "cold"]
    assert len(restores) == COLD
    assert all(s["restore_ms"] == s["init_ms"] > 0 and s["executed_version"].isdigit()
               for s in restores)
    # SnapStart's charges from the price table, computed by hand: 128 MB cached 730 h at
    # $0.0000015046 per GB-s; 1% of a million invocations restoring 0.125 GB at $0.0001397998
    cache = 0.125 * 730 * 3600 * 0.0000015046
    restore = 1e6 * 0.01 * 0.125 * 0.0001397998
    shown = measured_column(result.stdout, "SnapStart")
    assert f"the snapshot cached a month ${cache:.2f}" in shown
    assert f"restores ${restore:.2f} per million invocations" in shown
    assert "without SnapStart" in shown and "Restore Duration + Duration" in shown


def test_snapstart_samples_without_a_restore_are_said_to_show_nothing(mitigated):
    """Where the SnapStart version initialised instead of restoring (serve alone reports
    an Init Duration), the row says its samples had no Restore Duration."""
    from coldbench.prices import load
    from coldbench.results.schema import Sample

    _, doc, _, _ = mitigated
    samples = [Sample.from_json(s) for r in doc["strategies"] for s in r["samples"]]
    for s in samples:
        s.extra.pop("restore_ms", None)
        s.extra.pop("billed_restore_ms", None)
    findings = mitigation.Findings("python", doc["function"], doc["handler"], "aws", [128],
                                   samples, architecture="x86_64")
    strategy = next(s for s in mitigation.guide() if s.key == "snapstart")
    found = mitigation.snapstart(strategy, findings, load())
    assert table.lines(found, load())[0].startswith("the SnapStart samples had no Restore Duration: no "
                                     "cold start restored a snapshot")
    assert found.figures()["restored"] == 0 and found.figures()["cold_start_with"] is None


def test_keep_warm_pings_are_priced_and_idle_cold_starts_measured(mitigated):
    result, doc, _, _ = mitigated
    keep = row(doc, "keep_warm")
    figures = keep["figures"]
    warm_p50 = figures["warm"]["p50_ms"]
    # by hand: a ping every 5 minutes for 730 h, each $0.20 per million requests and its
    # warm Duration rounded up to the ms at 128 MB and $0.0000166667 per GB-s
    pings = 730 * 3600 / 300
    by_hand = pings * (0.20 / 1e6 + math.ceil(warm_p50) / 1000 * 0.125 * 0.0000166667)
    assert figures["pings_per_month"] == pings == 8760
    assert figures["usd_per_month"] == pytest.approx(by_hand, rel=1e-3)
    after = {r["idle_s"]: r for r in figures["after_idle"]}
    # serve stops environments idle for 1 s: found after 0.2 s, gone after 2 s
    assert after[0.2]["cold"] == 0 and after[0.2]["n"] == 1
    assert after[2.0]["cold"] == 1 and after[2.0]["n"] == 1
    shown = measured_column(result.stdout, "Keep-warm pings")
    assert "pings every 5m at 128 MB: 8,760 a month" in shown
    assert "cold after idle 1 of 1 (100%)" in shown


def test_nothing_is_left_behind(mitigated):
    _, _, _, moto = mitigated
    assert left_in(moto.url) == []


def test_aws_input_is_checked_before_anything_is_created(control_plane, tmp_path):
    moto, standin = control_plane
    for args, says in [(["--arch", "x86_64,arm64"], "one architecture"),
                       (["--region", "us-east-1,eu-west-1"], "one region"),
                       (["--keep-warm", "5m,10m"], "--keep-warm"),
                       (["--max-cost", "0.0000001", "--yes"], "above --max-cost")]:
        result = run_cli("mitigate", "--target", "aws", "--region", REGION, "--runtime",
                         "python", "--endpoint-url", standin.url, "--compare", "none",
                         "--memory", "128", "--cold", 1, "--warm", 1, "--provisioned", 0,
                         "--profile-samples", 1, *args, "--quiet", env=ENVIRONMENT,
                         timeout=120)
        assert result.returncode == EXIT_USAGE, (args, result.stderr)
        assert says in result.stderr, (args, result.stderr)
    assert left_in(moto.url) == []
