"""The local target: coldbench plays the Lambda service on this machine.

Each execution environment is a fresh runtime process with a clean, Lambda-shaped set of
variables, its own /tmp, its own Runtime API server on 127.0.0.1, and a cgroup with the
memory limit and CPU share of its memory size.

With ``api="rie"`` the runtime process is started under AWS's Runtime Interface Emulator
instead, as a plain process too (``coldbench.environments.rie``), so that one function can be measured
under both control planes on the same machine.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

from coldbench.environments import cgroups, rie
from coldbench.build import Artifact
from coldbench.errors import UsageError
from coldbench.phases import ms_between
from coldbench.environments.runtime_api import RuntimeAPI, now_ns
from coldbench.targets.base import Environment, Invoked, Target

CPU_MODELS = ("lambda", "proportional", "none")
# the control planes a runtime can talk to: coldbench's own Runtime API, or AWS's emulator
APIS = ("coldbench", "rie")
REGION = "us-east-1"
ACCOUNT = "000000000000"
_POLL_S = 0.02          # how often a waiting invoke looks for a crash or a timeout
_LOG_TAIL_LINES = 20


class LocalTarget(Target):
    """Runtime processes on this machine, one environment at a time."""

    name = "local"

    def __init__(self, timeout_s: float, cpu_model: str = "lambda", limits: bool = True,
                 api: str = "coldbench"):
        if cpu_model not in CPU_MODELS:
            raise UsageError(f"unknown CPU model '{cpu_model}': choose {', '.join(CPU_MODELS)}")
        check_api(api)
        self.timeout_s = timeout_s
        self.cpu_model = cpu_model
        self.cgroup_version = cgroups.detect() if limits else None
        if limits and self.cgroup_version is None:
            raise UsageError("no writable cgroup memory and CPU controllers under "
                             f"{cgroups.ROOT}: run as root, or pass --no-limits to measure "
                             "without Lambda's memory and CPU limits")
        self.api = api
        self.rie = rie.executable() if api == "rie" else None   # built before anything runs
        self.run_id = uuid.uuid4().hex[:8]
        self._sequence = itertools.count(1)
        self._live: set[LocalEnvironment] = set()

    def start(self, artifact: Artifact, memory_mb: int, provisioned: bool) -> "LocalEnvironment":
        kind = RieProcessEnvironment if self.api == "rie" else LocalEnvironment
        return start_environment(self, kind, artifact, memory_mb, provisioned,
                                 f"{self.run_id}-{next(self._sequence)}")

    def describe(self) -> dict:
        described = {
            "target": self.name,
            "api": self.api,
            "cpu_model": self.cpu_model if self.cgroup_version else "none",
            "limits": f"cgroup {self.cgroup_version}" if self.cgroup_version else "none",
            "host_cpus": cgroups.host_cpus(),
            "kernel": platform.release(),
        }
        if self.api == "rie":
            described["rie"] = rie_description()
        return described

    def notes(self, memory_mb: int) -> list[str]:
        return limit_notes(memory_mb, bool(self.cgroup_version), self.cpu_model, self.api)

    def close(self) -> None:
        for environment in list(self._live):
            environment.close()

    def _forget(self, environment: "LocalEnvironment") -> None:
        self._live.discard(environment)


PROVISIONED_UNDER_RIE = rie.NO_PROVISIONED
RIE_CPU_NOTE = ("under the RIE the CPU share applies from the first response on (the "
                "emulator does not tell when init ends): the first invocation, init "
                "included, runs unthrottled")


def start_environment(target, kind, artifact: Artifact, memory_mb: int, provisioned: bool,
                      name: str):
    """A new environment of class ``kind``, kept in ``target._live`` until it closes; a
    provisioned one returns once its init has finished (the emulator cannot tell when)."""
    if provisioned and target.api == "rie":
        raise UsageError(PROVISIONED_UNDER_RIE)
    environment = kind(target, artifact, memory_mb, provisioned, name)
    target._live.add(environment)
    if provisioned:
        environment.wait_initialized()
    return environment


def limit_notes(memory_mb: int, limited: bool, cpu_model: str, api: str) -> list[str]:
    """What to know about the CPU a memory size got, on a target that applies limits."""
    notes = []
    share = cgroups.CpuShare.for_memory(memory_mb)
    if limited and cpu_model != "none" and share.capped:
        notes.append(f"{memory_mb} MB: CPU share capped at {share.applied_vcpus:g} vCPUs "
                     f"(Lambda gives {share.lambda_vcpus:.2f}; this host has "
                     f"{cgroups.host_cpus()})")
    if api == "rie" and limited and cpu_model == "lambda":
        notes.append(f"{memory_mb} MB: {RIE_CPU_NOTE}")
    return notes


def check_api(api: str) -> None:
    if api not in APIS:
        raise UsageError(f"unknown control plane '{api}': choose {', '.join(APIS)}")


def rie_description() -> dict:
    """What the results say about the emulator in use and how its samples were timed."""
    return {"module": rie.PACKAGE, "version": rie.VERSION,
            "init_ms": "not measured: the emulator folds init into the first invocation",
            "duration_ms": "as the client saw it: request sent to response received"}


def lambda_variables(artifact: Artifact, memory_mb: int, provisioned: bool, api: str,
                     function_name: str, tmp: Path) -> dict[str, str]:
    """The variables Lambda sets for a runtime (AWS Lambda documentation, "Defined runtime
    environment variables"), plus TMPDIR pointing at this environment's own /tmp."""
    runtime = artifact.function.runtime
    return {
        "AWS_LAMBDA_RUNTIME_API": api,
        "_HANDLER": artifact.function.handler,
        "LAMBDA_TASK_ROOT": str(artifact.task_root),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime.lambda_runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency" if provisioned else "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "TMPDIR": str(tmp),
    }


def out_of_memory(phase: str, memory_mb: int) -> dict:
    """The error of a runtime the kernel killed at the memory limit, as Lambda words it."""
    return {"type": "Runtime.OutOfMemory", "phase": phase,
            "message": f"Runtime exited with error: signal: killed "
                       f"(memory limit of {memory_mb} MB exceeded)"}


class _Starter:
    """Starts the runtime so that Init Duration counts from the runtime's exec, as on Lambda,
    and nothing of the harness's own work is in it.

    The forked child first moves itself into the environment's cgroup (writing "0" to
    cgroup.procs means "this process"), which costs 10-15 ms on cgroup v1 (the migration
    waits for an RCU grace period), then tells the parent it is ready and waits. The parent
    takes the start instant and lets it exec. Moving into the group before exec means the
    runtime's whole life is limited and counted."""

    def __init__(self, procs_files: list[str]):
        self.procs_files = procs_files
        self.ready_r, self.ready_w = os.pipe()
        self.go_r, self.go_w = os.pipe()
        self.started_ns: int | None = None
        self._thread = threading.Thread(target=self._release, daemon=True)
        self._thread.start()

    def preexec(self) -> None:            # in the child, between fork and exec
        for path in self.procs_files:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        os.write(self.ready_w, b"r")
        os.read(self.go_r, 1)

    def _release(self) -> None:           # in the parent
        if os.read(self.ready_r, 1):      # empty: the child died before it was ready
            self.started_ns = now_ns()
            os.write(self.go_w, b"g")

    def close(self) -> None:
        """After Popen returned or failed: the child has exec'd or is gone."""
        os.close(self.ready_w)            # so _release sees end of file if it still waits
        self._thread.join()
        for fd in (self.ready_r, self.go_r, self.go_w):
            os.close(fd)


class LocalEnvironment(Environment):
    def __init__(self, target: LocalTarget, artifact: Artifact, memory_mb: int,
                 provisioned: bool, name: str):
        self.target = target
        self.artifact = artifact
        self.memory_mb = memory_mb
        self.provisioned = provisioned
        self.name = name
        self.invocations = 0
        self._init_outcome = "done"
        self.cgroup: cgroups.Cgroup | None = None
        self.process: subprocess.Popen | None = None
        self.api: RuntimeAPI | None = None
        self.home = Path(tempfile.mkdtemp(prefix=f"coldbench-{name}-"))
        try:
            self._spawn()
        except BaseException:
            self.close()
            raise

    def _spawn(self) -> None:
        self.share = cgroups.CpuShare.for_memory(self.memory_mb)
        procs_files: list[str] = []
        if self.target.cgroup_version:
            self.cgroup = cgroups.Cgroup.create(self.target.cgroup_version, self.name,
                                                self.memory_mb)
            if self.target.cpu_model == "proportional":
                self.cgroup.set_cpu(self.share.applied_vcpus)
            procs_files = self.cgroup.procs_files
        function_name = f"coldbench-{self.artifact.function.runtime.name}-{self.memory_mb}"
        tmp = self.home / "tmp"
        tmp.mkdir()
        launch = self.artifact.function.runtime.launch(self.artifact.task_root,
                                                       self.artifact.function.handler,
                                                       self.memory_mb)
        argv, env = self._command(launch, function_name, tmp)
        self.log_path = self.home / "output.log"
        starter = _Starter(procs_files)
        try:
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    argv, env=env, cwd=self.artifact.task_root,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=starter.preexec)
        finally:
            starter.close()
        self.spawned_ns = starter.started_ns

    def _command(self, launch, function_name: str, tmp: Path) -> tuple[list[str], dict]:
        """The process to start and its variables: the runtime, with this environment's
        own Runtime API server (which applies the CPU share at the end of init)."""
        on_init_done = None
        if self.cgroup is not None and self.target.cpu_model == "lambda":
            group, vcpus = self.cgroup, self.share.applied_vcpus
            on_init_done = lambda: group.set_cpu(vcpus)  # noqa: E731
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.api = RuntimeAPI(arn, on_init_done)
        env = lambda_variables(self.artifact, self.memory_mb, self.provisioned,
                               self.api.address, function_name, tmp) | launch.env
        return launch.argv, env

    # waiting ---------------------------------------------------------------------------

    def _wait(self, done, deadline_ns) -> str:
        """Wait for ``done`` (a threading.Event) until ``deadline_ns()``; returns "done",
        "exited" (the runtime process ended) or "timeout"."""
        while not done.wait(_POLL_S):
            if self.process.poll() is not None:
                return "done" if done.is_set() else "exited"
            if now_ns() > deadline_ns():
                return "timeout"
        return "done"

    def wait_initialized(self) -> None:
        """Block until init has finished (first GET /next), failed, or run out of time."""
        deadline = self.spawned_ns + int(self.target.timeout_s * 1e9)
        self._init_outcome = self._wait(self.api.initialized, lambda: deadline)

    # invoking --------------------------------------------------------------------------

    def invoke(self, event: dict) -> Invoked:
        first = self.invocations == 0
        self.invocations += 1
        timeout_ns = int(self.target.timeout_s * 1e9)
        # On Lambda a cold environment's init starts with its first request: that request
        # has an Init Duration even when a fast runtime finished init before invoke() ran.
        waited_for_init = first and not self.provisioned
        if not self.api.initialized.is_set():
            outcome = self._wait(self.api.initialized, lambda: self.spawned_ns + timeout_ns)
        else:
            outcome = self._init_outcome
        if outcome != "done" or self.api.init_error:
            return self._fail(self._init_failure(outcome), None)
        init_ms = ms_between(self.spawned_ns, self.api.init_done_ns) if waited_for_init else None

        invocation = self.api.submit(json.dumps(event).encode(), self.target.timeout_s)
        submitted = now_ns()
        # the timeout counts from the event's hand-over, as Lambda's does
        outcome = self._wait(invocation.done,
                             lambda: (invocation.sent_ns or submitted) + timeout_ns)
        if outcome != "done":
            failure = self._invoke_failure(outcome)
            duration = ms_between(invocation.sent_ns, now_ns()) if invocation.sent_ns else None
            return self._fail(failure, init_ms, duration)
        duration_ms = ms_between(invocation.sent_ns, invocation.done_ns)
        result = Invoked(duration_ms=duration_ms, init_ms=init_ms,
                         max_memory_mb=self._peak_memory_mb())
        if invocation.error is not None:
            result.error = invocation.error | {"phase": "invoke"}
        else:
            try:
                result.response = json.loads(invocation.response or b"null")
            except ValueError:
                result.response = invocation.response.decode("utf-8", "replace")
        return result

    def _init_failure(self, outcome: str) -> dict:
        if self.api.init_error:
            return self.api.init_error | {"phase": "init"}
        if outcome == "timeout":
            return {"type": "Sandbox.Timedout", "phase": "init",
                    "message": f"init did not finish within {self.target.timeout_s:g} seconds"}
        return self._exit_error("init")

    def _invoke_failure(self, outcome: str) -> dict:
        if outcome == "timeout":
            return {"type": "Sandbox.Timedout", "phase": "invoke",
                    "message": f"Task timed out after {self.target.timeout_s:.2f} seconds"}
        return self._exit_error("invoke")

    def _exit_error(self, phase: str) -> dict:
        code = self.process.wait()
        if self.cgroup is not None and self.cgroup.oom_killed():
            return out_of_memory(phase, self.memory_mb)
        how = (f"signal: {signal.Signals(-code).name}" if code < 0 else f"exit status {code}")
        return {"type": "Runtime.ExitError", "phase": phase,
                "message": f"Runtime exited with error: {how}", "log": self._log_tail()}

    def _fail(self, error: dict, init_ms: float | None, duration_ms: float | None = None) -> Invoked:
        """An error after which the environment is gone, as on Lambda."""
        if "log" not in error:
            tail = self._log_tail()
            if tail:
                error["log"] = tail
        result = Invoked(duration_ms=duration_ms, init_ms=init_ms, error=error,
                         max_memory_mb=self._peak_memory_mb())
        self.close()
        return result

    def _peak_memory_mb(self) -> float | None:
        if self.cgroup is not None:
            return self.cgroup.peak_memory_mb()
        try:   # without cgroups: the runtime process's own high-water mark
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    # ending ----------------------------------------------------------------------------

    # set once close() has run to its end: a close that Ctrl-C interrupted (in the wait for
    # a dying runtime, say) is finished by the next one, the target's
    _closed = False

    def close(self) -> None:
        if self._closed:
            return
        self.alive = False
        if self.process is not None:
            try:   # the whole group, also when its leader has already exited
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()           # reaped first: the group empties only then
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.api is not None:
            self.api.close()
        shutil.rmtree(self.home, ignore_errors=True)
        self._closed = True
        self.target._forget(self)


