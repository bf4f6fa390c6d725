"""Lambda's REPORT line, read from real lines of every kind and written back as Lambda
writes it; and Lambda's Billed Duration (``phases.billed_ms``) against those lines."""

import base64
from datetime import date
from pathlib import Path

import pytest

from coldbench import runtimes
from coldbench.build import Artifact, Function
from coldbench.measure.modes import Config, to_sample
from coldbench.phases import billed_ms
from coldbench.targets.aws.lambda_report import Report, find, parse_line
from coldbench.targets.base import Invoked

# Real lines, as published (tabs where the source kept them, spaces where a page rendered them):
# cold: AWS Lambda Developer Guide, "Log and monitor Python Lambda functions" (2025 example,
#   Billed Duration = ceil(Duration + Init Duration) since Init is billed)
COLD = ("REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95  Duration: 15.74 ms  "
        "Billed Duration: 147 ms Memory Size: 128 MB Max Memory Used: 56 MB  "
        "Init Duration: 130.49 ms")
# warm and SnapStart restore: `sam logs` output in github.com/docwho2/java-chime-voicesdk-sma
#   README.md (2023-07-05, Java with SnapStart, version 56)
WARM = ("REPORT RequestId: 7667964c-05ac-4891-b28c-56f1282ebc1b\tDuration: 138.27 ms\t"
        "Billed Duration: 139 ms\tMemory Size: 3009 MB\tMax Memory Used: 159 MB\t")
RESTORE = ("REPORT RequestId: b771fecc-1b53-4faf-922d-1d74357b1676\tDuration: 306.34 ms\t"
           "Billed Duration: 610 ms\tMemory Size: 3009 MB\tMax Memory Used: 155 MB\t"
           "Restore Duration: 511.25 ms\tBilled Restore Duration: 303 ms\t")
# timeout: CloudWatch Logs Insights output in github.com/DataBiosphere/azul issue 8140 (2026-06)
TIMEOUT = ("REPORT RequestId: 4725a167-21a7-5731-99c2-c3d0e3dfd770\tDuration: 180000.00 ms\t"
           "Billed Duration: 180000 ms\tMemory Size: 1280 MB\tMax Memory Used: 1201 MB\t"
           "Status: timeout")
# out of memory on a cold start: CloudWatch log quoted in github.com/trevorrea/browse-dot-show
#   (a Terraform variables file, 2025-07-29)
OUT_OF_MEMORY = ("REPORT RequestId: 806ab12b-e660-4a4a-8d9a-eee01e457f98\t"
                 "Duration: 376256.59 ms\tBilled Duration: 376257 ms\tMemory Size: 10239 MB\t"
                 "Max Memory Used: 10239 MB\tInit Duration: 551.73 ms\tStatus: error\t"
                 "Error Type: Runtime.OutOfMemory")
# a timeout before Lambda wrote Status: github.com/awslabs/aws-lambda-redshift-loader issue 80 (2016)
OLD_TIMEOUT = ("REPORT RequestId: b47cde10-029a-11e6-b5d6-1f01b70b94b2  Duration: 120000.64 ms  "
               "Billed Duration: 120000 ms Memory Size: 128 MB  Max Memory Used: 23 MB  ")


@pytest.mark.parametrize("line, expected", [
    (COLD, Report("8f507cfc-xmpl-4697-b07a-ac58fc914c95", 15.74, 147, 128, 56,
                  init_duration_ms=130.49)),
    (WARM, Report("7667964c-05ac-4891-b28c-56f1282ebc1b", 138.27, 139, 3009, 159)),
    (RESTORE, Report("b771fecc-1b53-4faf-922d-1d74357b1676", 306.34, 610, 3009, 155,
                     restore_duration_ms=511.25, billed_restore_duration_ms=303)),
    (TIMEOUT, Report("4725a167-21a7-5731-99c2-c3d0e3dfd770", 180000.0, 180000, 1280, 1201,
                     status="timeout")),
    (OUT_OF_MEMORY, Report("806ab12b-e660-4a4a-8d9a-eee01e457f98", 376256.59, 376257, 10239,
                           10239, init_duration_ms=551.73, status="error",
                           error_type="Runtime.OutOfMemory")),
    (OLD_TIMEOUT, Report("b47cde10-029a-11e6-b5d6-1f01b70b94b2", 120000.64, 120000, 128, 23)),
], ids=["cold", "warm", "snapstart-restore", "timeout", "out-of-memory", "timeout-2016"])
def test_real_report_lines_are_read_field_by_field(line, expected):
    assert parse_line(line) == expected


