"""The AWS Lambda target: real cold starts, measured by Lambda itself.

``prepare`` packages each function for each architecture, prints what will be created and
what it can cost, asks (or takes ``--yes``), then deploys: an execution role (unless
given), and per configuration (runtime, memory size, architecture, SnapStart or not)
``copies`` functions for cold and warm samples, plus one for provisioned concurrency when
asked. ``close`` deletes all of it, also after errors and Ctrl-C; ``coldbench cleanup
--target aws`` finds by tag what a killed run left.

How a sample is taken (modes as in ``coldbench.measure.modes``):

- cold: a function whose configuration just changed has no environment, so its next
  invocation starts one. A copy is "primed" by setting a new nonce among its environment
  variables (UpdateFunctionConfiguration, the existing variables kept) and waiting with
  the ``function_updated_v2`` waiter; a newly created function counts as primed. The
  invocation (``LogType=Tail``) returns Lambda's REPORT line, whose Init Duration,
  Duration and Max Memory Used become the sample, and the function's own ``cold`` flag
  confirms it. Config updates are the slow part (seconds each), so while one copy is
  invoked the others are primed in the background, up to ``concurrency`` at a time: the
  measurement loop itself stays sequential, as on the local target.
- warm: further invocations of the copy that served the last cold sample.
- SnapStart: a primed copy is a freshly published version (nonce, publish, wait until
  the version is active); its first invocation restores the snapshot, and Restore
  Duration stands where Init Duration stands otherwise (cold start = Restore + Duration).
- provisioned: a published version with provisioned concurrency 1, invoked once it is
  READY; the allocation is removed as soon as its sample is taken (it costs while it
  exists), and at most two per configuration exist at once.

A function that stays Pending or Failed, an update that fails, or throttling that
outlasts the bounded retries becomes a sample with an error, not an endless wait.
"""

from __future__ import annotations

import base64
import json
import math
import random
import signal
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from coldbench.targets.aws import estimate as cost, package as packaging, lambda_report as reports, resources
from coldbench.targets.aws.client import (INVOKE_ATTEMPTS, INVOKE_NOT_SENT, Clients, Endpoints,
                                  describe, error_code, redact, unavailable)
from coldbench.build import Artifact
from coldbench.errors import EnvironmentUnavailable, UsageError
from coldbench.phases import ms_between
from coldbench.environments.runtime_api import now_ns
from coldbench.targets.base import Environment, Invoked, Target

NONCE_VARIABLE = "COLDBENCH_NONCE"
DEFAULT_COPIES = 3
DEFAULT_CONCURRENCY = 8
MAX_TIMEOUT_S = 900                  # Lambda's largest function timeout
MAX_ZIP_BYTES = 50 * 1024 * 1024     # CreateFunction's limit for a zip sent inline
ACTIVE_WAIT_S = 300.0                # a new function Pending longer than this is reported
UPDATE_WAIT_S = 300.0                # likewise a configuration update InProgress
PUBLISH_WAIT_S = 600.0               # a published version (SnapStart takes a snapshot)
PROVISIONED_POLL_S = 5.0
CONFLICT_RETRY_S = 60.0              # ResourceConflictException: an update still under way
INVOKE_BACKOFF_S = 0.5               # full jitter up to this times 2**try before a retried invoke


def snapstart_supported(lambda_runtime: str) -> bool:
    """Runtimes SnapStart works with (Lambda Developer Guide, "Improving startup
    performance with Lambda SnapStart"): Java 11 and later, Python 3.12 and later, .NET 8+."""
    for family, least in (("java", 11), ("python3.", 12), ("dotnet", 8)):
        if lambda_runtime.startswith(family):
            number = lambda_runtime.removeprefix(family)
            return number.isdigit() and int(number) >= least
    return False


def parse_lambda_runtimes(text: str | None) -> dict[str, str]:
    """``python=python3.13,node=nodejs22.x`` -> {"python": "python3.13", ...}."""
    from coldbench import runtimes
    found = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, identifier = part.partition("=")
        runtimes.get(name.strip())
        if not identifier.strip():
            raise UsageError(f"--lambda-runtime '{part}': give runtime=identifier, "
                             "e.g. python=python3.13")
        found[name.strip()] = identifier.strip()
    return found


