"""What the targets that run runtimes on this machine share (local processes, Docker
containers): the control planes and code deliveries they offer, the options that choose
them and their rules, and the notes on a memory size's CPU share. Each of those targets
imports this; neither imports the other."""

from __future__ import annotations

from coldbench import owners
from coldbench.environments import cgroups, delivery, isolation, rie
from coldbench.errors import UsageError
from coldbench.model import RunOptions
from coldbench.targets.base import Option

# the control planes a runtime can talk to: coldbench's own Runtime API, or AWS's emulator
APIS = ("coldbench", "rie")
# how a function's code reaches its runtime: from this machine's files (and page cache), or
# as on Lambda, from a read-only image on a block device of its own, read cold
DELIVERIES = ("host", "lambda")
PROVISIONED_UNDER_RIE = rie.NO_PROVISIONED
RIE_CPU_NOTE = ("under the RIE the CPU share applies from the first response on (the "
                "emulator does not tell when init ends): the first invocation, init "
                "included, runs unthrottled")
HERE = "on this machine"
API = Option("--api", default="coldbench", choices=APIS,
             help="the runtime talks to coldbench's Runtime API, or to AWS's Runtime "
                  "Interface Emulator as in AWS's images.")
DELIVERY = Option("--delivery", default="lambda", choices=DELIVERIES,
                  help="lambda (the default): the function's code reaches the runtime as "
                       "on Lambda, from a read-only image on a loop device of each "
                       "environment's own, with none of its pages cached, while the "
                       "runtime's own files stay warm; samples record init_read_mb and "
                       "the predicted AWS Init Duration (root, loop devices, cgroup v1). "
                       "host: from this machine's files and page cache, as before.")
EPHEMERAL_STORAGE = Option("--ephemeral-storage", default=isolation.EPHEMERAL_DEFAULT_MB,
                           type=int,
                           help="MB of the environment's private /tmp (512..10240, as "
                                "Lambda allows); writing past it fails with ENOSPC. A "
                                "memory file system here: what /tmp holds counts in the "
                                "memory limit.")
RIE_WITHOUT_PROVISIONED = ("--api rie: no provisioned samples (the emulator initialises the "
                           "runtime on the first invocation)")


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


def path_description(delivery: str, code_path, api: str) -> dict:
    """What a target on this machine adds to its description: the Lambda-shaped code path
    (``--delivery lambda``) and the emulator (``--api rie``), where they are in use."""
    found = {}
    if delivery == "lambda":
        found["code_path"] = code_path.describe()
    if api == "rie":
        found["rie"] = rie_description()
    return found


def check_api_options(options: RunOptions) -> RunOptions:
    """The rules of --api (the local and docker targets'): under the emulator there are no
    provisioned samples; left at their default, they are dropped with a note."""
    api = options.target_options.get("api") or "coldbench"
    check_api(api)
    if api == "rie" and options.provisioned:
        if "provisioned" not in options.defaulted:
            raise UsageError(PROVISIONED_UNDER_RIE)
        return options.adjusted(RIE_WITHOUT_PROVISIONED, provisioned=0)
    return options


def code_path(calibration) -> delivery.CodePath:
    """The read limits of the calibration in use: its local points were measured so."""
    if calibration is None or not calibration.read_mb_per_s:
        return delivery.CodePath(None, calibration.read_iops if calibration else None)
    return delivery.CodePath(int(calibration.read_mb_per_s * 1e6), calibration.read_iops)


def in_use(run_id: str) -> str | None:
    """Why what run ``run_id`` made is kept: its run is live; None if it is not."""
    pid = owners.owner(run_id)
    return None if pid is None else f"run {run_id} is live (pid {pid})"
