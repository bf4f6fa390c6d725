"""An execution environment is two parts put together:

- a **sandbox**: where the runtime runs, isolated and limited as on Lambda (a process in
  its own cgroup, a container). It starts a command, says whether it still runs, reports
  peak memory and out-of-memory kills, tails the runtime's log and kills it all.
- a **control plane**: what the runtime talks to (coldbench's Runtime API, AWS's Runtime
  Interface Emulator). It waits for init and turns an event into an ``Invoked``.

``Environment`` composes one of each; every target that runs runtimes on this machine
(local processes, Docker containers, ``coldbench serve``) uses it with the parts it
needs, and neither part knows the other's internals.
"""

from __future__ import annotations

import json
import signal
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

from coldbench.model import Artifact, Invoked
from coldbench.model import Environment as EnvironmentInterface

REGION = "us-east-1"
ACCOUNT = "000000000000"
LOG_TAIL_LINES = 20


class Sandbox(ABC):
    """Where one runtime process (tree) runs, with Lambda's memory limit and CPU share."""

    #: where the runtime finds its task root and its /tmp
    task_root: str
    tmp: str
    #: the folder on this machine that is /opt for the runtime (the function's layers,
    #: merged); None: no layers
    opt_dir: Path | None = None
    #: the runtime's start instant (``phases.now_ns``): Init Duration counts from here
    started_ns: int | None = None
    #: figures of this sandbox for its first sample (e.g. ``container_start_ms``)
    extra: dict

    @abstractmethod
    def network(self) -> AbstractContextManager:
        """A context in which sockets are made in the network the runtime sees."""

    @abstractmethod
    def start(self, argv: list[str], env: dict[str, str],
              before_exec: Callable[[], dict[str, str]] | None = None) -> None:
        """Start ``argv`` with ``env``. ``before_exec``, if given, is called inside
        ``network()`` once the sandbox exists but before the runtime runs; the variables it
        returns are added (a Runtime API's address). Raises OSError when nothing could be
        started."""

    def spawn(self, argv: list[str], env: dict[str, str], name: str) -> int:
        """Start a further process in this environment (same cgroup, namespaces and user
        as the runtime), such as an external extension; callable before ``start``. Its
        pid; every such process ends when the sandbox closes. OSError when it cannot be
        started."""
        raise OSError(f"{type(self).__name__} cannot start further processes")

    @abstractmethod
    def running(self) -> bool:
        """Whether the started process is still running."""

    @abstractmethod
    def exit_status(self) -> int:
        """Wait for the process to end; its status (negative: killed by that signal)."""

    @abstractmethod
    def out_of_memory(self) -> bool:
        """Whether the kernel killed something in the sandbox at its memory limit."""

    @abstractmethod
    def peak_memory_mb(self) -> float | None:
        """Peak memory of the sandbox so far (Lambda's Max Memory Used)."""

    @abstractmethod
    def limit_cpu(self) -> None:
        """Apply the memory size's CPU share (Lambda applies it after init)."""

    def init_done(self) -> None:
        """Init is over (as the control plane saw it): apply the CPU share, and take what
        the sandbox measures of init."""
        self.limit_cpu()

    @abstractmethod
    def log(self, offset: int = 0) -> tuple[str, int]:
        """What the runtime wrote since ``offset``, and the offset after it."""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log()[0].splitlines()[-lines:])

    @abstractmethod
    def close(self) -> None:
        """Kill everything in the sandbox and release what it holds. Safe to call twice."""


@runtime_checkable
class SpawnedLogs(Protocol):
    """A sandbox that keeps what each spawned process wrote (``Sandbox.spawn``'s name)."""

    def spawned_log(self, name: str, offset: int = 0) -> tuple[str, int]:
        """What process ``name`` wrote since ``offset``, and the offset after it."""


@runtime_checkable
class SignalsRuntime(Protocol):
    """A sandbox that can signal its runtime and live on without it (Lambda's Shutdown
    phase: the runtime gets SIGTERM, its extensions go on until their deadline)."""

    def release_runtime(self, signum: int) -> int | None:
        """Send ``signum`` to the runtime; from now on the environment does not end when
        the runtime does. The runtime's process ID on this machine (None: it had ended)."""