@dataclass(frozen=True)
class AwsArtifact(Artifact):
    """A built function as one deployed configuration: its package for one architecture,
    with SnapStart on or off."""

    package: packaging.Package | None = None
    snapstart: bool = False

    @property
    def variant(self) -> str:
        return f"{self.package.architecture}{' SnapStart' if self.snapstart else ''}"


@dataclass
class Copy:
    """One deployed function (or, for provisioned concurrency, one slot of it)."""

    function: str
    variables: dict[str, str]
    lock: threading.Lock                  # shared by the slots of one function
    state: str = "ready"                  # ready, priming, in-use, stale, failed
    version: str | None = None            # the qualifier to invoke when ready
    failure: dict | None = None


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


class AwsTarget(Target):
    """Functions on AWS Lambda, deployed for the run and deleted after it."""

    name = "aws"

    def __init__(self, endpoints: Endpoints, timeout_s: float, architectures: list[str],
                 lambda_runtimes: dict[str, str] | None = None, role_arn: str | None = None,
                 copies: int = DEFAULT_COPIES, concurrency: int = DEFAULT_CONCURRENCY,
                 snapstart: bool = False, max_cost: float | None = None, yes: bool = False,
                 confirm: Callable[[str], bool] | None = None,
                 status: Callable[[str], None] | None = None,
                 announce: Callable[[str], None] | None = None,
                 provisioned_poll_s: float = PROVISIONED_POLL_S):
        """``status``: progress lines (may be quiet); ``announce``: what must be said
        whatever the verbosity (the plan and its cost, resources left behind)."""
        if not 1 <= timeout_s <= MAX_TIMEOUT_S:
            raise UsageError(f"--timeout {timeout_s:g}: Lambda takes 1 to {MAX_TIMEOUT_S} seconds")
        if copies < 1 or concurrency < 1:
            raise UsageError("--copies and --concurrency must be at least 1")
        self.endpoints = endpoints
        self.timeout_s = int(math.ceil(timeout_s))
        self.architectures = architectures
        self.lambda_runtimes = lambda_runtimes or {}
        self.role_arn = role_arn
        self.copies = copies
        self.concurrency = concurrency
        self.snapstart = snapstart
        self.max_cost = max_cost
        self.yes = yes
        self.confirm = confirm
        self.status = status or (lambda text: None)
        self.announce = announce or self.status
        self.provisioned_poll_s = provisioned_poll_s
        self.run_id = resources.new_run_id()
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.tags = {resources.TAG_RUN: self.run_id, resources.TAG_STARTED: self.started}
        self.ledger = resources.Ledger()
        self.clients: Clients | None = None
        self.estimate: cost.Estimate | None = None
        self._groups: dict[tuple[AwsArtifact, int], Group] = {}
        self._packages: list[packaging.Package] = []
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: set[Future] = set()
        self._previous_hup = None
        self._closed = False

    # preparing -------------------------------------------------------------------------

    def lambda_runtime(self, artifact: Artifact) -> str:
        runtime = artifact.function.runtime
        return self.lambda_runtimes.get(runtime.name, runtime.lambda_runtime)

    def prepare(self, configs, plan):
        from coldbench.measure.modes import Config

        if self.snapstart and plan.provisioned:
            raise UsageError("SnapStart functions cannot have provisioned concurrency "
                             "(Lambda Developer Guide, SnapStart limitations): pass "
                             "--provisioned 0 with --snapstart, or measure them in two runs")
        packages: dict[tuple[Artifact, str], packaging.Package] = {}
        expanded = []
        for config in configs:
            identifier = self.lambda_runtime(config.artifact)
            for arch in self.architectures:
                key = (config.artifact, arch)
                if key not in packages:
                    self.status(f"packaging {config.artifact.function.name} "
                                f"({config.runtime}, {identifier}, {arch})")
                    packages[key] = packaging.package(config.artifact, arch, identifier)
                    if packages[key].size > MAX_ZIP_BYTES:
                        raise UsageError(f"{packages[key].path} is over 50 MB, CreateFunction's "
                                         "limit for a zip sent directly")
                snaps = [False, True] if self.snapstart and snapstart_supported(identifier) \
                    else [False]
                for snap in snaps:
                    artifact = AwsArtifact(**{f: getattr(config.artifact, f) for f in
                                              ("function", "task_root", "digest", "toolchain")},
                                           package=packages[key], snapstart=snap)
                    expanded.append(Config(artifact, config.memory_mb, artifact.variant))
        self._packages = list(packages.values())
        if self.snapstart and not any(c.artifact.snapstart for c in expanded):
            raise UsageError("--snapstart: none of the chosen runtimes supports SnapStart "
                             "(Java 11+, Python 3.12+ and .NET 8+ do)")

        self.clients = Clients(self.endpoints, invoke_timeout_s=self.timeout_s,
                               max_connections=self.concurrency + 2)
        self.clients.check_credentials()
        self.estimate = cost.estimate(
            [cost.Deployment(self.lambda_runtime(c.artifact), c.memory_mb,
                             c.artifact.package.architecture, c.artifact.snapstart)
             for c in expanded],
            cost.Plan(plan.cold, plan.warm, plan.provisioned, self.timeout_s),
            self.endpoints.region)
        text = self.plan_text(expanded, plan)
        self.announce(text)
        if self.max_cost is not None and self.estimate.total_usd > self.max_cost:
            raise UsageError(f"the plan can cost up to {cost.usd(self.estimate.total_usd)}, "
                             f"above --max-cost {cost.usd(self.max_cost)}: measure fewer "
                             "configurations or samples, lower --timeout, or raise --max-cost; "
                             "nothing was created")
        if not self.yes and not (self.confirm and self.confirm(text)):
            raise UsageError("not confirmed, so nothing was created: pass --yes to go on "
                             "without a question")

        self._catch_hangup()
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                        thread_name_prefix="coldbench-aws")
        self._deploy(expanded, plan)
        return expanded

    def plan_text(self, configs, plan) -> str:
        functions = len(configs) * (self.copies + (1 if plan.provisioned else 0))
        snap = sum(1 for c in configs if c.artifact.snapstart)
        lines = [f"coldbench will create in AWS region {self.endpoints.region}, tagged "
                 f"{resources.TAG_RUN}={self.run_id}:"]
        if self.role_arn is None:
            lines.append(f"  - IAM role {resources.role_name(self.run_id)} (Lambda execution, "
                         "basic logging policy only)")
        per_config = f"{self.copies}{' + 1 for provisioned concurrency' if plan.provisioned else ''}"
        lines.append(f"  - Lambda functions: {functions} ({len(configs)} configurations x "
                     f"{per_config}), each with its log group")
        if snap or plan.provisioned:
            lines.append(f"  - published versions: {self.estimate.snapstart_versions} SnapStart, "
                         f"{self.estimate.provisioned_allocations} with provisioned concurrency 1")
        lines.append("It will run:")
        lines += [f"  {line}" for line in cost.describe(self.estimate)]
        lines.append("Everything is deleted at the end of the run; 'coldbench cleanup "
                     "--target aws' removes what a killed run leaves.")
        return "\n".join(lines)

    def _deploy(self, configs, plan) -> None:
        if self.role_arn is None:
            self.status(f"creating role {resources.role_name(self.run_id)}")
            try:
                role_arn = resources.create_role(self.clients, self.run_id, self.tags,
                                                 self.ledger)
            except Exception as exc:
                error = unavailable(exc)
                if error is None:
                    raise
                raise error from None
        else:
            role_arn = self.role_arn
        jobs = []
        for config in configs:
            artifact = config.artifact
            names = {"cold": [f"c{i}" for i in range(1, self.copies + 1)],
                     "provisioned": ["p1"] if plan.provisioned else []}
            copies: dict[str, list[Copy]] = {"cold": [], "provisioned": []}
            for mode, suffixes in names.items():
                for suffix in suffixes:
                    name = resources.function_name(self.run_id, artifact.function.runtime.name,
                                                   config.memory_mb,
                                                   artifact.package.architecture,
                                                   artifact.snapstart, suffix)
                    variables = {NONCE_VARIABLE: uuid.uuid4().hex}
                    lock = threading.Lock()
                    # one function, two slots: one measured while the next is allocated
                    slots = 2 if mode == "provisioned" else 1
                    for _ in range(slots):
                        copies[mode].append(Copy(name, variables, lock, state="priming"))
                    jobs.append((name, artifact, config.memory_mb, variables))
            self._groups[(artifact, config.memory_mb)] = Group(
                artifact, config.memory_mb, copies,
                due={"cold": plan.cold, "provisioned": plan.provisioned})
        self.status(f"creating {len(jobs)} functions, {self.concurrency} at a time")
        futures = [self._pool.submit(self._create, role_arn, *job) for job in jobs]
        failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            raise (unavailable(failures[0]) or EnvironmentUnavailable(
                f"AWS: could not create the functions: {describe(failures[0])}"))
        with self._cv:
            for group in self._groups.values():
                for copy in group.copies["cold"]:
                    if copy.state == "priming":     # created and Active: primed for cold
                        copy.state = "stale" if group.artifact.snapstart else "ready"
                for copy in group.copies["provisioned"]:
                    if copy.state == "priming":
                        copy.state = "stale"
                self._top_up(group, "cold")
                self._top_up(group, "provisioned")

    def _create(self, role_arn: str, name: str, artifact: AwsArtifact, memory_mb: int,
                variables: dict[str, str]) -> None:
        pkg = artifact.package
        resources.create_log_group(self.clients, name, self.tags, self.ledger)
        spec = dict(FunctionName=name, Runtime=self.lambda_runtime(artifact), Role=role_arn,
                    Handler=pkg.handler, Code={"ZipFile": pkg.path.read_bytes()},
                    MemorySize=memory_mb, Timeout=self.timeout_s,
                    Architectures=[pkg.architecture],
                    Environment={"Variables": dict(variables)},
                    Description=f"coldbench run {self.run_id}: {artifact.function.name} "
                                f"({artifact.function.runtime.name}) {memory_mb} MB "
                                f"{artifact.variant}",
                    Tags=dict(self.tags, **{"coldbench:runtime": artifact.function.runtime.name}))
        if artifact.snapstart:
            spec["SnapStart"] = {"ApplyOn": "PublishedVersions"}
        resources.create_function(self.clients, spec, self.ledger, self._stop)
        try:
            self._wait("function_active_v2", ACTIVE_WAIT_S, FunctionName=name)
        except _Stuck as exc:
            self._fail_function(name, exc.failure)

    def _fail_function(self, name: str, failure: dict) -> None:
        with self._cv:
            for group in self._groups.values():
                for copies in group.copies.values():
                    for copy in copies:
                        if copy.function == name:
                            copy.state, copy.failure = "failed", failure
            self._cv.notify_all()

    # taking samples --------------------------------------------------------------------

    def start(self, artifact, memory_mb, provisioned) -> "AwsEnvironment":
        group = self._groups[(artifact, memory_mb)]
        mode = "provisioned" if provisioned else "cold"
        copy = self._take(group, mode)
        return AwsEnvironment(self, group, copy, mode)

    def _take(self, group: Group, mode: str) -> Copy:
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
                if not any(c.state == "priming" for c in copies):
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
        except _Stopping:
            return
        except _Stuck as exc:
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
        self._retry_conflict(lambda: self.clients.lambda_.update_function_configuration(
            FunctionName=copy.function, Environment={"Variables": variables}))
        copy.variables.clear()
        copy.variables.update(variables)
        self._wait("function_updated_v2", UPDATE_WAIT_S, FunctionName=copy.function)

    def _publish(self, copy: Copy) -> str:
        """A new published version of the copy's function, active."""
        with copy.lock:
            self._force_cold(copy)      # a changed configuration makes PublishVersion publish
            version = self._retry_conflict(lambda: self.clients.lambda_.publish_version(
                FunctionName=copy.function))["Version"]
        self._wait("published_version_active", PUBLISH_WAIT_S, FunctionName=copy.function,
                   Qualifier=version)
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
                raise _Stuck({"type": "Coldbench.ProvisionedConcurrencyFailed", "phase": "init",
                              "message": f"{function}:{version}: provisioned concurrency "
                                         f"FAILED: {config.get('StatusReason', '')}"})
            if time.monotonic() > deadline:
                raise _Stuck({"type": "Coldbench.ProvisionedConcurrencyTimeout", "phase": "init",
                              "message": f"{function}:{version}: provisioned concurrency not "
                                         f"READY after {cost.PROVISIONED_READY_WAIT_S:.0f} s"})
            if self._stop.wait(self.provisioned_poll_s):
                raise _Stopping

    def _release(self, group: Group, copy: Copy, mode: str) -> None:
        """A sample is taken: its version and allocation go, the copy is primed again."""
        version = copy.version
        if version is not None and not self._stop.is_set():
            try:
                self._pool.submit(self._remove_version, copy.function, version,
                                  mode == "provisioned")
            except RuntimeError:     # the run is ending: the function's deletion removes it
                pass
        with self._cv:
            copy.version = None
            copy.state = "stale"
            if not self._stop.is_set():
                self._top_up(group, mode)

    def _remove_version(self, function: str, version: str, provisioned: bool) -> None:
        try:
            if provisioned:
                self.clients.lambda_.delete_provisioned_concurrency_config(
                    FunctionName=function, Qualifier=version)
            self.clients.lambda_.delete_function(FunctionName=function, Qualifier=version)
        except Exception:  # noqa: BLE001 - the function's deletion at cleanup removes it too
            pass

    def _retry_conflict(self, call):
        """``call``, again while Lambda answers that an update is still under way."""
        deadline = time.monotonic() + CONFLICT_RETRY_S
        delay = 0.5
        while True:
            try:
                return call()
            except Exception as exc:
                if error_code(exc) != "ResourceConflictException" or time.monotonic() > deadline:
                    raise
            if self._stop.wait(delay):
                raise _Stopping
            delay = min(delay * 2, 5.0)

    def _wait(self, waiter: str, limit_s: float, **params) -> None:
        """A boto3 waiter, in short rounds (so that a stop is seen), for at most ``limit_s``;
        _Stuck with Lambda's reason when the function failed or took too long."""
        deadline = time.monotonic() + limit_s
        wait = self.clients.lambda_.get_waiter(waiter)
        from botocore.exceptions import WaiterError
        while True:
            if self._stop.is_set():
                raise _Stopping
            try:
                wait.wait(**params, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
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
                    raise _Stuck({"type": "Coldbench.FunctionNotReady", "phase": "init",
                                  "message": redact(f"{what}: {waiter} gave up (State "
                                                    f"{state[0]}, LastUpdateStatus {state[1]}"
                                                    f"{': ' + reason if reason else ''})")})

    # invoking --------------------------------------------------------------------------

    def invoke(self, copy: Copy, event: dict) -> tuple[Invoked, bool]:
        """One invocation with the log tail; the sample and whether the environment lives on."""
        params = dict(FunctionName=copy.function, Payload=json.dumps(event).encode(),
                      LogType="Tail")
        if copy.version is not None:
            params["Qualifier"] = copy.version
        for attempt in range(1, INVOKE_ATTEMPTS + 1):
            started = now_ns()           # each try is timed on its own
            try:
                response = self.clients.invoke.invoke(**params)
                payload = response["Payload"].read()
                break
            except Exception as exc:  # noqa: BLE001 - a failed invoke is a sample with an error
                e2e_ms = ms_between(started, now_ns())
                kind = error_code(exc) or type(exc).__name__
                if kind in INVOKE_NOT_SENT and attempt < INVOKE_ATTEMPTS:
                    time.sleep(random.uniform(0, INVOKE_BACKOFF_S * 2 ** attempt))
                    continue
                return Invoked(duration_ms=None, e2e_ms=e2e_ms,
                               error={"type": kind, "phase": "invoke",
                                      "message": describe(exc)}), False
        e2e_ms = ms_between(started, now_ns())
        log = base64.b64decode(response.get("LogResult") or "").decode("utf-8", "replace")
        report = reports.find(log)
        try:
            document = json.loads(payload or b"null")
        except ValueError:
            document = payload.decode("utf-8", "replace")
        extra = {"function_name": copy.function,
                 "executed_version": response.get("ExecutedVersion")}
        if report is None:
            return Invoked(duration_ms=None, e2e_ms=e2e_ms, response=document, extra=extra,
                           error={"type": "Coldbench.NoReport", "phase": "invoke",
                                  "message": "the invoke's log tail had no REPORT line"}), False
        extra |= {"request_id": report.request_id,
                  "billed_duration_ms": report.billed_duration_ms,
                  "memory_size_mb": report.memory_size_mb,
                  "report_cold": report.cold}
        if report.restore_duration_ms is not None:
            extra |= {"restore_ms": report.restore_duration_ms,
                      "billed_restore_ms": report.billed_restore_duration_ms}
        if report.status is not None:
            extra["lambda_status"] = report.status
        result = Invoked(duration_ms=report.duration_ms,
                         init_ms=(report.init_duration_ms if report.init_duration_ms is not None
                                  else report.restore_duration_ms),
                         max_memory_mb=float(report.max_memory_used_mb), e2e_ms=e2e_ms,
                         extra=extra)
        if response.get("FunctionError"):
            body = document if isinstance(document, dict) else {}
            kind = ("Sandbox.Timedout" if report.status == "timeout" else
                    report.error_type or body.get("errorType") or "Runtime.Unknown")
            result.error = {"type": kind, "phase": "invoke",
                            "message": str(body.get("errorMessage") or document)[:500]}
        else:
            result.response = document
        # after a timeout or a crash Lambda resets the environment: the next one is new
        return result, report.status is None

    # describing and ending -------------------------------------------------------------

    def describe(self) -> dict:
        described = {
            "target": self.name,
            "region": self.endpoints.region,
            "architectures": self.architectures,
            "aws_run_id": self.run_id,
            "lambda_runtimes": {p.runtime: p.lambda_runtime for p in self._packages},
            "packages": [{"runtime": p.runtime, "architecture": p.architecture,
                          "lambda_runtime": p.lambda_runtime, "bytes": p.size,
                          "code_sha256": p.code_sha256} for p in self._packages],
            "copies": self.copies,
            "snapstart": self.snapstart,
            "function_timeout_s": self.timeout_s,
            "role": "given" if self.role_arn else "created for the run",
            "price_table": cost.PRICE_TABLE,
        }
        if self.estimate is not None:
            described["cost_bound_usd"] = round(self.estimate.total_usd, 6)
        for key in ("endpoint_url", "invoke_endpoint_url"):
            if getattr(self.endpoints, key):
                described[key] = redact(getattr(self.endpoints, key))
        return described

    def close(self) -> None:
        """Delete everything the run created. Runs once; Ctrl-C waits until it is done."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with _signals_deferred(self.status):
            if self._pool is not None:
                for future in list(self._pending):
                    future.cancel()
                self._pool.shutdown(wait=True, cancel_futures=True)
            if self.clients is not None:
                self._clean_up()
        self._restore_hangup()

    def _clean_up(self) -> None:
        ledger = self.ledger
        created = ([resources.Resource("function", f, self.run_id) for f in ledger.functions]
                   + [resources.Resource("log group", g, self.run_id) for g in ledger.log_groups]
                   + ([resources.Resource("role", ledger.role, self.run_id)]
                      if ledger.role else []))
        if not created:
            return
        self.status(f"deleting {len(ledger.functions)} functions, {len(ledger.log_groups)} "
                    f"log groups{' and role ' + ledger.role if ledger.role else ''}")
        errors = resources.delete(self.clients, created)
        for line in errors:
            self.announce(f"could not delete {line}")
        if errors:
            self.announce(f"run 'coldbench cleanup --target aws --region "
                          f"{self.endpoints.region} --run-id {self.run_id}' to try again")

    def _catch_hangup(self) -> None:
        """A closed terminal (SIGHUP) ends the run as Ctrl-C does: cleanup runs."""
        if threading.current_thread() is threading.main_thread():
            def interrupt(signum, frame):
                raise KeyboardInterrupt
            self._previous_hup = signal.signal(signal.SIGHUP, interrupt)

    def _restore_hangup(self) -> None:
        if self._previous_hup is not None:
            signal.signal(signal.SIGHUP, self._previous_hup)
            self._previous_hup = None


class AwsEnvironment(Environment):
    """A primed copy: its next invocation starts (or, provisioned, finds) a new environment."""

    def __init__(self, target: AwsTarget, group: Group, copy: Copy, mode: str):
        self.target = target
        self.group = group
        self.copy = copy
        self.mode = mode
        self.failure = copy.failure
        self._closed = False

    def invoke(self, event: dict) -> Invoked:
        if self.failure is not None:
            self.alive = False
            return Invoked(duration_ms=None, error=dict(self.failure))
        result, alive = self.target.invoke(self.copy, event)
        result.extra["architecture"] = self.group.artifact.package.architecture
        self.alive = alive
        return result

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.alive = False
        self.target._release(self.group, self.copy, self.mode)


class _Stuck(Exception):
    def __init__(self, failure: dict):
        super().__init__(failure["message"])
        self.failure = failure


class _Stopping(Exception):
    """The run is ending: a background task gives up quietly."""


@contextmanager
def _signals_deferred(status: Callable[[str], None]):
    """While cleanup runs, Ctrl-C, SIGTERM and SIGHUP only say to wait."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def wait(signum, frame):
        status("cleaning up AWS resources: please wait (interrupting now would leave "
               "resources behind for 'coldbench cleanup --target aws')")
    saved = {s: signal.signal(s, wait) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
