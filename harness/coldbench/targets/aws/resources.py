"""What a run creates in an AWS account, and how it is found and removed again.

Everything is named with the run id and tagged ``coldbench:run-id``:

- an IAM execution role ``coldbench-<run id>-execution`` under the path ``/coldbench/``,
  trusted by Lambda, with only the AWS managed policy AWSLambdaBasicExecutionRole (write
  logs), unless the user gives a role with ``--role-arn``;
- per function, its CloudWatch log group ``/aws/lambda/<function>``, created first so
  that it carries the tag (Lambda would create it untagged);
- the functions, ``coldbench-<run id>-<runtime>-<memory>-<architecture>[-ss]-<copy>``
  ("ss": SnapStart, "img": a container image; copy "c1", "c2", ... for cold starts, "p1" for provisioned
  concurrency), with their published versions and provisioned-concurrency configurations;
- with ``--via url``, each function's function URL (its URL config, ``function_urls``),
  found through its function's tag;
- with ``--package image``, an ECR repository ``coldbench-<run id>`` holding the run's
  container images (``images``);
- with ``--layer``, a layer ``coldbench-<run id>-<layer name>`` per layer, with the version
  the run published. Lambda takes no tags on layers, so they are found by that name.

``find_leftovers`` lists by tag what a killed run left (functions, repositories, log
groups, roles; layers by name; function URLs by their function), ``delete`` removes them:
function URLs first, then functions (their versions and provisioned concurrency go with
them), then layers (every version), repositories
(their images first), log groups, roles.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from coldbench.targets.aws.client import Clients, describe, error_code

TAG_RUN = "coldbench:run-id"
TAG_STARTED = "coldbench:started"
NAME_PREFIX = "coldbench-"
ROLE_PATH = "/coldbench/"
BASIC_POLICY = "arn:{partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRUST_POLICY = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow",
                               "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}]}
# A new role takes a few seconds to be usable by Lambda ("The role defined for the function
# cannot be assumed by Lambda"): CreateFunction is retried that long, no longer.
ROLE_PROPAGATION_S = 90.0


def new_run_id() -> str:
    """8 hex digits: short enough for Lambda's 64-character function names."""
    return secrets.token_hex(4)


def function_name(run_id: str, runtime: str, memory_mb: int, architecture: str,
                  snapstart: bool, copy: str, image: bool = False, layers: int = 0) -> str:
    runtime = re.sub(r"[^A-Za-z0-9_-]", "", runtime)     # a version: python3.13 -> python313
    return (f"{NAME_PREFIX}{run_id}-{runtime}-{memory_mb}-{architecture}"
            f"{'-ss' if snapstart else ''}{'-img' if image else ''}"
            f"{f'-l{layers}' if layers else ''}-{copy}")


def role_name(run_id: str) -> str:
    return f"{NAME_PREFIX}{run_id}-execution"


def repository_name(run_id: str) -> str:
    return f"{NAME_PREFIX}{run_id}"


def layer_name(run_id: str, layer: str) -> str:
    """A layer's name in the account: the run's prefix and the layer's own name, in the
    characters Lambda allows ([a-zA-Z0-9-_], at most 140)."""
    return f"{NAME_PREFIX}{run_id}-{re.sub(r'[^A-Za-z0-9_-]', '-', layer)}"[:140]


def log_group(function: str) -> str:
    return f"/aws/lambda/{function}"


@dataclass
class Ledger:
    """What this run has created so far, for its cleanup. Thread-safe."""

    role: str | None = None
    functions: list[str] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    repositories: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)       # functions with a function URL
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, name: str) -> None:
        with self._lock:
            getattr(self, kind).append(name)


# Each name goes into the ledger before its create call: a create whose answer is lost
# (a timeout, a dropped connection) may still have created it, and cleanup must try it;
# deleting ignores what does not exist. A name with this run's id that "already exists"
# is this run's own (an earlier try of the same create), so it is kept, not an error.

