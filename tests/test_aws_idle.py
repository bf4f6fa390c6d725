"""`coldbench run --target aws --idle ...`: natural cold starts. Each idle sample is a
function invoked, left alone for the interval with no configuration change, and invoked
again. Real boto3 over HTTP to moto's server behind the stand-in (aws_standin.py);
invocations served by `coldbench serve`, which stops an environment idle for longer than
its --idle-timeout as Lambda reclaims idle ones: here after 1 s, so that an interval of
0.2 s finds the first environment and one of 2 s does not."""

import json
import os
import re
import time

import pytest

from aws_standin import DUMMY_ENVIRONMENT, serve_behind
from conftest import make_idle_sample, run_cli

REGION = "us-east-1"
ENVIRONMENT = {**os.environ, **DUMMY_ENVIRONMENT}
IDLE_FUNCTIONS = r"^/2015-03-31/functions/coldbench-[0-9a-f]{8}-go-128-x86_64-i[^/]+"
CREATE_FUNCTION = r"^/2015-03-31/functions/?(\?|$)"


@pytest.fixture
def serve(control_plane):
    _, standin = control_plane
    with serve_behind(standin.url, "go", 1, REGION) as front:
        yield standin, front


@pytest.mark.aws
@pytest.mark.slow
def test_an_idle_sweep_finds_environments_kept_after_short_pauses_and_gone_after_long_ones(
        serve, tmp_path):
    standin, front = serve
    updates_before = standin.count("PUT", IDLE_FUNCTIONS + "/configuration")
    created_before = len(standin.sent("POST", CREATE_FUNCTION))
    started = time.monotonic()
    result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "go",
                     "--endpoint-url", standin.url, "--invoke-endpoint-url", front.url,
                     "--output", tmp_path / "run.json", "--memory", "128", "--work", "1",
                     "--cold", "0", "--warm", "0", "--copies", "1", "--yes",
                     "--idle", "0.2s,2s", "--idle-samples", "3", env=ENVIRONMENT, timeout=300)
    took_s = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    # the plan says what the sweep does and how long it takes
    # an idle-only run: the idle functions and none of the --copies for forced cold starts
    assert ("Lambda functions: 6 (6 for the idle sweep; none for forced cold starts, as the "
            "plan has no cold, warm or burst samples)" in result.stderr), result.stderr
    created = [body["FunctionName"] for body in standin.sent("POST", CREATE_FUNCTION)]
    created = created[created_before:]
    assert len(created) == 6 and all(re.fullmatch(r"coldbench-[0-9a-f]{8}-go-128-x86_64-i"
                                                  r"(0_2s|2s)-[123]", name)
                                      for name in created), created
    assert ("an idle sweep after the other samples: per configuration (1) and interval "
            "(0.2s, 2s), 3 functions invoked, left alone for the interval with no "
            "configuration change, and invoked again (12 invocations); they wait at once, "
            "so the sweep takes about 2s plus its invocations") in result.stderr
    assert "invocations: 12 planned, at most 12" in result.stderr

    run = json.loads((tmp_path / "run.json").read_text())
    assert run["run"]["plan"]["idle"] == [0.2, 2.0] and run["run"]["plan"]["idle_samples"] == 3
    samples = run["samples"]
    assert len(samples) == 6 and all(s["error"] is None for s in samples), \
        json.dumps(samples, indent=1)
    by_interval = {idle: [s for s in samples if s["idle_s"] == idle] for idle in (0.2, 2.0)}
    short, long = by_interval[0.2], by_interval[2.0]
    assert len(short) == len(long) == 3          # idle_samples each: no all() over nothing
    # after 0.2 s the first invocation's environment served again: warm, by the REPORT
    # (no Init Duration) and by the function's own flag
    assert all(s["mode"] == "warm" and s["report_cold"] is False and s["cold"] is False
               and s["init_ms"] is None and s["variant"] == {"architecture": "x86_64", "idle_s": 0.2}
               and 0.2 <= s["idle_measured_s"] < 1.0 for s in short), json.dumps(short, indent=1)
    # after 2 s serve had stopped it: a new environment, with its Init Duration
    assert all(s["mode"] == "cold" and s["report_cold"] is True and s["cold"] is True
               and s["init_ms"] > 0 and s["variant"] == {"architecture": "x86_64", "idle_s": 2.0}
               and s["idle_measured_s"] >= 2.0 for s in long), json.dumps(long, indent=1)
    assert not any(s["misclassified"] for s in samples)

    # two invocations per sample, and no configuration change: nothing forced those cold
    assert front.count("POST", IDLE_FUNCTIONS + "/invocations") == 12
    assert standin.count("PUT", IDLE_FUNCTIONS + "/configuration") == updates_before
    # the waits overlap: six samples of up to 2 s took about one 2 s wait, not six
    assert took_s < 60

    rows = [line for line in result.stdout.splitlines() if line.startswith("go x86_64 idle")]
    assert len(rows) == 2
    assert "idle 0.2s" in rows[0] and "0/3/0" in rows[0]
    assert "idle 2s" in rows[1] and "3/0/0" in rows[1]
    assert re.search(r"go x86_64 128 MB, idle 0.2s: cold after idle 0 of 3 \(0%\); keep-warm "
                     r"pings every 0.2s would keep calls at 0% cold instead of 100% after 2s, "
                     r"for 13,140,000 pings \(\$\d+\.\d\d\) a month per environment kept warm",
                     result.stdout), result.stdout
    assert ("go x86_64 128 MB, idle 2s: cold after idle 3 of 3 (100%), cold start p50 "
            in result.stdout)
    assert ("ms; keep-warm pings every 2s would keep calls at 100% cold, for 1,314,000 pings "
            "(at least $0.27) a month per environment kept warm") in result.stdout

    # the same figures as JSON, from the saved run
    shown = run_cli("report", tmp_path / "run.json", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    found = {c["variant"]: c["cold_after_idle"] for c in json.loads(shown.stdout)}
    assert found == {"x86_64 idle 0.2s": {"cold": 0, "n": 3, "probability": 0.0},
                     "x86_64 idle 2s": {"cold": 3, "n": 3, "probability": 1.0}}
    # and everything the run created is gone
    left = run_cli("cleanup", "--target", "aws", "--region", REGION, "--endpoint-url",
                   standin.url, "--dry-run", env=ENVIRONMENT)
    assert "nothing to clean up" in left.stdout, left.stdout


@pytest.mark.parametrize("idle, message", [
    ("5x", ("--idle: '5x' is not a duration: write a number with s, m or h, e.g. "
            "--idle 30s,5m,1h")),
    ("5m,,1h", ("--idle: '' is not a duration: write a number with s, m or h, e.g. "
                "--idle 30s,5m,1h")),
    ("-5m", ("--idle: '-5m' is not a duration: write a number with s, m or h, e.g. "
             "--idle 30s,5m,1h")),
    ("0s", "--idle: 0s is no interval: each must be above zero"),
    ("25h", "--idle: 25h is longer than a day, the longest interval coldbench waits"),
])
def test_bad_intervals_are_refused_before_anything_is_built(tmp_path, idle, message):
    result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "go",
                     "--idle", idle, "--output", tmp_path / "r.json", env=ENVIRONMENT)
    assert result.returncode == 2
    assert result.stderr.strip() == f"coldbench: error: {message}"
    assert not (tmp_path / "r.json").exists()


