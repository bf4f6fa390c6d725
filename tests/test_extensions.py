"""External extensions under coldbench's Runtime API, with known answers: real extension
processes (a shell script with curl, as AWS's sample shell extension is, and a Go program,
as AWS's sample extensions are, built here) speaking the real Extensions API to the local
target, and the real Telemetry API delivering to an HTTP listener.

Tolerances: a 200 ms sleep before registering moves the registration and raises Init
Duration by 200 ms, -70/+80 ms with the Go extension, -100/+150 ms with the shell one
(medians of seven cold starts against the same extension without the sleep, interleaved,
on a shared machine whose load average reached 10 on 2 cores: each of the shell
extension's steps is a process start, bash's or curl's). Without the sleep, the
extension's own start-up after registering overlaps the runtime's init and slows it, so
Init Duration grows by less than the sleep. 150 ms of work after each INVOKE shows as
150 ms of post-runtime time (at least 145 ms with the Duration it overlaps: the extension
gets the event with the runtime, give or take a thread switch; a median of 140-240 ms,
against under 100 ms without the work: the shell extension's next curl is post-runtime
time too) and leaves Duration within 50 ms of the extension without the work.
"""

import http.server
import json
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import pytest

from coldbench.build import Function, build
from coldbench.environments.kernel import running
from coldbench.errors import UsageError
from coldbench.measure.modes import Measurement, to_sample
from coldbench.model import Config, Plan
from coldbench.phases import now_ns
from coldbench.results.schema import ResultsWriter, load
from coldbench.runtimes import get
from coldbench.targets.local.target import LocalTarget

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from extension_costs import EXTENSIONS, go_extension, rust_extension  # noqa: E402

pytestmark = pytest.mark.slow

COLD = 7
# how far below and above 200 ms the Go (False) and the shell (True) extension's
# registration and Init Duration may move
TOLERANCE = {False: (70, 80), True: (100, 150)}
# one full vCPU (Lambda's share at 1,769 MB): a shell extension's curl is not throttled
MEMORY = 1769


@pytest.fixture(scope="module")
def artifact():
    return build(Function.builtin(get("go")))


@pytest.fixture(scope="module", params=["shell", "go"])
def extension(request) -> Path:
    return EXTENSIONS / "shell.sh" if request.param == "shell" else go_extension()


def opt_with(tmp_path: Path, *extensions: tuple[str, Path]) -> Path:
    """An /opt folder whose extensions folder holds ``extensions`` (name, executable)."""
    opt = tmp_path / f"opt-{len(list(tmp_path.glob('opt-*')))}"
    (opt / "extensions").mkdir(parents=True)
    for name, source in extensions:
        shutil.copy(source, opt / "extensions" / name)
    return opt


def cold_starts(artifact, opt: Path | None, variables: dict, count: int = COLD,
                warm: int = 0, timeout_s: float = 10, writable: list[Path] = ()) -> list[list]:
    """``count`` environments, each invoked once cold and ``warm`` times more;
    ``writable``: folders the environments may write into (what an extension saw)."""
    target = LocalTarget(timeout_s=timeout_s, opt_dir=opt, variables=variables,
                         writable=writable)
    runs, pids = [], []
    try:
        for _ in range(count):
            environment = target.start(artifact, MEMORY, provisioned=False)
            pids += [environment.sandbox.launcher.pid,
                     *environment.control_plane.extensions.pids.values()]
            try:
                runs.append([environment.invoke({}) for _ in range(1 + warm)])
            finally:
                environment.close()
    finally:
        target.close()
    assert not [pid for pid in pids if running(pid)], "a process outlived its environment"
    return runs


def test_a_sleep_before_registering_raises_init_duration_by_it(artifact, extension, tmp_path):
    opt = opt_with(tmp_path, ("probe", extension))
    quick, slow = [], []
    sleep = {"EXTENSION_SLEEP_BEFORE_REGISTER_MS": "200"}
    for _ in range(COLD):           # interleaved, so that the machine's drift hits both
        quick += [run[0] for run in cold_starts(artifact, opt, {}, count=1)]
        slow += [run[0] for run in cold_starts(artifact, opt, sleep, count=1)]
    assert all(r.error is None for r in quick + slow), [r.error for r in quick + slow]
    low, high = TOLERANCE[extension.name == "shell.sh"]
    raised = (statistics.median(r.init_ms for r in slow)
              - statistics.median(r.init_ms for r in quick))
    assert 200 - low <= raised <= 200 + high, raised
    registered = [statistics.median(r.extra["extensions"][0]["registered_ms"] for r in runs)
                  for runs in (quick, slow)]
    assert 200 - low <= registered[1] - registered[0] <= 200 + high, registered
    # the runtime waited for the registration, not for the extension's readiness
    for r in slow:
        (probe,) = r.extra["extensions"]
        assert probe["name"] == "probe" and probe["events"] == ["INVOKE", "SHUTDOWN"]
        assert 195 <= probe["registered_ms"] <= probe["ready_ms"] <= r.init_ms + 0.001
        assert r.extra["extension_registration_ms"] >= probe["registered_ms"]
        assert 0 < r.extra["runtime_init_ms"] < r.init_ms