def create_role(clients: Clients, run_id: str, tags: dict[str, str], ledger: Ledger) -> str:
    """The execution role's ARN, once IAM has it."""
    name = role_name(run_id)
    ledger.role = name
    try:
        role = clients.iam.create_role(
            RoleName=name, Path=ROLE_PATH, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description=f"coldbench run {run_id}: Lambda execution role (logs only)",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["Role"]
    except Exception as exc:
        if error_code(exc) != "EntityAlreadyExists":
            raise
        role = clients.iam.get_role(RoleName=name)["Role"]     # named with the run id: ours
    clients.iam.attach_role_policy(RoleName=name,
                                   PolicyArn=BASIC_POLICY.format(partition=clients.partition))
    clients.iam.get_waiter("role_exists").wait(RoleName=name,
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return role["Arn"]


def create_log_group(clients: Clients, function: str, tags: dict[str, str],
                     ledger: Ledger) -> None:
    name = log_group(function)
    run_id = tags.get(TAG_RUN)
    ours = bool(run_id) and run_id in name
    if ours:
        ledger.add("log_groups", name)
    try:
        clients.logs.create_log_group(logGroupName=name, tags=tags)
    except Exception as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
        return                      # ours (listed already), or not: left alone at cleanup
    if not ours:
        ledger.add("log_groups", name)


def create_function(clients: Clients, spec: dict, ledger: Ledger,
                    stop: threading.Event | None = None) -> dict:
    """CreateFunction, retried while a new role is not yet usable by Lambda."""
    deadline = time.monotonic() + ROLE_PROPAGATION_S
    delay = 1.0
    name = spec["FunctionName"]
    ledger.add("functions", name)      # function names always carry the run id
    while True:
        try:
            return clients.lambda_.create_function(**spec)
        except Exception as exc:
            if (error_code(exc) == "ResourceConflictException"
                    and "already exist" in describe(exc)):
                return clients.lambda_.get_function(FunctionName=name)["Configuration"]
            if (error_code(exc) == "InvalidParameterValueException"
                    and "cannot be assumed" in describe(exc)
                    and time.monotonic() + delay < deadline
                    and not (stop and stop.is_set())):
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            raise


def publish_layer(clients: Clients, run_id: str, layer_name_: str, content: bytes,
                  description: str, ledger: Ledger) -> str:
    """PublishLayerVersion of a layer's zip under the run's name for it; the version's ARN
    (what CreateFunction's Layers takes)."""
    name = layer_name(run_id, layer_name_)
    if name not in ledger.layers:
        ledger.add("layers", name)
    published = clients.lambda_.publish_layer_version(
        LayerName=name, Description=description[:256], Content={"ZipFile": content})
    return published["LayerVersionArn"]


def create_repository(clients: Clients, run_id: str, tags: dict[str, str],
                      ledger: Ledger) -> str:
    """The run's ECR repository for its container images; its URI."""
    name = repository_name(run_id)
    ledger.add("repositories", name)
    try:
        return clients.ecr.create_repository(
            repositoryName=name, imageTagMutability="MUTABLE",
            tags=[{"Key": k, "Value": v} for k, v in tags.items()])["repository"]["repositoryUri"]
    except Exception as exc:
        if error_code(exc) != "RepositoryAlreadyExistsException":
            raise
    return clients.ecr.describe_repositories(                 # named with the run id: ours
        repositoryNames=[name])["repositories"][0]["repositoryUri"]


# Finding and deleting ---------------------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    kind: str            # "function URL", "function", "layer", "repository", "log group"
    #                      or "role"; a function URL is named by its function
    name: str
    run_id: str
    started: str = ""

    def __str__(self) -> str:
        since = f", started {self.started}" if self.started else ""
        return f"{self.kind} {self.name} (run {self.run_id}{since})"


def find_leftovers(clients: Clients, run_id: str | None = None) -> list[Resource]:
    """Every resource tagged ``coldbench:run-id`` (of ``run_id`` if given) in the region,
    plus the roles under /coldbench/ (IAM is global)."""
    found: list[Resource] = []

    def keep(kind: str, name: str, tags: dict[str, str]) -> None:
        if TAG_RUN in tags and (run_id is None or tags[TAG_RUN] == run_id):
            found.append(Resource(kind, name, tags[TAG_RUN], tags.get(TAG_STARTED, "")))

    for page in clients.lambda_.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function["FunctionName"].startswith(NAME_PREFIX):
                tags = clients.lambda_.list_tags(Resource=function["FunctionArn"])["Tags"]
                ours = TAG_RUN in tags and (run_id is None or tags[TAG_RUN] == run_id)
                if ours and has_url(clients, function["FunctionName"]):     # deleted first
                    keep("function URL", function["FunctionName"], tags)
                keep("function", function["FunctionName"], tags)
    for page in clients.lambda_.get_paginator("list_layers").paginate():
        for layer in page["Layers"]:       # untaggable: the run id is in the name
            name = layer["LayerName"]
            if name.startswith(NAME_PREFIX) and name.count("-") >= 2:
                owner = name.split("-")[1]
                if run_id is None or owner == run_id:
                    created = layer.get("LatestMatchingVersion", {}).get("CreatedDate", "")
                    found.append(Resource("layer", name, owner, str(created)))
    for page in clients.ecr.get_paginator("describe_repositories").paginate():
        for repository in page["repositories"]:
            if repository["repositoryName"].startswith(NAME_PREFIX):
                listed = clients.ecr.list_tags_for_resource(
                    resourceArn=repository["repositoryArn"])["tags"]
                keep("repository", repository["repositoryName"],
                     {t["Key"]: t["Value"] for t in listed})
    for page in clients.logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=log_group(NAME_PREFIX)):
        for group in page["logGroups"]:
            tags = clients.logs.list_tags_log_group(logGroupName=group["logGroupName"])["tags"]
            keep("log group", group["logGroupName"], tags)
    for page in clients.iam.get_paginator("list_roles").paginate(PathPrefix=ROLE_PATH):
        for role in page["Roles"]:
            listed = clients.iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
            keep("role", role["RoleName"], {t["Key"]: t["Value"] for t in listed})
    return found


def has_url(clients: Clients, function: str) -> bool:
    """Whether the function has a function URL (GetFunctionUrlConfig)."""
    try:
        clients.lambda_.get_function_url_config(FunctionName=function)
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return False
    return True


def delete_url(clients: Clients, function: str) -> None:
    """The function's URL config (DeleteFunctionUrlConfig), before the function."""
    try:
        clients.lambda_.delete_function_url_config(FunctionName=function)
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise


def delete_function(clients: Clients, name: str) -> None:
    try:
        clients.lambda_.delete_function(FunctionName=name)
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise


def delete_layer(clients: Clients, name: str) -> None:
    """Every version of the layer (a layer goes with its last version)."""
    for page in clients.lambda_.get_paginator("list_layer_versions").paginate(LayerName=name):
        for version in page["LayerVersions"]:
            try:
                clients.lambda_.delete_layer_version(LayerName=name,
                                                     VersionNumber=version["Version"])
            except Exception as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise


def delete_repository(clients: Clients, name: str) -> None:
    """Its images (BatchDeleteImage), then the repository."""
    try:
        for page in clients.ecr.get_paginator("list_images").paginate(repositoryName=name):
            if page["imageIds"]:
                clients.ecr.batch_delete_image(repositoryName=name, imageIds=page["imageIds"])
        clients.ecr.delete_repository(repositoryName=name, force=True)
    except Exception as exc:
        if error_code(exc) != "RepositoryNotFoundException":
            raise


def delete_log_group(clients: Clients, name: str) -> None:
    try:
        clients.logs.delete_log_group(logGroupName=name)
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise


def delete_role(clients: Clients, name: str) -> None:
    """Detach its managed policies, delete its inline ones, then the role."""
    try:
        for page in clients.iam.get_paginator("list_attached_role_policies").paginate(
                RoleName=name):
            for policy in page["AttachedPolicies"]:
                clients.iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for page in clients.iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy in page["PolicyNames"]:
                clients.iam.delete_role_policy(RoleName=name, PolicyName=policy)
        clients.iam.delete_role(RoleName=name)
    except Exception as exc:
        if error_code(exc) != "NoSuchEntity":
            raise


_DELETERS = {"function URL": delete_url, "function": delete_function, "layer": delete_layer,
             "repository": delete_repository, "log group": delete_log_group,
             "role": delete_role}
_ORDER = {"function URL": 0, "function": 1, "layer": 2, "repository": 3, "log group": 4,
          "role": 5}


def delete(clients: Clients, resources: list[Resource],
           on_result: Callable[[Resource, str | None], None] = lambda r, e: None) -> list[str]:
    """Delete ``resources`` (function URLs, functions, layers, repositories, log groups, then
    roles); ``on_result(resource,
    error or None)`` for each. The errors, as lines."""
    errors = []
    for resource in sorted(resources, key=lambda r: _ORDER[r.kind]):
        try:
            _DELETERS[resource.kind](clients, resource.name)
        except Exception as exc:  # noqa: BLE001 - go on with the others, then tell
            errors.append(f"{resource}: {describe(exc)}")
            on_result(resource, describe(exc))
        else:
            on_result(resource, None)
    return errors
