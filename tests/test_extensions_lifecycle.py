"""Extensions through the rest of Lambda's lifecycle, with real processes under coldbench's
Runtime API: the Shutdown phase (the runtime's SIGTERM, then each extension's SHUTDOWN
with its deadline, then SIGKILL), the Logs API (2020-08-15) delivering to a real
subscriber, and a layer's extension read cold from the layers' own image.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from coldbench import layers
from coldbench.build import Function, build, cache_root
from coldbench.environments.kernel import running
from coldbench.measure.modes import Config
from coldbench.runtimes import get
from coldbench.targets.local.target import LocalTarget

from conftest import FIXTURES, ROOT

pytestmark = pytest.mark.slow

EXTENSIONS = ROOT / "tests" / "fixtures" / "extensions"
MEMORY = 1769
ROOT_AND_LOOPS = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/dev/loop-control").exists(),
    reason="mount namespaces and loop devices need root and /dev/loop-control")

# A custom runtime (provided) in bash that records the SIGTERM it gets, as a runtime that
# lets its function catch it does: it waits for each event in the background, so that
# bash runs its trap at once. IGNORE_SIGTERM: it ignores it instead.
BOOTSTRAP = r"""#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
headers=$(mktemp)
if [ -n "${IGNORE_SIGTERM:-}" ]; then
  trap '' TERM
else
  trap 'echo "$(date +%s%3N) SIGTERM" >> "$RECORD_DIR/runtime"; exit 0' TERM
fi
while true; do
  curl -sS -D "$headers" -o /dev/null "$api/invocation/next" &
  wait $!
  request_id=$(sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: *\([^[:space:]]*\).*/\1/p' "$headers")
  echo "the function says hello to $request_id"
  [ -n "${CRASH:-}" ] && { echo "the function crashes"; exit 7; }
  [ -n "${HANG:-}" ] && { echo "the function hangs"; sleep 30; }
  curl -sS -o /dev/null -X POST "$api/invocation/$request_id/response" -d '{"cold": true}'
done
"""


def opt_with(folder: Path, *extensions: tuple[str, Path]) -> Path:
    (folder / "extensions").mkdir(parents=True)
    for name, source in extensions:
        shutil.copy(source, folder / "extensions" / name)
    return folder


@pytest.fixture(scope="module")
def provided(tmp_path_factory):
    function = tmp_path_factory.mktemp("function")
    (function / "bootstrap").write_text(BOOTSTRAP)
    (function / "bootstrap").chmod(0o755)
    return build(Function.user(get("provided"), function, "handler"))


def _shut_down(artifact, tmp_path, extensions: bool, variables: dict) -> tuple[float, float]:
    """One environment invoked once, then closed: when the close began and how long it
    took (ms since the epoch, ms); the records are in tmp_path/record."""
    record = tmp_path / "record"
    record.mkdir()
    record.chmod(0o777)
    opt = opt_with(tmp_path / "opt", ("probe", EXTENSIONS / "shell.sh")) if extensions else None
    target = LocalTarget(timeout_s=10, opt_dir=opt, writable=[record], variables={
        "RECORD_DIR": str(record), "EXTENSION_RECORD": str(record / "extension"), **variables})
    try:
        environment = target.start(artifact, MEMORY, provisioned=False)
        assert environment.invoke({}).error is None
        pids = [environment.sandbox.launcher.pid, environment.sandbox.runtime_pid,
                *environment.control_plane.extensions.pids.values()] if extensions else [
                environment.sandbox.launcher.pid, environment.sandbox.runtime_pid]
        began = time.time() * 1000
        environment.close()
        took = time.time() * 1000 - began
    finally:
        target.close()
    assert not [pid for pid in pids if running(pid)], "a process outlived its environment"
    return began, took


def _shutdown_event(record: Path) -> tuple[int, dict]:
    (line,) = [line for line in (record / "extension").read_text().splitlines()
               if '"SHUTDOWN"' in line]
    at, _, event = line.partition(" ")
    return int(at), json.loads(event)


@pytest.fixture(scope="module")
def python_catching_sigterm():
    return build(Function.user(get("python"), FIXTURES / "sigterm_python", "app.handler"))


@pytest.mark.parametrize("runtime", ["provided", "python"])
def test_shutdown_sigterm_to_the_runtime_then_shutdown_with_its_deadline(
        request, tmp_path, runtime):
    """The function catches the runtime's SIGTERM (a bash runtime's trap; a Python
    handler's signal handler under AWS's runtime interface client), then the extension
    gets SHUTDOWN."""
    artifact = request.getfixturevalue("provided" if runtime == "provided"
                                       else "python_catching_sigterm")
    began, took = _shut_down(artifact, tmp_path, extensions=True, variables={})
    record = tmp_path / "record"
    (term,) = (record / "runtime").read_text().split()[:1]
    got, event = _shutdown_event(record)
    assert event["eventType"] == "SHUTDOWN" and event["shutdownReason"] == "spindown"
    # the runtime first, then the extension, which gets the rest of the 2,000 ms
    assert int(began) <= int(term) <= got
    assert 1700 - 20 <= event["deadlineMs"] - int(term) <= 2000 + 20, (event, term)
    assert began + 2000 - 20 <= event["deadlineMs"] <= began + 2000 + 20
    # both ended at once: nothing waited for the 2,000 ms deadline (a busy machine slows them)
    assert took < 1700


def test_a_runtime_that_ignores_sigterm_is_killed_after_300_ms(provided, tmp_path):
    began, took = _shut_down(provided, tmp_path, extensions=True,
                             variables={"IGNORE_SIGTERM": "1"})
    got, event = _shutdown_event(tmp_path / "record")
    assert not (tmp_path / "record" / "runtime").exists()
    assert 300 - 20 <= got - began <= 300 + 400, got - began    # a bash and a date later
    assert event["deadlineMs"] - began == pytest.approx(2000, abs=20)


def test_without_extensions_the_runtime_gets_no_sigterm(provided, tmp_path):
    """Lambda's Shutdown phase takes 0 ms for a function without extensions."""
    _, took = _shut_down(provided, tmp_path, extensions=False, variables={})
    assert not (tmp_path / "record" / "runtime").exists()
    assert took < 300