def test_work_after_invoke_is_post_runtime_time_not_duration(artifact, extension, tmp_path):
    opt = opt_with(tmp_path, ("probe", extension))
    idle = [i for run in cold_starts(artifact, opt, {}, count=1, warm=3) for i in run[1:]]
    busy_runs = cold_starts(artifact, opt, {"EXTENSION_WORK_AFTER_INVOKE_MS": "150"},
                            count=1, warm=3)
    busy = [i for i in busy_runs[0][1:]]
    assert all(r.error is None for r in idle + busy), [r.error for r in idle + busy]
    post = {name: statistics.median(r.extra["extension_post_runtime_ms"] for r in runs)
            for name, runs in (("idle", idle), ("busy", busy))}
    # what the extension takes to ask again is post-runtime time too: nothing for the Go
    # extension, a curl's start for the shell one
    assert post["idle"] < 100, post
    # the extension's work starts with the runtime's: what is left of it after the response
    assert all(r.extra["extension_post_runtime_ms"] + r.duration_ms >= 145 for r in busy), busy
    assert 140 <= post["busy"] <= 240, post
    assert abs(statistics.median(r.duration_ms for r in busy)
               - statistics.median(r.duration_ms for r in idle)) < 50


def test_the_next_invocation_waits_for_the_extensions(artifact, tmp_path):
    """The environment hands no event over before the extension has asked for its next:
    invoke() returns once it has, while the caller's response came 150 ms earlier."""
    opt = opt_with(tmp_path, ("probe", EXTENSIONS / "shell.sh"))
    target = LocalTarget(timeout_s=10, opt_dir=opt,
                         variables={"EXTENSION_WORK_AFTER_INVOKE_MS": "150"})
    try:
        environment = target.start(artifact, MEMORY, provisioned=False)
        environment.invoke({})
        invoked = environment.invoke({})
        returned = now_ns()
        assert invoked.responded_ns is not None
        assert (returned - invoked.responded_ns) / 1e6 >= 145
        environment.close()
    finally:
        target.close()


@pytest.mark.parametrize("behaviour, error_type", [
    ("exit-at-init", "Extension.Crash"),
    ("init-error", "Extension.ConfigInvalid"),
    ("never-ready", "Sandbox.Timedout"),
])
def test_a_failing_extension_is_an_init_error_of_lambdas_type(artifact, extension, tmp_path,
                                                              behaviour, error_type):
    opt = opt_with(tmp_path, ("probe", extension))
    started = time.monotonic()
    (run,) = cold_starts(artifact, opt, {"EXTENSION_BEHAVIOUR": behaviour}, count=1,
                         timeout_s=2)
    (invoked,) = run
    assert invoked.error["type"] == error_type and invoked.error["phase"] == "init"
    assert invoked.duration_ms is None
    if behaviour == "never-ready":
        assert "probe" in invoked.error["message"]
    assert time.monotonic() - started < 15


def test_nothing_an_extension_started_outlives_its_environment(artifact, tmp_path):
    opt = opt_with(tmp_path, ("probe", EXTENSIONS / "shell.sh"))
    target = LocalTarget(timeout_s=2, opt_dir=opt, variables={"EXTENSION_BEHAVIOUR": "never-ready"})
    try:
        environment = target.start(artifact, MEMORY, provisioned=False)
        pids = list(environment.control_plane.extensions.pids.values())
        assert pids and all(running(pid) for pid in pids)
        environment.invoke({})
        assert not environment.alive
        assert not any(running(pid) for pid in pids)
    finally:
        target.close()


def test_an_extension_that_ignores_shutdown_is_killed_at_lambdas_deadline(artifact, tmp_path):
    opt = opt_with(tmp_path, ("probe", EXTENSIONS / "shell.sh"))
    target = LocalTarget(timeout_s=5, opt_dir=opt,
                         variables={"EXTENSION_BEHAVIOUR": "ignore-shutdown"})
    try:
        environment = target.start(artifact, MEMORY, provisioned=False)
        (pid,) = environment.control_plane.extensions.pids.values()
        assert environment.invoke({}).error is None
        started = time.monotonic()
        environment.close()
        waited = time.monotonic() - started
        assert 1.5 <= waited <= 2.6, waited       # 2,000 ms, less the runtime's 300 ms
        assert not running(pid)
    finally:
        target.close()


