"""The external extensions of one execution environment through Lambda's phases, for
coldbench's Runtime API control plane (``runtime_api.RuntimeApiPlane``): started before
the runtime, waited for at the end of init and after each invocation, attributed in the
cold sample, reported to the Telemetry API, shut down at the end. The protocol itself is
``extensions_api.py``; the phases' rules are quoted there (AWS Lambda Developer Guide,
"Lambda Extensions API").
"""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path
from typing import Callable

from coldbench.environments import telemetry as telemetry_api
from coldbench.environments.base import ACCOUNT, SignalsRuntime, SpawnedLogs
from coldbench.environments.extensions_api import (CRASH, INTERNAL_RUNTIME_SHUTDOWN_MS,
                                                   LAUNCH_ERROR, RUNTIME_SHUTDOWN_MS,
                                                   SHUTDOWN_LIMIT_MS, Extension, ExtensionsAPI)
from coldbench.environments.kernel import running
from coldbench.model import Invoked
from coldbench.phases import ms_between, now_ns


class ExternalExtensions:
    """The extension processes of ``environment``, talking to ``runtime_api`` (a
    ``runtime_api.RuntimeAPI``, whose ``extensions`` this sets)."""

    def __init__(self, environment, runtime_api, paths: list[Path]):
        self.environment = environment
        self.runtime_api = runtime_api
        self.paths = paths
        self.telemetry = telemetry_api.Telemetry()
        self.api = ExtensionsAPI(environment.function_name, "$LATEST",
                                 environment.artifact.function.handler, ACCOUNT,
                                 self.telemetry, on_ready=runtime_api.init_ready)
        runtime_api.extensions = self.api
        self.pids: dict[str, int] = {}     # by file name, which names the extension
        self.started_ns: int | None = None  # init starts here
        self.failure: dict | None = None   # one could not be started
        self._log_offsets: dict[str, int] = {}
        self._runtime_pid: int | None = None  # on this machine, once looked up
        # why the environment closes, as SHUTDOWN says it: an invocation that timed out or
        # failed resets it ("Lambda Extensions API", Shutdown: shutdownReason)
        self.shutdown_reason = "spindown"

    # init ------------------------------------------------------------------------------

    def start(self, env: dict[str, str]) -> None:
        """Start every extension, one right after the other (each runs on its own from its
        exec: they initialise in parallel), and wait until all have registered, one has
        failed, or init's time is up. The runtime starts after this."""
        self.started_ns = now_ns()
        opt_at = self.environment.opt_at
        for path in self.paths:
            inside = f"{opt_at}/extensions/{path.name}" if opt_at else str(path)
            try:
                self.pids[path.name] = self.environment.sandbox.spawn(
                    [inside], env, f"extension-{path.name}")
            except OSError as exc:
                self.failure = {"type": LAUNCH_ERROR,
                                "message": f"extension {path.name} could not start: {exc}"}
                return
        self.wait(lambda: len(self.api.registered()) >= len(self.pids),
                  self.started_ns + int(self.environment.timeout_s * 1e9))

    def crashed(self) -> dict | None:
        """Lambda's error for an extension that ended before shutdown, or reported one."""
        if self.failure is not None:
            return self.failure
        reported = self.api.reported_error()
        if reported is not None:
            return reported
        for name, pid in self.pids.items():
            if not running(pid):
                # a runtime that ended takes the environment with it: its exit is the error
                if self._runtime_ended():
                    return None
                return {"type": CRASH, "message": f"extension {name} exited"}
        return None

    def _runtime_ended(self) -> bool:
        """Whether the runtime has started and ended."""
        sandbox = self.environment.sandbox
        if sandbox.started_ns is None:
            return False
        if not sandbox.running():
            return True
        if self._runtime_pid is None:
            try:
                self._runtime_pid = sandbox.runtime_pid
            except (OSError, AttributeError):
                return True
        return not running(self._runtime_pid)

    def wait(self, condition: Callable[[], bool], deadline_ns: int) -> str:
        """Wait until ``condition()``: "done", "error" (an extension failed) or "timeout"."""
        while True:
            if self.crashed() is not None:
                return "error"
            if condition():
                return "done"
            if now_ns() >= deadline_ns:
                return "timeout"
            with self.api.changed:
                self.api.changed.wait(0.01)

    def not_ready(self) -> list[str]:
        """The extensions that have not registered or not asked for an event yet."""
        registered = self.api.registered()
        names = {e.name for e in registered}
        return sorted([e.name for e in registered if e.ready_ns is None]
                      + [name for name in self.pids if name not in names])

    def init_over(self, error: dict | None) -> None:
        """Init is over (``error``: how it failed): registration closes, and its events go
        to the Telemetry API. Once."""
        if self.api.init_over:
            return
        self.api.init_over = True
        if error is not None:
            self.shutdown_reason = ("timeout" if error.get("type") == "Sandbox.Timedout"
                                    else "failure")
        elif isinstance(self.environment.sandbox, SignalsRuntime):
            # from now on a runtime that ends leaves its extensions to their Shutdown
            # phase (reason "failure"), as on Lambda, instead of taking them with it
            self.environment.sandbox.release_runtime(0)
        provisioned = self.environment.provisioned
        telemetry_api.init_events(
            self.telemetry, "provisioned-concurrency" if provisioned else "on-demand",
            self.started_ns, self.runtime_api.runtime_ready_ns, self.runtime_api.init_done_ns,
            error["type"] if error else None)
        self.tail_logs()

    def attribution(self) -> dict:
        """Where a cold start's init went: each extension's register and ready instants (ms
        from the start of init), the wait for registrations (init start to the runtime's
        start) and the runtime's own init."""
        def since(instant: int | None) -> float | None:
            return None if instant is None else round(ms_between(self.started_ns, instant), 3)
        started = self.environment.sandbox.started_ns
        return {"extensions": [{"name": e.name, "events": list(e.events),
                                "registered_ms": since(e.registered_ns),
                                "ready_ms": since(e.ready_ns)} for e in self.api.registered()],
                "extension_registration_ms": since(started),
                "runtime_init_ms": round(ms_between(started, self.runtime_api.runtime_ready_ns), 3)}

    # invoke ----------------------------------------------------------------------------

    def invoke(self, invocation) -> list[Extension]:
        """Hand the invocation's INVOKE event to the extensions registered for it (as the
        runtime gets it); those extensions."""
        listeners = self.api.invoke_listeners()
        self.api.invoke(invocation.request_id, invocation.deadline_ms,
                        self.environment.function_arn, invocation.trace)
        return listeners

    def after_runtime(self, invocation, listeners: list[Extension], result: Invoked,
                      cold: bool) -> tuple[Invoked, bool]:
        """The invoke phase goes on until every extension registered for INVOKE has asked
        for its next event: that post-runtime time is recorded, and the environment takes
        no next event before it is over. The caller has had its response already."""
        result.responded_ns = now_ns()
        error_type = (result.error or {}).get("type")
        self.tail_logs()
        telemetry_api.invoke_events(self.telemetry, invocation.request_id, invocation.sent_ns,
                                    invocation.done_ns, len(invocation.response or b""),
                                    error_type)
        idle: list[int] = []

        def extensions_idle() -> bool:
            at = self.api.idle_ns(listeners) if listeners else invocation.done_ns
            if at is not None:
                idle.append(at)
            return at is not None
        # the function's timeout covers the extensions' part of the invoke phase too
        deadline = invocation.sent_ns + int(self.environment.timeout_s * 1e9)
        outcome = self.wait(extensions_idle, deadline)
        if cold:
            result.extra |= self.attribution()
        if outcome != "done":
            result.error = (self.crashed() | {"phase": "invoke"} if outcome == "error"
                            else self.environment.timed_out("invoke"))
            self.shutdown_reason = "failure" if outcome == "error" else "timeout"
            return result, False
        post_runtime_ms = max(0.0, ms_between(invocation.done_ns, idle[0]))
        result.extra["extension_post_runtime_ms"] = round(post_runtime_ms, 3)
        # the report once the runtime and the extensions are done: an extension that
        # asked for its next event before the runtime answered is done with the runtime
        telemetry_api.report_event(
            self.telemetry, invocation.request_id, max(idle[0], invocation.done_ns),
            result.duration_ms,
            math.ceil(result.duration_ms + post_runtime_ms + (result.init_ms or 0)),
            self.environment.memory_mb, self.environment.sandbox.peak_memory_mb(),
            result.init_ms, error_type)
        return result, True

    def invoke_failed(self, invocation, error: dict) -> None:
        """An invocation the runtime did not answer (it timed out, or the runtime or an
        extension ended): what it wrote, and its platform events with Lambda's status;
        a runtime that ended is a ``platform.fault`` on the Logs API."""
        self.tail_logs()
        if invocation.sent_ns is None:       # never handed over
            return
        ended_ns = now_ns()
        timed_out = error.get("type") == "Sandbox.Timedout"
        self.shutdown_reason = "timeout" if timed_out else "failure"
        telemetry_api.invoke_events(self.telemetry, invocation.request_id, invocation.sent_ns,
                                    ended_ns, 0, error.get("type"),
                                    "timeout" if timed_out else "failure")
        if error.get("type") == "Runtime.ExitError":
            self.telemetry.emit("platform.fault", f"RequestId: {invocation.request_id} "
                                "Process exited before completing request", ended_ns)

    def tail_logs(self) -> None:
        """What the runtime and the extensions wrote since last time, to the Telemetry
        API's function and extension streams."""
        sandbox = self.environment.sandbox
        text, self._log_offsets[""] = sandbox.log(self._log_offsets.get("", 0))
        telemetry_api.function_lines(self.telemetry, text)
        if isinstance(sandbox, SpawnedLogs):
            for name in self.pids:
                log = f"extension-{name}"
                text, self._log_offsets[log] = sandbox.spawned_log(
                    log, self._log_offsets.get(log, 0))
                telemetry_api.function_lines(self.telemetry, text, "extension")

    def _alive(self, extension: Extension) -> bool:
        """Whether an extension's process runs (one registered under a name other than its
        file's is taken to run)."""
        pid = self.pids.get(extension.name)
        return pid is None or running(pid)

    # shutdown --------------------------------------------------------------------------

    def close(self) -> None:
        """Lambda's Shutdown phase (AWS Lambda Developer Guide, "Understand the Lambda
        execution environment lifecycle", Shutdown phase, and "Lambda Extensions API"):
        with registered extensions it lasts up to 2,000 ms. The runtime gets SIGTERM first
        and up to 300 ms to end (500 ms with an internal extension), then SIGKILL; then
        every external extension registered for SHUTDOWN gets it, with the phase's
        deadline, and has until then to call /event/next again or exit. Every request still
        open is then closed, and the sandbox kills what is left (SIGKILL)."""
        try:
            started_ns = now_ns()
            deadline_ns = started_ns + SHUTDOWN_LIMIT_MS * 1_000_000
            registered = self.api.registered()
            if registered:
                internal = any(e.name not in self.pids for e in registered)
                self._stop_runtime(INTERNAL_RUNTIME_SHUTDOWN_MS if internal
                                   else RUNTIME_SHUTDOWN_MS)
            self.tail_logs()      # the runtime's last lines, a crashed one's, its SIGTERM's
            left_s = max(0.0, (deadline_ns - now_ns()) / 1e9)
            self.telemetry.flush(timeout_s=min(0.5, left_s))
            deadline_ms = int(time.time() * 1000 + (deadline_ns - now_ns()) / 1e6)
            listeners = [e for e in self.api.shutdown(self.shutdown_reason, deadline_ms)
                         if self._alive(e)]

            def done() -> bool:
                return all(e.waiting or not self._alive(e) for e in listeners)
            while not done() and now_ns() < deadline_ns:
                with self.api.changed:
                    self.api.changed.wait(0.01)
        finally:
            self.api.close()
            self.telemetry.close()

    def _stop_runtime(self, reserve_ms: int) -> None:
        """SIGTERM to the runtime, SIGKILL if it still runs ``reserve_ms`` later."""
        sandbox = self.environment.sandbox
        if not isinstance(sandbox, SignalsRuntime):
            return
        pid = sandbox.release_runtime(signal.SIGTERM)
        if pid is None:
            return
        until = now_ns() + reserve_ms * 1_000_000
        while running(pid) and now_ns() < until:
            time.sleep(0.005)
        if running(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