def test_idle_sweeps_are_refused_where_no_environment_is_kept(tmp_path):
    result = run_cli("run", "--runtimes", "go", "--idle", "5m", "--output", tmp_path / "r.json")
    assert result.returncode == 2
    assert result.stderr.strip() == ("coldbench: error: --idle: the local target keeps no "
                                     "environment between invocations; idle sweeps are for "
                                     "--target aws")
    assert not (tmp_path / "r.json").exists()


def test_idle_samples_must_be_at_least_one(tmp_path):
    result = run_cli("run", "--target", "aws", "--region", REGION, "--runtimes", "go",
                     "--idle", "5m", "--idle-samples", "0", "--output", tmp_path / "r.json",
                     env=ENVIRONMENT)
    assert result.returncode == 2
    assert result.stderr.strip() == "coldbench: error: --idle-samples must be at least 1"


def test_intervals_are_read_and_written_in_their_largest_whole_unit():
    from coldbench.workflows.sweeps import interval_text, parse_intervals

    assert parse_intervals("60m, 5m,15m,30m,5m") == (300.0, 900.0, 1800.0, 3600.0)
    assert parse_intervals("1.5h,90S,0.2s") == (0.2, 90.0, 5400.0)
    assert [interval_text(s) for s in (0.2, 2.0, 90.0, 300.0, 3600.0, 5400.0)] == \
        ["0.2s", "2s", "90s", "5m", "1h", "90m"]


