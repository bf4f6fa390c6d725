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
  A first invocation whose REPORT has no Restore Duration did not restore a snapshot: it
  is a sample with the error ``Coldbench.NoRestore``, excluded and counted.
- proactive initialization: Lambda may initialise an environment before a request needs
  it (Lambda Developer Guide, "Understanding the Lambda execution environment
  lifecycle"); the REPORT of a cold-mode invocation served by one has no Init Duration.
  Such samples are excluded (``measure.modes``) and counted per configuration, as a rate
  in the run's metadata (``proactive_init``) and in the warnings.
- burst (``--burst N``): after the other samples, N invokes at once of one primed copy
  per configuration, each served by an environment of its own; a throttle is a sample with
  its error, not retried (``burst``).
- after idle (``--idle 5m,15m``): after the other samples, every idle function (one per
  configuration, interval and sample) invoked, left alone for its interval with no
  configuration change, and invoked again; the second invocation is the sample, cold or
  warm as its REPORT says. All wait at once (``idle``).
- provisioned: a published version with provisioned concurrency 1, invoked once it is
  READY; the allocation is removed as soon as its sample is taken (it costs while it
  exists), and at most two per configuration exist at once.

A function that stays Pending or Failed, an update that fails, or throttling that
outlasts the bounded retries becomes a sample with an error, not an endless wait.

Which runtime identifier each runtime is deployed with, on the day of the run, is
``lambda_runtimes``' to say (Lambda's deprecation schedule). Functions are created with
the Text log format, whose REPORT line ``lambda_report`` reads (it reads the JSON format's
``platform.report`` record too).

The parts, one job each: ``plan`` (what will be deployed and what it can cost, the
question), ``deploy`` (role, functions, log groups), ``copies`` (the copies and their
priming in the background), ``invoke`` (one invocation and its REPORT line), ``cleanup``
(deleting what the run created, signals deferred).
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, timezone
from typing import Callable

from coldbench.errors import UsageError
from coldbench.model import Artifact, Config, ConfigKey, interval_text
from coldbench.phases import ms_between, now_ns
from coldbench.targets.aws import cleanup, estimate as cost, images, invoke as invocation
from coldbench.targets.aws import function_urls
from coldbench.targets.aws import resources
from coldbench.targets.aws import idle as idle_sweep
from coldbench.targets.aws import lambda_runtimes as schedule
from coldbench.targets.aws import package as packaging
from coldbench.targets.aws.client import Clients, Endpoints, redact, unavailable
from coldbench.targets.aws.copies import PROVISIONED_POLL_S, Copy, Group, Primer
from coldbench.targets.aws.deploy import Deployer
from coldbench.targets.aws.plan import (approve, cost_bound, package_configs, plan_text,
                                        refuse_snapstart_with_provisioned,
                                        require_snapstart_support)
from coldbench.targets.base import Environment, Invoked, Target

DEFAULT_COPIES = 3
DEFAULT_CONCURRENCY = 8
MAX_TIMEOUT_S = 900                  # Lambda's largest function timeout