# the Logs API ---------------------------------------------------------------------------

def logs_extension() -> Path:
    """The Go extension that subscribes to the Logs API, built once per source."""
    source = EXTENSIONS / "logs-go"
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(source.iterdir())))
    binary = cache_root() / "test-extensions" / f"logs-go-{digest.hexdigest()[:16]}"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["go", "build", "-o", f"{binary}.part", "."], cwd=source, check=True,
                       env=os.environ | {"CGO_ENABLED": "0"}, timeout=900)
        os.replace(f"{binary}.part", binary)
    return binary


def _logs(artifact, tmp_path, variables: dict, timeout_s: float = 10) -> tuple[list, list[dict]]:
    """A cold and a warm invocation of ``artifact`` beside the Logs API subscriber (and
    the shell extension, recording its events), then the shutdown: the invocations and
    the records the subscriber received."""
    record = tmp_path / "record"
    record.mkdir()
    record.chmod(0o777)
    opt = opt_with(tmp_path / "opt", ("logs-subscriber", logs_extension()),
                   ("shell", EXTENSIONS / "shell.sh"))
    target = LocalTarget(timeout_s=timeout_s, opt_dir=opt, writable=[record], variables={
        "RECORD_DIR": str(record), "LOGS_RECORD": str(record / "logs"),
        "EXTENSION_RECORD": str(record / "extension"), **variables})
    try:
        environment = target.start(artifact, MEMORY, provisioned=False)
        invoked = [environment.invoke({})]
        if environment.alive:
            invoked.append(environment.invoke({}))
        environment.close()
    finally:
        target.close()
    lines = (record / "logs").read_text().splitlines()
    return invoked, [json.loads(line) for line in lines]


