"""The command line as users and scripts meet it: bad input, saved results, exit statuses."""

import json
import textwrap

import pytest

from conftest import make_sample, run_cli

BAD_INPUT = [
    (["run", "--runtimes", "cobol"], "unknown runtime 'cobol'"),
    (["run", "--memory", "64"], "outside Lambda's 128..10240 MB"),
    (["run", "--memory", "lots"], "not a whole number"),
    (["run", "--function", "/nonexistent/fn", "--runtime", "python"], "not a readable folder"),
    (["run", "--function", ".", "--runtimes", "python,go"], "exactly one --runtime"),
    (["run", "--cold", "0", "--warm", "0", "--provisioned", "0"], "nothing to measure"),
    (["run", "--colder"], "No such option"),
    (["run", "--target", "mainframe"], "unknown target 'mainframe'"),
    (["report", "/nonexistent/run.json"], "no such results file"),
    # a target's option given for another target is refused, naming the option
    (["run", "--yes"], "--yes is for --target aws"),
    (["run", "--copies", "3"], "--copies is for --target aws"),        # its default, but given
    (["run", "--target", "docker", "--arch", "arm64"], "--arch is for --target local or aws"),
    (["run", "--lambda-runtime", "python=python3.13"], "--lambda-runtime is for --target aws"),
    (["run", "--images", "local"], "--images is for --target docker"),
    (["run", "--target", "aws", "--region", "us-east-1", "--api", "rie"],
     "--api is for --target local or docker"),
    (["run", "--target", "aws"], "--target aws needs --region"),
    # provisioned samples asked for where the emulator cannot give them
    (["run", "--api", "rie", "--provisioned", "3"], "pass --provisioned 0"),
    (["cleanup", "--target", "local", "--region", "us-east-1"], "--region is for --target aws"),
    (["cleanup", "--target", "aws"], "cleanup --target aws needs --region"),
    (["cleanup", "--target", "mainframe"], "unknown target 'mainframe'"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT)
def test_bad_input_is_one_line_and_exit_status_2(args, message, tmp_path):
    output = tmp_path / "out.json"
    result = run_cli(*args, "--quiet", "--output", output) if args[0] == "run" else run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("coldbench: error: ")
    assert message in result.stderr
    assert result.stdout == ""
    assert not output.exists()            # nothing half-written


def test_an_existing_output_file_is_kept(tmp_path):
    output = tmp_path / "out.json"
    output.write_text("earlier run")
    result = run_cli("run", "--runtimes", "python", "--output", output)
    assert result.returncode == 2 and "--force" in result.stderr
    assert output.read_text() == "earlier run"


def test_report_renders_a_saved_file_again(tmp_path):
    path = tmp_path / "run.json"
    samples = [make_sample(runtime="rust", init_ms=10.0 + i, e2e_ms=12.0 + i, billed_ms=1.0,
                           max_memory_mb=9.0).to_json() for i in range(6)]
    path.write_text(json.dumps({"schema_version": 1, "run": {"target": "local"},
                                "samples": samples}))
    result = run_cli("report", path, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert "coldbench,rust,128,cold,cold_start_ms,6,11.0,13.5" in result.stdout
    table = run_cli("report", path)
    # cold start = init + 1 ms: 11..16; p50 13.5, p90 15.5, p99 15.95; init p50 12.5
    assert table.stdout == textwrap.dedent("""\
        Runtime    Memory    Cold Start p50 (p90/p99)    Init p50 (AWS)    Warm Invocation p50 (p99)    Provisioned p50    n cold/warm/prov    Documented cold / warm    Verdict cold / warm
        ---------  --------  --------------------------  ----------------  ---------------------------  -----------------  ------------------  ------------------------  ---------------------
        rust       128 MB    13.5 (15.5/15.9)            12.5 (15.9)       -                            -                  6/0/0               50-100 / <1.00            faster / -

        All figures in ms. Cold Start = Init Duration + Duration of the first invocation; Warm and Provisioned = Duration. AWS: Init Duration of a hello-world function on AWS Lambda (so beside the built-in function only), x86_64, 128 MB, p50 (mean for Node.js 20, whose p50 is not published; maxday/lambda-perf, 2026-08-22).
        """)


def test_a_report_with_only_failures_exits_1(tmp_path):
    path = tmp_path / "run.json"
    failed = make_sample(runtime="go", init_ms=None, duration_ms=None, cold=None,
                         error={"type": "Runtime.ExitError", "message": "exit status 1"}).to_json()
    path.write_text(json.dumps({"schema_version": 1, "run": {}, "samples": [failed]}))
    result = run_cli("report", path)
    assert result.returncode == 1
    assert "no valid sample out of 1 (Runtime.ExitError x1)" in result.stderr


@pytest.mark.slow
def test_under_the_emulator_default_provisioned_samples_are_left_out_with_a_note(tmp_path):
    output = tmp_path / "run.json"
    result = run_cli("run", "--api", "rie", "--runtimes", "go", "--memory", "128", "--cold", 1,
                     "--warm", 1, "--work", 1, "--output", output, "--quiet")
    assert result.returncode == 0, result.stderr
    assert ("note: --api rie: no provisioned samples (the emulator initialises the runtime "
            "on the first invocation)\n") in result.stderr
    document = json.loads(output.read_text())
    assert [s["mode"] for s in document["samples"]] == ["cold", "warm"]
    assert document["run"]["plan"]["provisioned"] == 0
