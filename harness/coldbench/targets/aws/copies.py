"""The deployed copies of each configuration, and how they are kept primed for cold starts
in the background (the modes: ``coldbench.targets.aws.target``).

A copy is primed for cold by a new nonce among its environment variables (its
environments are retired), for SnapStart by publishing a version, for provisioned
concurrency by an allocation of 1 on a published version. Priming runs on the run's
workers, up to ``concurrency`` at a time, ahead of need; the measurement loop takes primed
copies one by one and releases each once its sample is taken. Lambda's waiters are polled
in short rounds and updates retried while one is still under way, so that a stop is seen
and a copy that stays stuck becomes a sample with an error.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from coldbench.targets.aws import estimate as cost
from coldbench.targets.aws.client import Clients, describe, error_code, redact
from coldbench.targets.aws.plan import AwsArtifact

NONCE_VARIABLE = "COLDBENCH_NONCE"
UPDATE_WAIT_S = 300.0                # a configuration update InProgress longer is reported
PUBLISH_WAIT_S = 600.0               # a published version (SnapStart takes a snapshot)
PROVISIONED_POLL_S = 5.0
CONFLICT_RETRY_S = 60.0              # ResourceConflictException: an update still under way


@dataclass
class Copy:
    """One deployed function (or, for provisioned concurrency, one slot of it)."""

    function: str
    variables: dict[str, str]
    lock: threading.Lock                  # shared by the slots of one function
    state: str = "ready"                  # ready, priming, in-use, retiring, stale, failed
    version: str | None = None            # the qualifier to invoke when ready
    failure: dict | None = None
    url: str | None = None                # its function URL (--via url)


@dataclass
class Group:
    """The copies of one configuration, and how many samples of each mode are still due."""

    artifact: AwsArtifact
    memory_mb: int
    copies: dict[str, list[Copy]]         # mode -> copies
    due: dict[str, int]

    @property
    def label(self) -> str:
        return (f"{self.artifact.function.runtime.name} {self.memory_mb} MB "
                f"{self.artifact.variant}")


class Stuck(Exception):
    def __init__(self, failure: dict):
        super().__init__(failure["message"])
        self.failure = failure


class Stopping(Exception):
    """The run is ending: a background task gives up quietly."""


class Primer:
    """The copies of every configuration (``groups``, by artifact and memory size), primed
    in the background on ``pool`` until ``stop`` is set."""

    def __init__(self, clients: Clients, pool: ThreadPoolExecutor, stop: threading.Event,
                 groups: dict[tuple[AwsArtifact, int], Group],
                 provisioned_poll_s: float = PROVISIONED_POLL_S):
        self.clients = clients
        self.groups = groups
        self.provisioned_poll_s = provisioned_poll_s
        self._pool = pool
        self._stop = stop
        self._cv = threading.Condition()
        self._pending: set[Future] = set()

    def start(self) -> None:
        """The functions are created: the priming begins."""
        with self._cv:
            for group in self.groups.values():
                for copy in group.copies["cold"]:
                    if copy.state == "priming":     # created and Active: primed for cold
                        copy.state = "stale" if group.artifact.snapstart else "ready"
                for copy in group.copies["provisioned"]:
                    if copy.state == "priming":
                        copy.state = "stale"
                self._top_up(group, "cold")
                self._top_up(group, "provisioned")

    def cancel_pending(self) -> None:
        for future in list(self._pending):
            future.cancel()

    def take(self, group: Group, mode: str) -> Copy:
        """A copy primed for ``mode`` (waiting for one if need be), or a failed one, whose
        environment then reports the failure as its sample."""
        with self._cv:
            while True:
                if self._stop.is_set():
                    raise KeyboardInterrupt
                copies = group.copies[mode]
                chosen = (next((c for c in copies if c.state == "ready"), None)
                          or next((c for c in copies if c.state == "failed"), None))
                if chosen is not None:
                    chosen.state = "in-use"
                    group.due[mode] = max(0, group.due[mode] - 1)
                    self._top_up(group, mode)
                    return chosen
                if not any(c.state in ("priming", "retiring") for c in copies):
                    stale = next((c for c in copies if c.state == "stale"), None)
                    if stale is None:
                        raise RuntimeError(f"{group.label}: no copy to prime for {mode}")
                    self._prime(group, stale, mode)
                self._cv.wait(1.0)

    def _top_up(self, group: Group, mode: str) -> None:
        """Prime stale copies ahead of need (the caller holds the lock)."""
        copies = group.copies[mode]
        ahead = sum(1 for c in copies if c.state in ("ready", "priming"))
        for copy in copies:
            if ahead >= group.due[mode]:
                break
            if copy.state == "stale":
                self._prime(group, copy, mode)
                ahead += 1

    def _prime(self, group: Group, copy: Copy, mode: str) -> None:
        copy.state = "priming"
        future = self._pool.submit(self._priming, group, copy, mode)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _priming(self, group: Group, copy: Copy, mode: str) -> None:
        version = failure = None
        try:
            if mode == "provisioned":
                version = self._publish(copy)
                self._allocate(copy.function, version)
            elif group.artifact.snapstart:
                version = self._publish(copy)
            else:
                with copy.lock:
                    self._force_cold(copy)
        except Stopping:
            return
        except Stuck as exc:
            failure = exc.failure
        except Exception as exc:  # noqa: BLE001 - an AWS failure becomes the sample's error
            if self._stop.is_set():
                return
            failure = {"type": error_code(exc) or type(exc).__name__, "phase": "init",
                       "message": describe(exc)}
        with self._cv:
            copy.version = version
            copy.failure = failure
            copy.state = "failed" if failure else "ready"
            self._cv.notify_all()

    def _force_cold(self, copy: Copy) -> None:
        """A new nonce among the function's variables: its environments are retired."""
        variables = dict(copy.variables, **{NONCE_VARIABLE: uuid.uuid4().hex})
        retry_conflict(self._stop, lambda: self.clients.lambda_.update_function_configuration(
            FunctionName=copy.function, Environment={"Variables": variables}))
        copy.variables.clear()
        copy.variables.update(variables)
        wait(self.clients, self._stop, "function_updated_v2", UPDATE_WAIT_S,
             FunctionName=copy.function)

    def _publish(self, copy: Copy) -> str:
        """A new published version of the copy's function, active."""
        with copy.lock:
            self._force_cold(copy)      # a changed configuration makes PublishVersion publish
            version = retry_conflict(self._stop, lambda: self.clients.lambda_.publish_version(
                FunctionName=copy.function))["Version"]
        wait(self.clients, self._stop, "published_version_active", PUBLISH_WAIT_S,
             FunctionName=copy.function, Qualifier=version)
        return version

    def _allocate(self, function: str, version: str) -> None:
        """Provisioned concurrency 1 on ``version``, READY."""
        self.clients.lambda_.put_provisioned_concurrency_config(
            FunctionName=function, Qualifier=version, ProvisionedConcurrentExecutions=1)
        deadline = time.monotonic() + cost.PROVISIONED_READY_WAIT_S
        while True:
            config = self.clients.lambda_.get_provisioned_concurrency_config(
                FunctionName=function, Qualifier=version)
            if config["Status"] == "READY":
                return
            if config["Status"] == "FAILED":
                raise Stuck({"type": "Coldbench.ProvisionedConcurrencyFailed", "phase": "init",
                             "message": f"{function}:{version}: provisioned concurrency "
                                        f"FAILED: {config.get('StatusReason', '')}"})
            if time.monotonic() > deadline:
                raise Stuck({"type": "Coldbench.ProvisionedConcurrencyTimeout", "phase": "init",
                             "message": f"{function}:{version}: provisioned concurrency not "
                                        f"READY after {cost.PROVISIONED_READY_WAIT_S:.0f} s"})
            if self._stop.wait(self.provisioned_poll_s):
                raise Stopping

    def release(self, group: Group, copy: Copy, mode: str) -> None:
        """A sample is taken: its version and allocation go, then the copy is primed again.
        Removed first, so that a copy never holds two allocations (each costs while it
        exists), and a version is never published while its predecessor is being removed."""
        version = copy.version
        if version is not None and not self._stop.is_set():
            with self._cv:
                copy.state = "retiring"
            try:
                self._pool.submit(self._retire, group, copy, mode, version)
                return
            except RuntimeError:     # the run is ending: the function's deletion removes it
                pass
        self._stale(group, copy, mode)

    def _retire(self, group: Group, copy: Copy, mode: str, version: str) -> None:
        self._remove_version(copy.function, version, mode == "provisioned")
        self._stale(group, copy, mode)

    def _stale(self, group: Group, copy: Copy, mode: str) -> None:
        with self._cv:
            copy.version = None
            copy.state = "stale"
            if not self._stop.is_set():
                self._top_up(group, mode)
            self._cv.notify_all()

    def _remove_version(self, function: str, version: str, provisioned: bool) -> None:
        try:
            if provisioned:
                self.clients.lambda_.delete_provisioned_concurrency_config(
                    FunctionName=function, Qualifier=version)
            self.clients.lambda_.delete_function(FunctionName=function, Qualifier=version)
        except Exception:  # noqa: BLE001 - the function's deletion at cleanup removes it too
            pass