@pytest.mark.parametrize("protocol", ["HTTP", "TCP"])
def test_a_logs_api_subscriber_receives_the_function_lines_and_platform_records(
        provided, tmp_path, protocol):
    invoked, records = _logs(provided, tmp_path, {"LOGS_PROTOCOL": protocol})
    assert [i.error for i in invoked] == [None, None]
    ids = [r["record"]["requestId"] for r in records if r["type"] == "platform.start"]
    assert len(set(ids)) == 2, records
    kinds = [r["type"] for r in records]
    said = [r["record"] for r in records if r["type"] == "function"]
    assert said == [f"the function says hello to {i}" for i in ids], records
    assert any(r["type"] == "extension" and r["record"].startswith('logs subscription: 200 "OK"')
               for r in records), records
    (subscribed,) = [r["record"] for r in records if r["type"] == "platform.logsSubscription"]
    assert subscribed == {"name": "logs-subscriber", "state": "Subscribed",
                          "types": ["extension", "function", "platform"]}
    assert "platform.extension" in kinds
    assert [r["record"] for r in records if r["type"] == "platform.start"] == [
        {"requestId": i} for i in ids]
    assert [r["record"] for r in records if r["type"] == "platform.end"] == [
        {"requestId": i} for i in ids]
    reports = [r["record"] for r in records if r["type"] == "platform.report"]
    assert [r["requestId"] for r in reports] == ids
    assert reports[0]["metrics"]["initDurationMs"] == pytest.approx(invoked[0].init_ms, abs=0.01)
    assert "initDurationMs" not in reports[1]["metrics"]
    assert [r["metrics"]["durationMs"] for r in reports] == pytest.approx(
        [i.duration_ms for i in invoked], abs=0.01)
    # the Telemetry API's own events are not the Logs API's; nor is runtimeDone in the
    # 2020-08-15 schema
    assert not {"platform.initStart", "platform.initReport", "platform.runtimeDone",
                "platform.telemetrySubscription"} & set(kinds), kinds
    assert all(r["time"].endswith("Z") for r in records)


def test_the_2021_03_18_schema_adds_runtime_done(provided, tmp_path):
    invoked, records = _logs(provided, tmp_path, {"LOGS_SCHEMA": "2021-03-18"})
    ids = [r["record"]["requestId"] for r in records if r["type"] == "platform.start"]
    done = [r["record"] for r in records if r["type"] == "platform.runtimeDone"]
    assert len(ids) == 2 and done == [{"requestId": i, "status": "success"} for i in ids]



def test_an_invocation_that_times_out_is_reported_and_shuts_the_extensions_down(
        provided, tmp_path):
    """runtimeDone says "timeout"; the extensions get SHUTDOWN with the reason "timeout"
    ("Lambda Extensions API", Shutdown), and what the function wrote before is delivered."""
    (invoked,), records = _logs(provided, tmp_path, {"HANG": "1", "LOGS_SCHEMA": "2021-03-18"},
                                timeout_s=2)
    assert invoked.error["type"] == "Sandbox.Timedout"
    (request_id,) = [r["record"]["requestId"] for r in records if r["type"] == "platform.start"]
    assert [r["record"] for r in records if r["type"] == "function"] == [
        f"the function says hello to {request_id}", "the function hangs"]
    assert [r["record"] for r in records if r["type"] == "platform.runtimeDone"] == [
        {"requestId": request_id, "status": "timeout"}]
    _, event = _shutdown_event(tmp_path / "record")
    assert event["shutdownReason"] == "timeout"


def test_a_runtime_that_crashes_leaves_its_extensions_to_a_failure_shutdown(
        provided, tmp_path):
    """The error is the runtime's (Runtime.ExitError, not Extension.Crash); the
    extensions live on into the Shutdown phase, with the reason "failure", and the Logs
    API subscriber gets the function's last lines and Lambda's platform.fault."""
    (invoked,), records = _logs(provided, tmp_path, {"CRASH": "1", "LOGS_SCHEMA": "2021-03-18"})
    assert invoked.error["type"] == "Runtime.ExitError", invoked.error
    assert "exit status 7" in invoked.error["message"]
    (request_id,) = [r["record"]["requestId"] for r in records if r["type"] == "platform.start"]
    assert [r["record"] for r in records if r["type"] == "function"] == [
        f"the function says hello to {request_id}", "the function crashes"]
    assert [r["record"] for r in records if r["type"] == "platform.runtimeDone"] == [
        {"requestId": request_id, "status": "failure"}]
    assert [r["record"] for r in records if r["type"] == "platform.fault"] == [
        f"RequestId: {request_id} Process exited before completing request"]
    _, event = _shutdown_event(tmp_path / "record")
    assert event["shutdownReason"] == "failure"


# a layer's content, extensions included, read cold ----------------------------------------

BLOB_MB = 24


