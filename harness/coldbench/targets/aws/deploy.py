"""Deploying an AWS run: its execution role (unless given), and per configuration its
copies, functions each created with its log group and waited for until Active. Every
resource is in the run's ledger before it is created (``resources``), so that cleanup
finds it whatever happens next."""

from __future__ import annotations

import hashlib
import math
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from coldbench.build import Artifact, FunctionConfiguration
from coldbench.errors import EnvironmentUnavailable, UsageError
from coldbench.targets.aws import function_urls
from coldbench.targets.aws import package as packaging
from coldbench.targets.aws import resources
from coldbench.targets.aws.client import Clients, describe, unavailable
from coldbench.targets.aws.copies import NONCE_VARIABLE, Copy, Group, Stuck, wait
from coldbench.targets.aws.idle import idle_suffixes
from coldbench.targets.aws.plan import MAX_ZIP_BYTES, AwsArtifact, cold_copies

ACTIVE_WAIT_S = 300.0                # a new function Pending longer than this is reported


class Deployer:
    """Creates one run's resources, named with its id and tagged with ``tags``."""

    def __init__(self, clients: Clients, run_id: str, tags: dict[str, str],
                 ledger: resources.Ledger, timeout_s: int,
                 lambda_runtime: Callable[[Artifact], str], stop: threading.Event,
                 status: Callable[[str], None], with_urls: bool = False):
        """``with_urls``: each function gets a function URL (``--via url``)."""
        self.clients = clients
        self.run_id = run_id
        self.tags = tags
        self.ledger = ledger
        self.timeout_s = timeout_s
        self.lambda_runtime = lambda_runtime
        self.stop = stop
        self.status = status
        self.with_urls = with_urls
        self.layer_arns: dict[str, str] = {}     # layer digest -> its version's ARN

    def create_role(self) -> str:
        """A Lambda execution role for the run; its ARN."""
        self.status(f"creating role {resources.role_name(self.run_id)}")
        try:
            return resources.create_role(self.clients, self.run_id, self.tags, self.ledger)
        except Exception as exc:
            error = unavailable(exc)
            if error is None:
                raise
            raise error from None

    def create_functions(self, configs, plan, copies: int, role_arn: str,
                         pool: ThreadPoolExecutor,
                         concurrency: int) -> dict[tuple[AwsArtifact, int], Group]:
        """``copies`` functions per configuration when the plan has samples taken from them
        (``plan.cold_copies``), plus one for provisioned concurrency when it has such
        samples, and one per idle sample (``idle``), created on ``pool``; their copies by
        configuration.
        A function that does not become Active makes its copies failed ones."""
        groups: dict[tuple[AwsArtifact, int], Group] = {}
        jobs = []
        self.publish_layers(configs)
        for config in configs:
            artifact = config.artifact
            names = {"cold": [f"c{i}" for i in range(1, cold_copies(plan, copies) + 1)],
                     "provisioned": ["p1"] if plan.provisioned else [],
                     "idle": idle_suffixes(plan, artifact)}
            group_copies: dict[str, list[Copy]] = {"cold": [], "provisioned": [], "idle": []}
            for mode, suffixes in names.items():
                for suffix in suffixes:
                    name = resources.function_name(self.run_id, artifact.function.runtime.name,
                                                   config.memory_mb,
                                                   artifact.package.architecture,
                                                   artifact.snapstart,
                                                   function_tag(artifact.function) + suffix,
                                                   image=artifact.image is not None,
                                                   layers=len(artifact.function.layers))
                    # a template function's own variables, and the nonce that forces cold
                    variables = (dict(artifact.function.configuration.environment)
                                 | {NONCE_VARIABLE: uuid.uuid4().hex})
                    lock = threading.Lock()
                    # one function, two slots: one measured while the next is allocated
                    slots = 2 if mode == "provisioned" else 1
                    for _ in range(slots):
                        group_copies[mode].append(Copy(name, variables, lock, state="priming"))
                    jobs.append((name, artifact, config.memory_mb, variables,
                                 group_copies[mode][-slots:]))
            groups[(artifact, config.memory_mb)] = Group(
                artifact, config.memory_mb, group_copies,
                due={"cold": plan.cold + (1 if plan.burst else 0),
                     "provisioned": plan.provisioned})
        self.status(f"creating {len(jobs)} functions, {concurrency} at a time")
        futures = [pool.submit(self._create, role_arn, *job) for job in jobs]
        failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            raise (unavailable(failures[0]) or EnvironmentUnavailable(
                f"AWS: could not create the functions: {describe(failures[0])}"))
        return groups

    def publish_layers(self, configs) -> None:
        """Each layer of the configurations published once, as a layer version of the
        run's (``resources.publish_layer``): a folder zipped as it is, a zip as given."""
        for config in configs:
            for layer in config.artifact.function.layers:
                if layer.digest in self.layer_arns:
                    continue
                self.status(f"publishing layer {layer.name}")
                if layer.source.is_dir():
                    with tempfile.TemporaryDirectory(prefix="coldbench-layer-") as work:
                        packaging.write_zip(layer.source, Path(work) / "layer.zip")
                        content = (Path(work) / "layer.zip").read_bytes()
                else:
                    content = layer.source.read_bytes()
                if len(content) > MAX_ZIP_BYTES:
                    raise UsageError(f"layer {layer.name} zips to {len(content):,} bytes, over "
                                     "50 MB, PublishLayerVersion's limit for a zip sent "
                                     "directly")
                try:
                    self.layer_arns[layer.digest] = resources.publish_layer(
                        self.clients, self.run_id, layer.name, content,
                        f"coldbench run {self.run_id}: layer {layer.name} ({layer.digest[:12]})",
                        self.ledger)
                except Exception as exc:
                    raise (unavailable(exc) or EnvironmentUnavailable(
                        f"AWS: could not publish layer {layer.name}: {describe(exc)}")) from None

    def _create(self, role_arn: str, name: str, artifact: AwsArtifact, memory_mb: int,
                variables: dict[str, str], slots: list[Copy]) -> None:
        pkg = artifact.package
        resources.create_log_group(self.clients, name, self.tags, self.ledger)
        defined = artifact.function.configuration       # a template's, where it set them
        spec = dict(FunctionName=name,
                    Runtime=defined.lambda_runtime or self.lambda_runtime(artifact),
                    Role=role_arn,
                    Handler=pkg.handler, Code={"ZipFile": pkg.path.read_bytes()},
                    MemorySize=memory_mb,
                    Timeout=math.ceil(defined.timeout_s) if defined.timeout_s else self.timeout_s,
                    Architectures=[pkg.architecture],
                    Environment={"Variables": artifact.function.configured_env()
                                 | dict(variables)},
                    # the format the REPORT line comes in, said rather than left to
                    # Lambda's default (the JSON format writes a platform.report record)
                    LoggingConfig={"LogFormat": "Text"},
                    Description=f"coldbench run {self.run_id}: {artifact.function.name} "
                                f"({artifact.function.runtime.name}) {memory_mb} MB "
                                f"{artifact.variant}",
                    Tags=dict(self.tags, **{"coldbench:runtime": artifact.function.runtime.name}))
        if artifact.function.layers:          # in order: later over earlier at /opt
            spec["Layers"] = [self.layer_arns[layer.digest]
                              for layer in artifact.function.layers]
        if artifact.snapstart:
            spec["SnapStart"] = {"ApplyOn": "PublishedVersions"}
        if artifact.image is not None:        # the image holds the runtime and the handler
            del spec["Runtime"], spec["Handler"]
            spec |= {"PackageType": "Image", "Code": {"ImageUri": artifact.image.uri}}
        resources.create_function(self.clients, spec, self.ledger, self.stop)
        try:
            wait(self.clients, self.stop, "function_active_v2", ACTIVE_WAIT_S, FunctionName=name)
        except Stuck as exc:
            for copy in slots:      # not yet shared: the priming starts once all are created
                copy.state, copy.failure = "failed", exc.failure
            return
        if self.with_urls:
            url = function_urls.create(self.clients, name, self.ledger)
            for copy in slots:
                copy.url = url


def function_tag(function) -> str:
    """What tells apart, in function names, an app's functions of one runtime and memory
    size (``--template``): a short digest of the function's name, then a dash; "" for the
    others, whose runtime and memory size say it all."""
    if function.configuration == FunctionConfiguration():
        return ""
    return hashlib.sha256(function.name.encode()).hexdigest()[:6] + "-"