def test_an_extension_that_hangs_after_invoke_times_the_invocation_out(artifact, tmp_path):
    opt = opt_with(tmp_path, ("probe", EXTENSIONS / "shell.sh"))
    (run,) = cold_starts(artifact, opt, {"EXTENSION_WORK_AFTER_INVOKE_MS": "60000"}, count=1,
                         timeout_s=2)
    (invoked,) = run
    assert invoked.error["type"] == "Sandbox.Timedout" and invoked.error["phase"] == "invoke"
    assert invoked.response is not None         # the function had answered


class _Listener(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.extend(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_telemetry_events_carry_the_samples_instants(artifact, tmp_path):
    """A subscriber (here a Python listener subscribed by a small extension) gets the
    platform events, with the durations the samples have."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    subscriber = tmp_path / "subscriber"
    subscriber.write_text(f"""#!/bin/bash
set -euo pipefail
api="http://$AWS_LAMBDA_RUNTIME_API"
headers=$(mktemp)
curl -sS -D "$headers" -o /dev/null -X POST "$api/2020-01-01/extension/register" \\
  -H "Lambda-Extension-Name: subscriber" -d '{{"events": ["INVOKE"]}}'
id=$(grep -i '^Lambda-Extension-Identifier:' "$headers" | cut -d: -f2 | tr -d ' \\r')
curl -sS -f -o /dev/null -X PUT "$api/2022-07-01/telemetry" -H "Lambda-Extension-Identifier: $id" \\
  -d '{{"schemaVersion": "2022-07-01", "types": ["platform", "function", "extension"],
       "buffering": {{"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}},
       "destination": {{"protocol": "HTTP", "URI": "http://sandbox.localdomain:{port}/"}}}}'
echo "subscriber ready"
while true; do
  curl -sS -o /dev/null "$api/2020-01-01/extension/event/next" -H "Lambda-Extension-Identifier: $id"
done
""")
    subscriber.chmod(0o755)
    opt = opt_with(tmp_path, ("subscriber", subscriber))
    try:
        (run,) = cold_starts(artifact, opt, {}, count=1, warm=1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum(
                e["type"] == "platform.report" for e in _Listener.received) < 2:
            time.sleep(0.05)
    finally:
        server.shutdown()
    events = _Listener.received
    kinds = [e["type"] for e in events]
    for kind in ("platform.initStart", "platform.initRuntimeDone", "platform.initReport",
                 "platform.start", "platform.runtimeDone", "platform.report",
                 "platform.extension", "platform.telemetrySubscription"):
        assert kind in kinds, kinds
    cold, warm = run
    (init_report,) = [e for e in events if e["type"] == "platform.initReport"]
    assert init_report["record"]["metrics"]["durationMs"] == pytest.approx(cold.init_ms, abs=0.01)
    done = [e["record"] for e in events if e["type"] == "platform.runtimeDone"]
    assert [d["metrics"]["durationMs"] for d in done] == pytest.approx(
        [cold.duration_ms, warm.duration_ms], abs=0.01)
    reports = [e["record"] for e in events if e["type"] == "platform.report"]
    assert reports[0]["metrics"]["initDurationMs"] == pytest.approx(cold.init_ms, abs=0.01)
    assert "initDurationMs" not in reports[1]["metrics"]
    assert all(e["time"].endswith("Z") for e in events)
    assert any(
        e["type"] == "extension" and e["record"] == "subscriber ready" for e in events)


def test_a_subscription_outside_lambdas_limits_is_refused(artifact, tmp_path):
    subscriber = tmp_path / "subscriber"
    subscriber.write_text("""#!/bin/bash
api="http://$AWS_LAMBDA_RUNTIME_API"
headers=$(mktemp)
curl -sS -D "$headers" -o /dev/null -X POST "$api/2020-01-01/extension/register" \\
  -H "Lambda-Extension-Name: subscriber" -d '{"events": []}'
id=$(grep -i '^Lambda-Extension-Identifier:' "$headers" | cut -d: -f2 | tr -d ' \\r')
status=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$api/2022-07-01/telemetry" \\
  -H "Lambda-Extension-Identifier: $id" -d '{"types": ["platform"], "buffering": {"maxItems": 10},
  "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:9/"}}')