def _layered_cold_start(tmp_path, name: str, files: dict[str, bytes | Path]):
    """One cold start of the layer-using Python function with a layer of ``files`` (path
    in the layer -> bytes, or a file to copy, made executable), on the Lambda-shaped code
    path."""
    root = tmp_path / name
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, root / path)
            (root / path).chmod(0o755)
        else:
            (root / path).write_bytes(content)
    function = Function.user(get("python"), FIXTURES / "layer_user", "app.handler")
    artifact = build(replace(function, layers=(layers.load(root),)))
    target = LocalTarget(timeout_s=30, delivery="lambda")
    try:
        target.prepare([Config(artifact, MEMORY)], None)
        environment = target.start(artifact, MEMORY, provisioned=False)
        invoked = environment.invoke({})
        environment.close()
    finally:
        target.close()
    assert invoked.error is None, invoked.error
    return invoked


@ROOT_AND_LOOPS
def test_what_init_reads_from_a_layer_is_read_cold_and_counted(tmp_path):
    """A layer whose module reads a 24 MB file at import: init_read_mb grows by what it
    read, against the same layer whose module does not read it."""
    blob = os.urandom(BLOB_MB * 1_000_000)
    reading = _layered_cold_start(tmp_path, "reading", {
        "python/layered.py": b"WHO = len(open('/opt/blob.bin', 'rb').read())\n",
        "blob.bin": blob})
    idle = _layered_cold_start(tmp_path, "idle", {
        "python/layered.py": b"WHO = 0\n", "blob.bin": blob})
    assert reading.response["layered"] == BLOB_MB * 1_000_000
    grown = reading.extra["init_read_layers_mb"] - idle.extra["init_read_layers_mb"]
    assert BLOB_MB <= grown <= BLOB_MB + 2, (reading.extra, idle.extra)
    assert (reading.extra["init_read_mb"] - idle.extra["init_read_mb"]
            == pytest.approx(grown, abs=2))


@ROOT_AND_LOOPS
def test_a_layers_extension_is_read_cold_from_the_layers_image(tmp_path):
    """The extension's executable is read at /opt/extensions from the layers' image, as
    on Lambda, and counted: what a layer with only its module read, plus the extension."""
    plain = _layered_cold_start(tmp_path, "plain", {"python/layered.py": b"WHO = 'x'\n"})
    with_extension = _layered_cold_start(tmp_path, "extension", {
        "python/layered.py": b"WHO = 'x'\n", "extensions/probe": logs_extension()})
    assert [e["name"] for e in with_extension.extra["extensions"]] == ["probe"]
    read_more = (with_extension.extra["init_read_layers_mb"]
                 - plain.extra["init_read_layers_mb"])
    # a Go binary is read as its pages are touched: its start-up touches at least 1 MB
    assert 1.0 <= read_more <= logs_extension().stat().st_size / 1e6 + 1, read_more


# Ctrl-C -----------------------------------------------------------------------------------

def _processes_named(token: str) -> list[int]:
    """The processes whose name (argv[0]) starts with ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(token.encode()):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_ctrl_c_leaves_no_extension_running(tmp_path):
    """Interrupted while an extension that never becomes ready holds init up: exit 130,
    and no process the extension started outlives the run."""
    token = f"coldbench-test-{os.getpid()}-{time.monotonic_ns()}"
    layer = tmp_path / "hanging"
    (layer / "extensions").mkdir(parents=True)
    extension = layer / "extensions" / token
    extension.write_text(f"""#!/bin/bash
curl -sS -o /dev/null -X POST "http://$AWS_LAMBDA_RUNTIME_API/2020-01-01/extension/register" \\
  -H "Lambda-Extension-Name: {token}" -d '{{"events": ["SHUTDOWN"]}}'
(exec -a {token}-child sleep 3600) &
exec -a {token} sleep 3600
""")
    extension.chmod(0o755)
    cli = subprocess.Popen([sys.executable, "-m", "coldbench", "run", "--runtime", "python",
                            "--layer", str(layer), "--memory", "1769", "--cold", "2",
                            "--warm", "0",
                            "--provisioned", "0", "--timeout", "60", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(_processes_named(token)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_processes_named(token)) >= 2, "the extension did not start"
        cli.send_signal(signal.SIGINT)
        _, stderr = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 130, stderr
    assert "interrupted" in stderr
    assert _processes_named(token) == []


def test_registration_answers_the_account_id_only_to_an_extension_that_asks(provided, tmp_path):
    record = tmp_path / "record"
    record.mkdir()
    record.chmod(0o777)
    extensions = []
    for name, feature in (("plain", ""), ("asking", "accountId")):
        extension = tmp_path / name
        extension.write_text(f"""#!/bin/bash
