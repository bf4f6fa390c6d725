"""Lambda's report of an invocation in its JSON log format: the platform.report record
(Lambda Telemetry API Event schema reference), read as the Text format's REPORT line is."""

import json

from coldbench.targets.aws.lambda_report import Report, find, parse_line, parse_record

REQUEST = "d661f7cf-9208-46b9-85b0-213b04a91065"
# a log tail of a function with LogFormat JSON: the function's own JSON lines, then the
# platform's records, one object a line
JSON_TAIL = "\n".join([
    json.dumps({"time": "2026-11-30T08:42:43.901Z", "type": "platform.initStart",
                "record": {"initializationType": "on-demand", "phase": "init",
                           "runtimeVersion": "nodejs:22.v51", "functionName": "fn",
                           "functionVersion": "$LATEST"}}),
    json.dumps({"time": "2026-11-30T08:42:44.078Z", "type": "platform.start",
                "record": {"requestId": REQUEST, "version": "$LATEST"}}),
    json.dumps({"timestamp": "2026-11-30T08:42:44.078Z", "level": "INFO",
                "requestId": REQUEST, "message": "work done"}),
    json.dumps({"time": "2026-11-30T08:42:44.080Z", "type": "platform.runtimeDone",
                "record": {"requestId": REQUEST, "status": "success",
                           "metrics": {"durationMs": 1.056, "producedBytes": 50}}}),
    json.dumps({"time": "2026-11-30T08:42:44.080Z", "type": "platform.report",
                "record": {"requestId": REQUEST, "status": "success",
                           "metrics": {"durationMs": 15.74, "billedDurationMs": 147,
                                       "memorySizeMB": 128, "maxMemoryUsedMB": 56,
                                       "initDurationMs": 130.49}}}),
])


def test_a_platform_report_record_gives_the_report_line_figures():
    report = find(JSON_TAIL)
    assert report == Report(request_id=REQUEST, duration_ms=15.74, billed_duration_ms=147,
                            memory_size_mb=128, max_memory_used_mb=56, init_duration_ms=130.49)
    assert report.cold and report.status is None
    # the same invocation in the Text format reads the same
    assert parse_line(report.line()) == report


def test_a_snapstart_restore_and_a_timeout_in_json():
    restored = parse_record(
        '{"time":"2024-02-09T08:42:44.080Z","type":"platform.report","record":{"requestId":'
        f'"{REQUEST}","status":"success","metrics":{{"durationMs": 147.156,"billedDurationMs":'
        ' 201, "memorySizeMB": 512,"maxMemoryUsedMB": 91,"restoreDurationMs": 500.795,'
        '"billedRestoreDurationMs": 53 }}}')
    assert (restored.restore_duration_ms, restored.billed_restore_duration_ms) == (500.795, 53)
    assert restored.init_duration_ms is None and restored.cold
    timed_out = parse_record(json.dumps(
        {"time": "2026-11-30T08:42:44Z", "type": "platform.report",
         "record": {"requestId": REQUEST, "status": "timeout", "errorType": "Sandbox.Timedout",
                    "metrics": {"durationMs": 3000.0, "billedDurationMs": 3000,
                                "memorySizeMB": 128, "maxMemoryUsedMB": 40}}}))
    assert (timed_out.status, timed_out.error_type) == ("timeout", "Sandbox.Timedout")
    assert not timed_out.cold                 # a warm invocation: no Init Duration


def test_other_records_and_incomplete_ones_are_not_reports():
    assert parse_record(JSON_TAIL.splitlines()[3]) is None              # platform.runtimeDone
    assert parse_record('{"type": "platform.report", "record": {"requestId": "x"}}') is None
    assert parse_record('{"type": "platform.report", "record": ') is None
    assert find(JSON_TAIL, request_id="another") is None