class RieProcessEnvironment(LocalEnvironment):
    """The same runtime process under AWS's emulator: coldbench starts the emulator (in
    the environment's cgroup) and the emulator starts the runtime on the first invocation,
    as a child of its own. Invocations are HTTP requests to the emulator's invoke address."""

    client: rie.Client | None = None

    def _command(self, launch, function_name: str, tmp: Path) -> tuple[list[str], dict]:
        invoke_port = rie.free_port()
        api_port = rie.free_port()
        while api_port == invoke_port:
            api_port = rie.free_port()
        self.client = rie.Client(lambda: socket.create_connection(("127.0.0.1", invoke_port)))
        env = lambda_variables(self.artifact, self.memory_mb, self.provisioned, "",
                               function_name, tmp)
        del env["AWS_LAMBDA_RUNTIME_API"]          # the emulator sets it for its runtime
        env |= launch.env | {"AWS_LAMBDA_FUNCTION_TIMEOUT": rie.timeout_setting(
            self.target.timeout_s)}
        argv = [str(self.target.rie),
                "--runtime-interface-emulator-address", f"127.0.0.1:{invoke_port}",
                "--runtime-api-address", f"127.0.0.1:{api_port}", *launch.argv]
        return argv, env

    def invoke(self, event: dict) -> Invoked:
        first = self.invocations == 0
        self.invocations += 1
        deadline = now_ns() + int(self.target.timeout_s * 1e9)
        exchange = rie.exchange(self.client, event, self.target.timeout_s, first,
                                alive=lambda: self.process.poll() is None, deadline_ns=deadline)
        if exchange is None:
            if self.process.poll() is not None:
                return self._fail(self._exit_error("init"), None)
            return self._fail({"type": "Sandbox.Timedout", "phase": "init",
                               "message": f"the emulator did not listen within "
                                          f"{self.target.timeout_s:g} seconds"}, None)
        extra = {}
        if first:
            extra["first_response_ms"] = ms_between(self.spawned_ns, exchange.received_ns)
            if self.cgroup is not None and self.target.cpu_model == "lambda":
                self.cgroup.set_cpu(self.share.applied_vcpus)
        error = exchange.error
        if error is not None and self.cgroup is not None and self.cgroup.oom_killed():
            error = out_of_memory(error["phase"], self.memory_mb)
        result = Invoked(duration_ms=exchange.duration_ms, response=exchange.response,
                         error=error, max_memory_mb=self._peak_memory_mb(), extra=extra)
        if exchange.fatal:                 # the emulator resets its runtime: a new one next
            if error is not None and "log" not in error:
                error["log"] = self._log_tail()
            self.close()
        return result

    def _peak_memory_mb(self) -> float | None:
        if self.cgroup is not None:        # the emulator's own memory included
            return self.cgroup.peak_memory_mb()
        peaks = []
        for pid in _descendants(self.process.pid):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
            except OSError:
                pass
        return max(peaks, default=None)

    def close(self) -> None:
        if self._closed:
            return
        if self.client is not None:
            self.client.close()
        if self.process is not None and self.process.poll() is None:
            runtime = _descendants(self.process.pid)
            # SIGTERM: the emulator then kills its runtime's process group; a SIGKILLed
            # emulator would leave the runtime running
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=RIE_STOP_S)
            except subprocess.TimeoutExpired:
                pass
            for pid in runtime:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        super().close()


RIE_STOP_S = 5.0


def _descendants(pid: int) -> list[int]:
    """Processes below ``pid``, children first (from /proc/PID/task/TID/children)."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop(0)
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                pids = [int(c) for c in children.read_text().split()]
            except OSError:
                continue
            found.extend(pids)
            queue.extend(pids)
    return found