class AwsTarget(Target):
    """Functions on AWS Lambda, deployed for the run and deleted after it."""

    name = "aws"

    def __init__(self, endpoints: Endpoints, timeout_s: float, architectures: list[str],
                 lambda_runtimes: str | None = None, role_arn: str | None = None,
                 copies: int = DEFAULT_COPIES, concurrency: int = DEFAULT_CONCURRENCY,
                 snapstart: bool = False, max_cost: float | None = None, yes: bool = False,
                 confirm: Callable[[str], bool] | None = None,
                 status: Callable[[str], None] | None = None,
                 announce: Callable[[str], None] | None = None,
                 provisioned_poll_s: float = PROVISIONED_POLL_S, today: date | None = None,
                 run_id: str | None = None, one_of_regions: bool = False,
                 package_types: list[str] | None = None, own_architecture: bool = False,
                 via: str = "invoke"):
        """``lambda_runtimes``: ``--lambda-runtime`` as given (``lambda_runtimes.choose``);
        ``one_of_regions``: a region of a run in several (``aws.regions``), which shares
        ``run_id``, puts the region in its configurations' variant, and leaves the
        question and ``deploy`` to the run;
        ``today``: the day the deprecation schedule is read for (None: today, UTC);
        ``status``: progress lines (may be quiet); ``announce``: what must be said
        whatever the verbosity (the plan and its cost, resources left behind);
        ``package_types``: "zip", "image" or both (``--package``, ``images``);
        ``own_architecture``: ``--arch`` was not given, so a template's function is
        deployed for the architecture its definition names;
        ``via``: "invoke" (the Invoke API) or "url" (each function's own function URL,
        ``function_urls``)."""
        if not 1 <= timeout_s <= MAX_TIMEOUT_S:
            raise UsageError(f"--timeout {timeout_s:g}: Lambda takes 1 to {MAX_TIMEOUT_S} seconds")
        if copies < 1 or concurrency < 1:
            raise UsageError("--copies and --concurrency must be at least 1")
        self.endpoints = endpoints
        self.timeout_s = int(math.ceil(timeout_s))
        self.architectures = architectures
        self.lambda_runtimes = lambda_runtimes
        self.today = today or schedule.today()
        self.choices: dict[str, schedule.Choice] = {}     # by runtime, as they are asked for
        self.role_arn = role_arn
        self.copies = copies
        self.concurrency = concurrency
        self.snapstart = snapstart
        self.package_types = package_types or ["zip"]
        self.own_architecture = own_architecture
        self.via = via
        self.urls: function_urls.UrlCaller | None = None      # --via url
        self.images: images.Images | None = None       # --package image
        self.max_cost = max_cost
        self.yes = yes
        self.confirm = confirm
        self.status = status or (lambda text: None)
        self.announce = announce or self.status
        self.provisioned_poll_s = provisioned_poll_s
        self.run_id = run_id or resources.new_run_id()
        self.one_of_regions = one_of_regions
        self.plan_text = ""
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.tags = {resources.TAG_RUN: self.run_id, resources.TAG_STARTED: self.started}
        self.ledger = resources.Ledger()
        self.clients: Clients | None = None
        self.estimate: cost.Estimate | None = None
        self.primer: Primer | None = None
        self._packages: list[packaging.Package] = []
        # per configuration (its label): cold-mode environments' first invocations and
        # those Lambda had initialised before the request, or (SnapStart) that did not
        # restore. Shared with the results file's run metadata, so its final write holds
        # the final counts.
        self.proactive_init: dict[str, dict] = {}
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._previous_hup = None
        self._closed = False

    # preparing -------------------------------------------------------------------------

    def lambda_runtime(self, artifact: Artifact) -> str:
        """The identifier ``artifact``'s runtime is deployed with (UsageError if Lambda
        creates no functions with it)."""
        name = artifact.function.runtime.name
        if name not in self.choices:
            self.choices |= schedule.choose([name], self.lambda_runtimes, self.today)
        return self.choices[name].identifier

    def prepare(self, configs, plan):
        refuse_snapstart_with_provisioned(self.snapstart, plan)
        if "image" in self.package_types:
            images.check_architectures(self.architectures)
            self.images = images.Images(self.run_id, self.status,
                                        min(c.memory_mb for c in configs))
        expanded, self._packages = package_configs(
            configs, self.architectures, self.lambda_runtime, self.snapstart, self.status,
            self.package_types, self.images.build if self.images else None,
            self.own_architecture)
        require_snapstart_support(self.snapstart, expanded)
        if self.one_of_regions:         # the region sets its configurations apart
            expanded = [Config(a, c.memory_mb, a.variant) for c in expanded
                        for a in [replace(c.artifact, region=self.endpoints.region)]]
        if self.via == "url":           # kept apart from invoked ones: "... via url"
            expanded = [replace(c, variant=c.variant.but(via=self.via)) for c in expanded]

        self.clients = Clients(self.endpoints, invoke_timeout_s=self.timeout_s,
                               max_connections=max(self.concurrency, plan.burst) + 2)
        self.clients.check_credentials()
        if self.via == "url":
            self.urls = function_urls.UrlCaller(self.clients, self.timeout_s,
                                                self.endpoints.url_endpoint_url,
                                                stop=self._stop.is_set)
        built = self.images.built if self.images else []
        self.estimate = cost_bound(expanded, plan, self.lambda_runtime, self.timeout_s,
                                   self.endpoints.region,
                                   image_bytes=[i.local_bytes for i in built])
        text = plan_text(expanded, plan, self.estimate, self.endpoints.region, self.run_id,
                         self.role_arn, self.copies, list(self.choices.values()),
                         built, self.images.notes if self.images else (),
                         via_url=self.via == "url")
        self.plan_text = text
        if self.one_of_regions:         # asked once for every region, then ``deploy``
            return expanded
        self.announce(text)
        approve(text, self.estimate, self.max_cost, self.yes, self.confirm)
        return self.deploy(expanded, plan)

    def deploy(self, expanded, plan):
        """Create what ``prepare`` planned and start priming copies."""
        self._previous_hup = cleanup.catch_hangup()
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                        thread_name_prefix="coldbench-aws")
        self._deploy(expanded, plan)
        return expanded

    def _deploy(self, configs, plan) -> None:
        deployer = Deployer(self.clients, self.run_id, self.tags, self.ledger, self.timeout_s,
                            self.lambda_runtime, self._stop, self.status,
                            with_urls=self.urls is not None)
        role_arn = deployer.create_role() if self.role_arn is None else self.role_arn
        if self.images is not None:
            self.status(f"creating ECR repository {resources.repository_name(self.run_id)}")
            try:
                uri = resources.create_repository(self.clients, self.run_id, self.tags,
                                                  self.ledger)
            except Exception as exc:
                raise (unavailable(exc) or exc) from None
            self.images.push_all(self.clients, resources.repository_name(self.run_id), uri)
        groups = deployer.create_functions(configs, plan, self.copies, role_arn, self._pool,
                                           self.concurrency)
        self.primer = Primer(self.clients, self._pool, self._stop, groups,
                             self.provisioned_poll_s)
        self.primer.start()

    # taking samples --------------------------------------------------------------------

    def start(self, artifact, memory_mb, provisioned) -> "AwsEnvironment":
        group = self.primer.groups[(artifact, memory_mb)]
        mode = "provisioned" if provisioned else "cold"
        copy = self.primer.take(group, mode)
        return AwsEnvironment(self, group, copy, mode)

    def burst(self, artifact, memory_mb, count, event):
        """``count`` invocations of one primed copy (no environment yet), sent at once from
        as many threads: each needs an environment of its own, as a launch or a retry storm
        asks of Lambda. A throttle (429) is a sample with its error, not retried."""
        group = self.primer.groups[(artifact, memory_mb)]
        copy = self.primer.take(group, "cold")
        try:
            if copy.failure is not None:
                return [(Invoked(duration_ms=None, error=dict(copy.failure)), None)] * count
            together = threading.Barrier(count)

            def one(_) -> tuple[Invoked, float]:
                together.wait()
                started = now_ns()
                result, _alive = self.call(copy, event, attempts=1)
                e2e_ms = ms_between(started, now_ns())
                if self.urls is not None and result.e2e_ms is not None:
                    e2e_ms = result.e2e_ms      # the request, without the REPORT's lookup
                result.extra["architecture"] = artifact.package.architecture
                result.extra["lambda_runtime"] = artifact.package.lambda_runtime
                result.extra["package_type"] = artifact.package_type
                self.count_start(group, result)     # a throttle has no REPORT to count
                return result, e2e_ms

            with ThreadPoolExecutor(max_workers=count,
                                    thread_name_prefix="coldbench-burst") as pool:
                return list(pool.map(one, range(count)))
        finally:
            self.primer.release(group, copy, "cold")

    def idle(self, configs, intervals_s, samples, event):
        """The idle sweep (``aws.idle``): every idle function of every configuration
        invoked, left alone for its interval, and invoked again, ``concurrency``
        invocations at a time, all waits at once."""
        by_group = {(c.artifact, c.memory_mb): c for c in idle_sweep.swept(configs)}
        groups = {key: group for key, group in self.primer.groups.items() if key in by_group}
        self.status(f"idle sweep: {len(by_group) * len(intervals_s) * samples} functions "
                    f"invoked, then again after "
                    f"{', '.join(interval_text(i) for i in intervals_s)}")

        def invoke(copy: Copy) -> Invoked:
            result, _alive = self.call(copy, event)
            return result

        for slot, result in idle_sweep.sweep(idle_sweep.slots(groups, intervals_s, samples),
                                             invoke, self.concurrency, self._stop):
            result.extra["architecture"] = slot.group.artifact.package.architecture
            result.extra["lambda_runtime"] = slot.group.artifact.package.lambda_runtime
            result.extra["package_type"] = slot.group.artifact.package_type
            yield by_group[(slot.group.artifact, slot.group.memory_mb)], slot.interval_s, result

    def invoke(self, copy: Copy, event: dict) -> tuple[Invoked, bool]:
        """One invocation with the log tail; the sample and whether the environment lives on."""
        return self.call(copy, event)

    def call(self, copy: Copy, event: dict,
             attempts: int = invocation.INVOKE_ATTEMPTS) -> tuple[Invoked, bool]:
        """One invocation as the run sends them: Invoke, or a request to the copy's
        function URL (``--via url``)."""
        if self.urls is not None:
            return self.urls.call(copy, event, attempts)
        return invocation.invoke(self.clients, copy, event, attempts)

    def count_start(self, group: Group, result: Invoked) -> None:
        """Count the first invocation of a cold-mode environment: one that Lambda had
        initialised before the request (a REPORT without Init Duration), or under SnapStart
        one that did not restore a snapshot (flagged here as an error sample)."""
        if "report_cold" not in result.extra:
            return                      # no REPORT: nothing Lambda said to count
        artifact = group.artifact
        label = str(ConfigKey(artifact.function.name, artifact.function.runtime.name,
                              group.memory_mb, artifact.variant))
        no_restore = artifact.snapstart and result.extra.get("restore_ms") is None
        if no_restore and result.error is None:
            init = result.init_ms
            result.error = {"type": "Coldbench.NoRestore", "phase": "invoke", "message": (
                "the SnapStart version's first invocation reported no Restore Duration "
                f"(Init Duration: {'none' if init is None else f'{init:.2f} ms'}): no "
                "snapshot was restored, so it is no SnapStart cold start; excluded")}
        counts = self.proactive_init.setdefault(label, {"cold_invocations": 0})
        counts["cold_invocations"] += 1
        if artifact.snapstart:
            kind, found = "without_restore", no_restore
        else:
            kind, found = "initialised_before", result.extra["report_cold"] is False
        counts[kind] = counts.get(kind, 0) + found
        counts[f"{kind}_rate"] = round(counts[kind] / counts["cold_invocations"], 4)

    # describing and ending -------------------------------------------------------------

    def describe(self) -> dict:
        described = {
            "target": self.name,
            "region": self.endpoints.region,
            "architectures": self.architectures,
            "aws_run_id": self.run_id,
            "lambda_runtimes": {p.runtime: p.lambda_runtime for p in self._packages},
            "lambda_runtime_table": schedule.TABLE,
            "lambda_runtime_day": self.today.isoformat(),
            "lambda_runtime_notes": {c.runtime: c.note for c in self.choices.values() if c.note},
            "log_format": "Text",
            "proactive_init": self.proactive_init,
            "packages": [{"runtime": p.runtime, "architecture": p.architecture,
                          "lambda_runtime": p.lambda_runtime, "bytes": p.size,
                          "code_sha256": p.code_sha256} for p in self._packages],
            "package_types": self.package_types,
            "copies": self.copies,
            "snapstart": self.snapstart,
            "function_timeout_s": self.timeout_s,
            "via": self.via,
            "role": "given" if self.role_arn else "created for the run",
            "price_table": cost.PRICE_TABLE,
        }
        if self.images is not None:         # runtime -> its image (one architecture: this one)
            described["images"] = {i.runtime: i.describe() for i in self.images.built}
            described["image_notes"] = self.images.notes
        if self.estimate is not None:
            described["cost_bound_usd"] = round(self.estimate.total_usd, 6)
        if self.via == "url":
            described["url"] = ("each function's own function URL (AuthType AWS_IAM, "
                                "requests signed with SigV4); url_ms: the HTTP client's "
                                "latency (httpx); Init Duration and Duration from the REPORT "
                                "line in CloudWatch Logs")
        for key in ("endpoint_url", "invoke_endpoint_url", "url_endpoint_url"):
            if getattr(self.endpoints, key):
                described[key] = redact(getattr(self.endpoints, key))
        return described

    def close(self) -> None:
        """Delete everything the run created. Runs once; Ctrl-C waits until it is done."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with cleanup.signals_deferred(self.status):
            if self._pool is not None:
                if self.primer is not None:
                    self.primer.cancel_pending()
                self._pool.shutdown(wait=True, cancel_futures=True)
            if self.clients is not None:
                cleanup.delete_created(self.clients, self.ledger, self.run_id,
                                       self.endpoints.region, self.status, self.announce)
            if self.images is not None:
                self.images.close()
            if self.urls is not None:
                self.urls.close()
        cleanup.restore_hangup(self._previous_hup)
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
        self._invoked = False

    def invoke(self, event: dict) -> Invoked:
        if self.failure is not None:
            self.alive = False
            return Invoked(duration_ms=None, error=dict(self.failure),
                           extra={"region": self.target.endpoints.region})
        result, alive = self.target.invoke(self.copy, event)
        result.extra["architecture"] = self.group.artifact.package.architecture
        result.extra["lambda_runtime"] = self.group.artifact.package.lambda_runtime
        result.extra["package_type"] = self.group.artifact.package_type
        if self.mode == "cold" and not self._invoked:
            self.target.count_start(self.group, result)
        self._invoked = True
        self.alive = alive
        return result

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.alive = False
        self.target.primer.release(self.group, self.copy, self.mode)
