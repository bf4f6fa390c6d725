"""The local target: coldbench plays the Lambda service on this machine.

Each execution environment is a fresh runtime process with a clean, Lambda-shaped set of
variables, its own /tmp, its own Runtime API server on 127.0.0.1, and a cgroup with the
memory limit and CPU share of its memory size.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from coldbench import cgroups
from coldbench.build import Artifact
from coldbench.errors import UsageError
from coldbench.phases import ms_between
from coldbench.runtime_api import RuntimeAPI, now_ns
from coldbench.targets.base import Environment, Invoked, Target

CPU_MODELS = ("lambda", "proportional", "none")
REGION = "us-east-1"
ACCOUNT = "000000000000"
_POLL_S = 0.02          # how often a waiting invoke looks for a crash or a timeout
_LOG_TAIL_LINES = 20


def cpu_model_help() -> str:
    return ("lambda: the CPU share applies from the end of init (Lambda does not throttle "
            "init in proportion to memory); proportional: from process start; none: no CPU limit")


class LocalTarget(Target):
    """Runtime processes on this machine, one environment at a time."""

    name = "local"

    def __init__(self, timeout_s: float, cpu_model: str = "lambda", limits: bool = True):
        if cpu_model not in CPU_MODELS:
            raise UsageError(f"unknown CPU model '{cpu_model}': choose {', '.join(CPU_MODELS)}")
        self.timeout_s = timeout_s
        self.cpu_model = cpu_model
        self.cgroup_version = cgroups.detect() if limits else None
        if limits and self.cgroup_version is None:
            raise UsageError("no writable cgroup memory and CPU controllers under "
                             f"{cgroups.ROOT}: run as root, or pass --no-limits to measure "
                             "without Lambda's memory and CPU limits")
        self.run_id = uuid.uuid4().hex[:8]
        self._sequence = itertools.count(1)
        self._live: set[LocalEnvironment] = set()

    def start(self, artifact: Artifact, memory_mb: int, provisioned: bool) -> "LocalEnvironment":
        environment = LocalEnvironment(self, artifact, memory_mb, provisioned,
                                       f"{self.run_id}-{next(self._sequence)}")
        self._live.add(environment)
        if provisioned:
            environment.wait_initialized()
        return environment

    def describe(self) -> dict:
        return {
            "target": self.name,
            "cpu_model": self.cpu_model if self.cgroup_version else "none",
            "limits": f"cgroup {self.cgroup_version}" if self.cgroup_version else "none",
            "host_cpus": cgroups.host_cpus(),
            "kernel": platform.release(),
        }

    def notes(self, memory_mb: int) -> list[str]:
        share = cgroups.CpuShare.for_memory(memory_mb)
        if self.cgroup_version and self.cpu_model != "none" and share.capped:
            return [f"{memory_mb} MB: CPU share capped at {share.applied_vcpus:g} vCPUs "
                    f"(Lambda gives {share.lambda_vcpus:.2f}; this host has "
                    f"{cgroups.host_cpus()})"]
        return []

    def close(self) -> None:
        for environment in list(self._live):
            environment.close()

    def _forget(self, environment: "LocalEnvironment") -> None:
        self._live.discard(environment)


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


def _join_cgroup(procs_files: list[str]):
    """A preexec function: the child moves itself into the group before it execs, so
    the runtime's whole life is counted and limited. Writing "0" means "this process"."""
    def join() -> None:
        for path in procs_files:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
    return join


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
        share = cgroups.CpuShare.for_memory(self.memory_mb)
        on_init_done = None
        preexec = None
        if self.target.cgroup_version:
            self.cgroup = cgroups.Cgroup.create(self.target.cgroup_version, self.name,
                                                self.memory_mb)
            if self.target.cpu_model == "proportional":
                self.cgroup.set_cpu(share.applied_vcpus)
            elif self.target.cpu_model == "lambda":
                group = self.cgroup
                on_init_done = lambda: group.set_cpu(share.applied_vcpus)  # noqa: E731
            preexec = _join_cgroup(self.cgroup.procs_files)
        function_name = f"coldbench-{self.artifact.function.runtime.name}-{self.memory_mb}"
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.api = RuntimeAPI(arn, on_init_done)
        tmp = self.home / "tmp"
        tmp.mkdir()
        launch = self.artifact.function.runtime.launch(self.artifact.task_root,
                                                       self.artifact.function.handler,
                                                       self.memory_mb)
        env = lambda_variables(self.artifact, self.memory_mb, self.provisioned,
                               self.api.address, function_name, tmp) | launch.env
        self.log_path = self.home / "output.log"
        with open(self.log_path, "wb") as log:
            self.spawned_ns = now_ns()
            self.process = subprocess.Popen(
                launch.argv, env=env, cwd=self.artifact.task_root, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=preexec)

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
        waited_for_init = first and not self.api.initialized.is_set()
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
            return {"type": "Runtime.OutOfMemory", "phase": phase,
                    "message": f"Runtime exited with error: signal: killed "
                               f"(memory limit of {self.memory_mb} MB exceeded)"}
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

    def close(self) -> None:
        if not self.alive:
            return
        self.alive = False
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.process is not None:
            self.process.wait()
        if self.api is not None:
            self.api.close()
        shutil.rmtree(self.home, ignore_errors=True)
        self.target._forget(self)


def from_options(options) -> LocalTarget:
    return LocalTarget(timeout_s=options.timeout_s, cpu_model=options.cpu_model,
                       limits=options.limits)