class ControlPlane(ABC):
    """What a runtime talks to; one per environment."""

    #: whether it can hold a runtime initialised ahead of its first request
    provisioned: bool = True

    def command(self, environment: "Environment", argv: list[str],
                env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The command the sandbox starts for the runtime's ``argv`` and ``env``."""
        return argv, env

    def before_exec(self, environment: "Environment") -> Callable[[], dict[str, str]] | None:
        """What to do inside the sandbox's network before the runtime runs (see
        ``Sandbox.start``); None when nothing."""
        return None

    @abstractmethod
    def wait_initialized(self, environment: "Environment") -> None:
        """Block until init has finished, failed, or run out of time."""

    @abstractmethod
    def invoke(self, environment: "Environment", event: dict, first: bool) -> tuple[Invoked, bool]:
        """One invocation; the outcome and whether the environment can serve again."""

    def close(self) -> None:
        """Release what this control plane holds. Safe to call twice."""


class Environment(EnvironmentInterface):
    """One execution environment: a runtime started in ``sandbox`` under ``control_plane``."""

    def __init__(self, artifact: Artifact, memory_mb: int, provisioned: bool, name: str,
                 sandbox: Sandbox, control_plane: ControlPlane, timeout_s: float,
                 on_close: Callable[["Environment"], None] = lambda environment: None,
                 opt_dir: Path | None = None, variables: dict[str, str] | None = None,
                 opt_at: str | None = None):
        self.artifact = artifact
        self.memory_mb = memory_mb
        self.provisioned = provisioned
        self.name = name
        self.sandbox = sandbox
        self.control_plane = control_plane
        # a function's own timeout (its definition's) is Lambda's for it; else the target's
        self.timeout_s = artifact.function.configuration.timeout_s or timeout_s
        # what is /opt for this environment (its layers, merged), and the function's own
        # environment variables (its definition's, then those the target was given), which
        # Lambda's do not override
        self.opt_dir = opt_dir
        # where the environment's processes find it: "/opt" where they must read it from
        # the layers' own image (read cold, as on Lambda); None: at ``opt_dir`` itself
        self.opt_at = opt_at
        self.variables = (dict(artifact.function.configuration.environment)
                          | dict(variables or {}))
        self.invocations = 0
        self._on_close = on_close
        self._closed = False
        self._peak: float | None = None
        try:
            runtime = artifact.function.runtime
            handler = artifact.function.configured_handler
            launch = runtime.launch(Path(sandbox.task_root), handler, memory_mb)
            env = lambda_variables(artifact, memory_mb, provisioned, sandbox.task_root,
                                   sandbox.tmp, self.function_name) | launch.env
            env = self.variables | env
            if artifact.function.layers:      # the runtime's paths into /opt, the layers' setup
                env = runtime.layer_variables(env) | artifact.function.configured_env()
            argv, env = control_plane.command(self, list(launch.argv), env)
            sandbox.start(argv, env, control_plane.before_exec(self))
            if provisioned:
                control_plane.wait_initialized(self)
        except BaseException:
            self.close()
            raise

    @property
    def function_name(self) -> str:
        return f"coldbench-{self.artifact.function.runtime.name}-{self.memory_mb}"

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def invoke(self, event: dict) -> Invoked:
        first = self.invocations == 0
        self.invocations += 1
        if not self.alive:
            return Invoked(duration_ms=None, error={
                "type": "Coldbench.EnvironmentGone", "phase": "invoke",
                "message": "the environment was closed before this invocation"})
        invoked, alive = self.control_plane.invoke(self, event, first)
        invoked.max_memory_mb = self.peak_memory_mb()
        if first:
            invoked.extra = dict(self.sandbox.extra) | invoked.extra
        if invoked.error is not None and "log" not in invoked.error and not alive:
            tail = self.sandbox.log_tail()
            if tail:
                invoked.error["log"] = tail
        if not alive:
            self.close()
        return invoked

    def peak_memory_mb(self) -> float | None:
        peak = self.sandbox.peak_memory_mb()
        if peak is not None:              # a container's cgroup goes when it exits
            self._peak = peak
        return self._peak

    def exit_error(self, phase: str) -> dict:
        """The error of a runtime that ended by itself (or was killed at its memory limit)."""
        code = self.sandbox.exit_status()
        if self.sandbox.out_of_memory():
            return out_of_memory(phase, self.memory_mb)
        how = (f"signal: {signal.Signals(-code).name}" if code < 0 else f"exit status {code}")
        return {"type": "Runtime.ExitError", "phase": phase,
                "message": f"Runtime exited with error: {how}", "log": self.sandbox.log_tail()}

    def timed_out(self, phase: str) -> dict:
        if phase == "init":
            return {"type": "Sandbox.Timedout", "phase": "init",
                    "message": f"init did not finish within {self.timeout_s:g} seconds"}
        return {"type": "Sandbox.Timedout", "phase": "invoke",
                "message": f"Task timed out after {self.timeout_s:.2f} seconds"}

    def close(self) -> None:
        if self._closed:
            return
        self.alive = False
        try:
            self.control_plane.close()    # may wait for extensions to shut down
        finally:
            self.sandbox.close()          # also after Ctrl-C in that wait
            self._closed = True
        self._on_close(self)


def lambda_variables(artifact: Artifact, memory_mb: int, provisioned: bool, task_root: str,
                     tmp: str, function_name: str) -> dict[str, str]:
    """The variables Lambda sets for a runtime (AWS Lambda documentation, "Defined runtime
    environment variables"), plus TMPDIR pointing at the environment's own /tmp. The
    control plane adds AWS_LAMBDA_RUNTIME_API. AWS_EXECUTION_ENV names the runtime
    identifier of the function's definition, where it has one."""
    runtime = artifact.function.runtime
    configuration = artifact.function.configuration
    return {
        "_HANDLER": artifact.function.configured_handler,
        "LAMBDA_TASK_ROOT": task_root,
        "AWS_EXECUTION_ENV":
            f"AWS_Lambda_{configuration.lambda_runtime or runtime.lambda_runtime}",
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
        "TMPDIR": tmp,
    }


def out_of_memory(phase: str, memory_mb: int) -> dict:
    """The error of a runtime the kernel killed at the memory limit, as Lambda words it."""
    return {"type": "Runtime.OutOfMemory", "phase": phase,
            "message": f"Runtime exited with error: signal: killed "
                       f"(memory limit of {memory_mb} MB exceeded)"}


def decode_response(body: bytes | None) -> object:
    """A function's response: JSON when it is JSON, else its text."""
    try:
        return json.loads(body or b"null")
    except ValueError:
        return body.decode("utf-8", "replace")


__all__ = ["ControlPlane", "Environment", "Sandbox", "SpawnedLogs", "decode_response",
           "lambda_variables", "out_of_memory"]