def test_cold_means_an_init_or_a_restore():
    assert parse_line(COLD).cold and parse_line(RESTORE).cold and parse_line(OUT_OF_MEMORY).cold
    assert not parse_line(WARM).cold and not parse_line(TIMEOUT).cold


@pytest.mark.parametrize("line", [WARM, RESTORE, TIMEOUT, OUT_OF_MEMORY])
def test_lines_are_written_back_exactly_as_lambda_writes_them(line):
    assert parse_line(line).line() == line


@pytest.mark.parametrize("line, on", [
    (COLD, date(2025, 8, 1)),            # INIT billed: 15.74 + 130.49 = 146.23 -> 147
    (WARM, date(2023, 7, 5)),            # 138.27 -> 139
    (RESTORE, date(2023, 7, 5)),         # 306.34 + Billed Restore 303 -> 610, not + 511.25
    (TIMEOUT, date(2026, 6, 1)),
    (OUT_OF_MEMORY, date(2025, 7, 29)),  # INIT not billed yet on a managed runtime: 376257
], ids=["cold", "warm", "snapstart-restore", "timeout", "cold-before-init-billing"])
def test_billed_duration_is_what_lambda_billed(line, on):
    report = parse_line(line)
    assert billed_ms(report.duration_ms, report.init_duration_ms,
                     report.billed_restore_duration_ms, on=on) == report.billed_duration_ms


def test_billing_rules_by_date_and_runtime():
    # 1 ms steps from December 2020, 100 ms before (the AWS News Blog's REPORT lines)
    assert billed_ms(27.40, on=date(2020, 11, 30)) == 100
    assert billed_ms(27.55, on=date(2020, 12, 1)) == 28
    # before 2025-08-01 INIT was billed on OS-only runtimes and container images only
    before = date(2025, 7, 31)
    assert billed_ms(9.5, 190.3, on=before) == 10
    assert billed_ms(9.5, 190.3, lambda_runtime="python3.12", on=before) == 10
    assert billed_ms(9.5, 190.3, lambda_runtime="provided.al2023", on=before) == 200
    assert billed_ms(9.5, 190.3, image=True, on=before) == 200
    assert billed_ms(9.5, 190.3, lambda_runtime="python3.12", on=date(2025, 8, 1)) == 200
    # rounding is of the sum, to the nanosecond first: 100.1 + 0.9 bills 101
    assert billed_ms(100.1, 0.9) == 101
    assert billed_ms(None) is None


@pytest.mark.parametrize("line, mode", [(COLD, "cold"), (RESTORE, "cold"), (WARM, "warm"),
                                        (TIMEOUT, "provisioned")])
def test_a_samples_billed_ms_is_its_billed_duration(line, mode):
    """A sample made from a REPORT line, as the AWS target makes it, bills what Lambda
    billed (lines from before 2025-08-01 would differ only by the INIT rule: none here)."""
    report = parse_line(line)
    config = Config(Artifact(Function.builtin(runtimes.get("java")), Path("/nonexistent"),
                             "digest", "toolchain"), report.memory_size_mb)
    extra = {"billed_duration_ms": report.billed_duration_ms, "report_cold": report.cold}
    if report.restore_duration_ms is not None:
        extra |= {"restore_ms": report.restore_duration_ms,
                  "billed_restore_ms": report.billed_restore_duration_ms}
    invoked = Invoked(duration_ms=report.duration_ms,
                      init_ms=report.init_duration_ms or report.restore_duration_ms,
                      response={"cold": mode == "cold"}, extra=extra)
    sample = to_sample(config, mode, invoked, None)
    assert sample.billed_ms == sample.extra["billed_duration_ms"] == report.billed_duration_ms


def test_the_report_is_found_in_an_invokes_log_tail():
    tail = ("START RequestId: 7667964c-05ac-4891-b28c-56f1282ebc1b Version: 56\n"
            "2023-07-05T10:16:44.029000 7667964c DEBUG Current Action is PlayAudio\n"
            "END RequestId: 7667964c-05ac-4891-b28c-56f1282ebc1b\n" + WARM + "\n")
    log_result = base64.b64encode(tail.encode()).decode()      # as the Invoke API sends it
    report = find(base64.b64decode(log_result).decode())
    assert report.duration_ms == 138.27 and report.max_memory_used_mb == 159
    assert find(tail, request_id="another") is None


def test_a_line_missing_a_field_is_no_report():
    assert parse_line("REPORT RequestId: x\tDuration: 1.00 ms\tMemory Size: 128 MB") is None
    assert parse_line("START RequestId: x Version: $LATEST") is None
    assert find("no report here\n") is None