[ "$status" = 400 ] || exit 1
curl -sS -o /dev/null "$api/2020-01-01/extension/event/next" -H "Lambda-Extension-Identifier: $id"
""")
    subscriber.chmod(0o755)
    (run,) = cold_starts(artifact, opt_with(tmp_path, ("subscriber", subscriber)), {}, count=1)
    assert run[0].error is None, run[0].error


def test_an_extension_built_on_awss_rust_crate_runs_through_cold_warm_and_shutdown(
        artifact, tmp_path):
    """It registers, subscribes to the Telemetry API on its own listener (as the crate's
    telemetry example does), processes the events (each parsed into the crate's types),
    and is shut down, in time, twice."""
    opt = opt_with(tmp_path, ("telemetry-extension", rust_extension()))
    started = time.monotonic()
    runs = cold_starts(artifact, opt, {}, count=2, warm=2, writable=[opt])
    assert time.monotonic() - started < 30
    for run in runs:
        assert [r.error for r in run] == [None] * 3
        assert run[0].extra["extensions"][0]["name"] == "telemetry-extension"
        assert all(r.extra["extension_post_runtime_ms"] >= 0 for r in run)
    seen = (opt / "seen.log").read_text().splitlines()
    assert seen.count("event SHUTDOWN spindown") == 2
    assert sum(line.startswith("event INVOKE") for line in seen) == 6
    for kind in ("platform.initStart", "platform.initRuntimeDone", "platform.initReport",
                 "platform.start", "platform.runtimeDone", "platform.report",
                 "platform.extension", "platform.telemetrySubscription"):
        assert f"telemetry {kind}" in seen, seen
    assert "telemetry other" not in seen          # every event parsed as the crate's types


def test_an_exec_wrapper_gets_the_runtimes_command_line(tmp_path):
    """``AWS_LAMBDA_EXEC_WRAPPER`` on a managed runtime: the script starts the runtime
    with the arguments it was given, as Lambda's runtimes do."""
    wrapper = tmp_path / "wrapper"
    seen = tmp_path / "arguments"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {seen}\nexec "$@"\n')
    wrapper.chmod(0o755)
    python = build(Function.builtin(get("python")))
    target = LocalTarget(timeout_s=20, variables={"AWS_LAMBDA_EXEC_WRAPPER": str(wrapper)},
                         writable=[tmp_path])
    try:
        environment = target.start(python, MEMORY, provisioned=False)
        invoked = environment.invoke({})
        environment.close()
    finally:
        target.close()
    assert invoked.error is None and invoked.response["cold"] is True
    launch = get("python").launch(python.task_root, python.function.handler, 512)
    assert seen.read_text().splitlines() == list(launch.argv)


def test_an_extension_that_is_not_executable_is_bad_input(tmp_path):
    opt = opt_with(tmp_path, ("probe", EXTENSIONS / "shell.sh"))
    (opt / "extensions" / "probe").chmod(0o644)
    with pytest.raises(UsageError, match="not executable"):
        LocalTarget(timeout_s=2, opt_dir=opt)


def test_billed_time_includes_the_post_runtime_time(artifact, tmp_path):
    opt = opt_with(tmp_path, ("probe", go_extension()))
    (run,) = cold_starts(artifact, opt, {"EXTENSION_WORK_AFTER_INVOKE_MS": "150"}, count=1, warm=1)
    config = Config(artifact, MEMORY)
    sample = to_sample(config, "warm", run[1], None)
    post = run[1].extra["extension_post_runtime_ms"]
    assert sample.billed_ms >= run[1].duration_ms + post >= 145


def test_a_measured_run_keeps_the_attribution_in_its_results_file(artifact, tmp_path):
    """Through the measurement workflow into a results file and back: the cold samples'
    attribution, every sample's post-runtime time (billed, outside Duration and e2e)."""
    opt = opt_with(tmp_path, ("probe", go_extension()))
    target = LocalTarget(timeout_s=10, opt_dir=opt,
                         variables={"EXTENSION_WORK_AFTER_INVOKE_MS": "150"})
    writer = ResultsWriter(tmp_path / "run.json", run={})
    try:
        Measurement(target, [Config(artifact, MEMORY)],
                    Plan(cold=2, warm=2, provisioned=1, event={}), writer.add).run()
    finally:
        target.close()
        writer.close()
    samples = load(tmp_path / "run.json").samples
    assert [s.mode for s in samples].count("cold") == 2 and all(s.error is None for s in samples)
    for s in samples:
        post = s.extra["extension_post_runtime_ms"]
        assert post + s.duration_ms >= 145     # its work began with the runtime's
        assert s.billed_ms >= s.duration_ms + post
        assert s.e2e_ms < (s.init_ms or 0) + s.duration_ms + post   # the caller did not wait
        if s.mode == "cold":
            assert [e["name"] for e in s.extra["extensions"]] == ["probe"]
            assert s.extra["runtime_init_ms"] > 0
        else:
            assert "extensions" not in s.extra