def test_the_cost_bound_counts_both_invocations_of_every_idle_sample_as_cold_starts():
    # --idle 5m,1h --idle-samples 3 beside 1 cold sample, python 128 MB x86_64, timeout 10 s:
    # idle: 2 intervals x 3 samples x 2 invocations = 12, each a cold start at worst
    # requests 1 + 12 = 13 -> 13 x $0.20/1M = $0.0000026
    # duration 13 x (10 s init + 10 s) x 0.125 GB = 32.5 GB-s x $0.0000166667 = $0.00054166775
    # a SnapStart deployment takes no idle samples: only its cold sample counts
    from coldbench.targets.aws.estimate import Deployment, Invocations, estimate

    plan = Invocations(1, 0, 0, 10.0, idle=2 * 3)
    e = estimate([Deployment("python3.12", 128, "x86_64")], plan, "us-east-1")
    assert (e.invocations, e.max_invocations) == (13, 13)
    assert e.requests_usd == pytest.approx(0.0000026)
    assert e.duration_gb_s == pytest.approx(32.5)
    assert e.total_usd == pytest.approx(0.0000026 + 0.00054166775)
    snap = estimate([Deployment("python3.12", 128, "x86_64", snapstart=True)], plan, "us-east-1")
    assert snap.invocations == 1


def test_keep_warm_lines_from_the_samples_of_each_interval():
    # 5m: 4 warm (Duration 2.5 ms each, billed 3 ms), 1 cold, 1 failed (left out of n);
    # 60m: 2 cold, Init 300 ms + Duration 20 ms.
    # Pings every 5m: 730 h x 3,600 / 300 s = 8,760 a month, each a request ($0.0000002)
    # and 3 ms x 0.5 GB x $0.0000133334 (arm64) = $0.0000000200001: $0.00192 a month.
    from coldbench.analysis.idle import after_idle
    from coldbench.analysis.summary import summarize_samples
    from coldbench.prices import load
    from coldbench.render.idle import keep_warm_lines

    samples = ([make_idle_sample(300.0, False, 2.5) for _ in range(4)]
               + [make_idle_sample(300.0, True, 20.0, 280.0),
                  make_idle_sample(300.0, None, None, error={"type": "Coldbench.NoReport"})]
               + [make_idle_sample(3600.0, True, 20.0, 300.0) for _ in range(2)])
    samples[5].mode = "warm"
    found = after_idle(summarize_samples(samples))
    assert [(r.idle_s, r.cold, r.n, r.probability) for r in found] == \
        [(300.0, 1, 5, 0.2), (3600.0, 2, 2, 1.0)]
    assert keep_warm_lines(found, load()) == [
        ("python arm64 512 MB, idle 5m: cold after idle 1 of 5 (20%), cold start p50 300.0 "
         "ms; keep-warm pings every 5m would keep calls at 20% cold instead of 100% after "
         "1h, for 8,760 pings ($0.0019) a month per environment kept warm"),
        ("python arm64 512 MB, idle 1h: cold after idle 2 of 2 (100%), cold start p50 320.0 "
         "ms; keep-warm pings every 1h would keep calls at 100% cold, for 730 pings (at "
         "least $0.00015) a month per environment kept warm")]
