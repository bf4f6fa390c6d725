"""Samples -> table: golden output on constructed samples with known figures."""

import json
import textwrap

from conftest import make_sample


from coldbench.analysis.summary import WarningKind, summarize_samples
from coldbench.render.warnings import message, warning_lines
from coldbench.render.table import render


def samples():
    out = []
    for i in range(6):   # cold start = init + duration = 300 + 10 i + 2
        out.append(make_sample(init_ms=300.0 + 10 * i, duration_ms=2.0))
        # as a run with --delivery lambda predicts it (cpu_factor 1.3, stated error 20%)
        out[-1].extra.update(predicted_aws_init_ms=1.3 * (300.0 + 10 * i), prediction_error_pct=20.0)
        out.append(make_sample(runtime="java", memory_mb=512, init_ms=1500.0 + 100 * i))
    out += [make_sample(mode="warm", duration_ms=d) for d in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)]
    out += [make_sample(mode="provisioned", duration_ms=d) for d in (3.0, 5.0)]
    out.append(make_sample(runtime="java", memory_mb=512, mode="warm", duration_ms=4.0))
    out.append(make_sample(runtime="java", memory_mb=512, mode="warm", duration_ms=None,
                           error={"type": "Sandbox.Timedout", "message": "Task timed out"}))
    out.append(make_sample(runtime="java", memory_mb=512, mode="warm", duration_ms=0.2,
                           cold=True))   # misclassified
    out[-1].misclassified = True
    return out


def test_table_layout_is_the_documented_comparisons():
    text = render(summarize_samples(samples()), "markdown")
    assert text == textwrap.dedent("""\
        | Runtime   | Memory   | Cold Start p50 (p90/p99)   | Init p50 (AWS)   | Predicted AWS Init   | Warm Invocation p50 (p99)   | Provisioned p50   | n cold/warm/prov   | Documented cold / warm   | Verdict cold / warm   |
        |-----------|----------|----------------------------|------------------|----------------------|-----------------------------|-------------------|--------------------|--------------------------|-----------------------|
        | python    | 128 MB   | 327.0 (347.0/351.5)        | 325.0 (84.7)     | 422.5 (338.0-507.0)  | 0.75 (0.99)                 | 4.00              | 6/6/2              | 200-500 / 1-5            | inside / faster       |
        | java      | 512 MB   | 1,751 (1,951/1,996)        | 1,750 (238.6)    | -                    | 4.00 (4.00)                 | -                 | 6/1/0 (1 failed)   | 1000-5000 / 1-10         | inside / inside       |

        All figures in ms. Cold Start = Init Duration + Duration of the first invocation; Warm and Provisioned = Duration. AWS: Init Duration of a hello-world function on AWS Lambda (so beside the built-in function only), x86_64, 128 MB, p50 (mean for Node.js 20, whose p50 is not published; maxday/lambda-perf, 2026-08-22). Predicted AWS Init: what AWS Lambda would report as Init Duration, p50, predicted from the local samples by the calibration in use, with the range its stated error allows (docs/fidelity.md).
        """)


def test_warnings_are_typed():
    configs = {c.runtime: c for c in summarize_samples(samples())}
    python = {w.kind for w in configs["python"].warnings}
    java = {w.kind for w in configs["java"].warnings}
    assert WarningKind.TOO_FEW_SAMPLES in python           # 2 provisioned samples
    assert WarningKind.HIGH_SPREAD in python               # warm: stdev 25 % of the mean
    assert {WarningKind.FAILED, WarningKind.MISCLASSIFIED} <= java
    assert all(c.ok for c in configs.values())


def test_a_mode_without_valid_samples_fails_the_configuration():
    broken = [make_sample(init_ms=None, duration_ms=None,
                          error={"type": "Runtime.ExitError", "message": "x"})] * 2
    [config] = summarize_samples(broken)
    assert not config.ok
    assert [w.kind for w in config.warnings] == [WarningKind.NO_VALID_SAMPLES]
    assert "Runtime.ExitError x2" in message(config.warnings[0])
    assert "| failed " in render([config], "markdown")


def test_json_and_csv_carry_the_same_figures():
    configs = summarize_samples(samples())
    document = json.loads(render(configs, "json"))
    python = next(c for c in document if c["runtime"] == "python")
    assert python["modes"]["cold"]["figure"]["p50"] == 327.0
    assert python["modes"]["cold"]["figure"]["ci_low"] == 302.0
    lines = render(configs, "csv").splitlines()
    assert lines[0].startswith("function,runtime,memory_mb,mode,figure,n,min,p50")
    assert lines[1].startswith("coldbench,python,128,cold,cold_start_ms,6,302.0,327.0")


def test_common_warnings_are_one_line_and_failures_stay_one_by_one():
    few = [make_sample(memory_mb=m, init_ms=10.0) for m in (128, 256, 512)]
    few += [make_sample(memory_mb=1024, init_ms=10.0) for _ in range(2)]
    few += [make_sample(memory_mb=1769, init_ms=10.0) for _ in range(3)]
    broken = [make_sample(memory_mb=2048, init_ms=None, duration_ms=None,
                          error={"type": "Sandbox.Timedout", "message": "x"})]
    lines = warning_lines(summarize_samples(few + broken))
    assert lines == [
        "python 2048 MB cold: no valid sample out of 1 (Sandbox.Timedout x1)",
        # five places, the three with fewest samples named; the CLI prints "warning: " before
        "fewer than 6 valid samples, too few for a 95% interval of the median in 5 of 6 "
        "configuration-modes; worst: python 128 MB cold n=1, python 256 MB cold n=1, "
        "python 512 MB cold n=1; take at least 6 (--cold, --warm, --provisioned)"]


def test_a_spread_warning_names_the_worst_spreads():
    def spread(memory, values):
        return [make_sample(memory_mb=memory, mode="warm", duration_ms=v) for v in values]

    # stdev / mean: 128 MB sqrt(0.667) / 1.333 = 61%; 256 MB sqrt(0.0267) / 1.067 = 15%;
    # 512 MB sqrt(2.667) / 1.667 = 98%; 1024 MB 0% (no warning)
    configs = summarize_samples(spread(128, [1, 1, 1, 1, 1, 3]) + spread(256, [1, 1, 1, 1, 1, 1.4])
                                + spread(512, [1, 1, 1, 1, 1, 5]) + spread(1024, [2] * 6))
    assert warning_lines(configs, most=2) == [
        "the standard deviation is above 10% of the mean in 3 of 4 configuration-modes; "
        "worst: python 512 MB warm 98%, python 128 MB warm 61%; take more samples or quiet "
        "the machine, and read the median with its interval"]
    assert warning_lines(configs)[0].startswith(
        "the standard deviation is above 10% of the mean in 3 of 4 configuration-modes; "
        "python 512 MB warm 98%, python 128 MB warm 61%, python 256 MB warm 15%; ")


def test_aws_published_init_is_shown_beside_the_built_in_function_only():
    # AWS's published Init Duration is a hello-world function's: a realistic or a user's
    # function of the same runtime gets no AWS figure beside its own
    taken = []
    for function in ("coldbench", "realistic"):
        for i in range(3):
            taken.append(make_sample(init_ms=500.0 + i))
            taken[-1].function = function
    rows = {line.split()[0]: line for line in render(summarize_samples(taken), "table").splitlines()
            if line.startswith(("python", "realistic"))}
    assert "501.0 (84.7)" in rows["python"]
    assert "(-)" in rows["realistic"] and "84.7" not in rows["realistic"]