def retry_conflict(stop: threading.Event, call):
    """``call``, again while Lambda answers that an update is still under way."""
    deadline = time.monotonic() + CONFLICT_RETRY_S
    delay = 0.5
    while True:
        try:
            return call()
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException" or time.monotonic() > deadline:
                raise
        if stop.wait(delay):
            raise Stopping
        delay = min(delay * 2, 5.0)


def wait(clients: Clients, stop: threading.Event, waiter: str, limit_s: float,
         **params) -> None:
    """A boto3 waiter, in short rounds (so that a stop is seen), for at most ``limit_s``;
    Stuck with Lambda's reason when the function failed or took too long."""
    deadline = time.monotonic() + limit_s
    lambda_waiter = clients.lambda_.get_waiter(waiter)
    from botocore.exceptions import WaiterError
    while True:
        if stop.is_set():
            raise Stopping
        try:
            lambda_waiter.wait(**params, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
            return
        except WaiterError as exc:
            last = exc.last_response or {}
            configuration = last.get("Configuration", last)
            if "Max attempts exceeded" not in str(exc) or time.monotonic() > deadline:
                state = configuration.get("State"), configuration.get("LastUpdateStatus")
                reason = (configuration.get("StateReason")
                          or configuration.get("LastUpdateStatusReason") or "")
                what = params.get("FunctionName", "") + (
                    f":{params['Qualifier']}" if "Qualifier" in params else "")
                raise Stuck({"type": "Coldbench.FunctionNotReady", "phase": "init",
                             "message": redact(f"{what}: {waiter} gave up (State "
                                               f"{state[0]}, LastUpdateStatus {state[1]}"
                                               f"{': ' + reason if reason else ''})")})