api="http://$AWS_LAMBDA_RUNTIME_API/2020-01-01/extension"
headers=$(mktemp)
curl -sS -D "$headers" -o "$RECORD_DIR/{name}.part" -X POST "$api/register" \\
  -H "Lambda-Extension-Name: {name}" -H "Lambda-Extension-Accept-Feature: {feature}" \\
  -d '{{"events": []}}'
mv "$RECORD_DIR/{name}.part" "$RECORD_DIR/{name}"
id=$(grep -i '^Lambda-Extension-Identifier:' "$headers" | cut -d: -f2 | tr -d ' \\r')
curl -sS -o /dev/null "$api/event/next" -H "Lambda-Extension-Identifier: $id"
""")
        extension.chmod(0o755)
        extensions.append((name, extension))
    opt = opt_with(tmp_path / "opt", *extensions)
    target = LocalTarget(timeout_s=5, opt_dir=opt, writable=[record],
                         variables={"RECORD_DIR": str(record)})
    try:
        environment = target.start(provided, MEMORY, provisioned=False)
        assert environment.invoke({}).error is None
        environment.close()
    finally:
        target.close()
    plain, asking = (json.loads((record / name).read_text()) for name in ("plain", "asking"))
    assert set(plain) == {"functionName", "functionVersion", "handler"}
    assert asking == plain | {"accountId": asking["accountId"]} and asking["accountId"]


def test_logs_api_refusals_are_lambdas(provided, tmp_path):
    """Buffering outside Lambda's limits and an unknown protocol are 400 Logs.ValidationError;
    a repeated subscription is accepted (no second one); the Telemetry API after the Logs
    API is refused."""
    record = tmp_path / "record"
    record.mkdir()
    record.chmod(0o777)
    extension = tmp_path / "refused"
    extension.write_text("""#!/bin/bash
api="http://$AWS_LAMBDA_RUNTIME_API"
headers=$(mktemp)
curl -sS -D "$headers" -o /dev/null -X POST "$api/2020-01-01/extension/register" \\
  -H "Lambda-Extension-Name: refused" -d '{"events": []}'
id=$(grep -i '^Lambda-Extension-Identifier:' "$headers" | cut -d: -f2 | tr -d ' \\r')
put() {
  curl -sS -o "$RECORD_DIR/$1.body" -w '%{http_code}' -X PUT "$api/$2" \\
    -H "Lambda-Extension-Identifier: $id" -d "$3" > "$RECORD_DIR/$1.status"
}
good='{"types": ["function"], "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:9/"}}'
put small 2020-08-15/logs '{"types": ["function"], "buffering": {"maxItems": 10},
  "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:9/"}}'
put udp 2020-08-15/logs '{"types": ["function"], "destination": {"protocol": "UDP", "URI": "udp://sandbox.localdomain:9/"}}'
put first 2020-08-15/logs "$good"
put again 2020-08-15/logs "$good"
put telemetry 2022-07-01/telemetry "$good"
curl -sS -o /dev/null "$api/2020-01-01/extension/event/next" -H "Lambda-Extension-Identifier: $id"
""")
    extension.chmod(0o755)
    opt = opt_with(tmp_path / "opt", ("refused", extension))
    target = LocalTarget(timeout_s=5, opt_dir=opt, writable=[record],
                         variables={"RECORD_DIR": str(record)})
    try:
        environment = target.start(provided, MEMORY, provisioned=False)
        assert environment.invoke({}).error is None
        environment.close()
    finally:
        target.close()

    def answer(name: str) -> tuple[int, object]:
        return (int((record / f"{name}.status").read_text()),
                json.loads((record / f"{name}.body").read_text()))
    for name in ("small", "udp"):
        status, body = answer(name)
        assert status == 400 and body["errorType"] == "Logs.ValidationError", (name, body)
    assert answer("small")[1]["errorMessage"] == "buffering.maxItems must be an integer from 1000 to 10000"
    assert answer("first") == answer("again") == (200, "OK")
    status, body = answer("telemetry")
    assert status == 400 and "2020-08-15/logs already" in body["errorMessage"], body
