"""The local target as registered (entry point ``local``): its options, their rules, how
they make one, and what a killed run leaves on this machine: cgroups under coldbench's
parent, and environment folders in the temp directory."""

from __future__ import annotations

import os
import platform
import re
import shutil
import tempfile
from functools import partial
from pathlib import Path

from coldbench.build import cache_root
from coldbench import owners
from coldbench.environments import cgroups, delivery, isolation
from coldbench.environments.process import FOLDER_PREFIX
from coldbench.errors import UsageError
from coldbench.model import ARCHITECTURES, DEFAULT_ARCHITECTURE, RunOptions, host_architecture
from coldbench.targets.base import TargetPlugin, Leftover, Option
from coldbench.targets.local.target import RUNTIME_CACHES, LocalTarget
from coldbench.targets.machine import (API, DELIVERY, EPHEMERAL_STORAGE, HERE, check_api_options,
                                       code_path, in_use)

RUNTIME_CACHE = Option("--runtime-cache", default="warm", choices=RUNTIME_CACHES,
                       help="warm (the default): the runtime's own files (interpreter, "
                            "standard library, JDK, runtime client) are read from the page "
                            "cache, as on Lambda's busy workers; cold: evicted before each "
                            "start, for experiments.")
# The same flag as the aws target's: there the architectures measured, here the one the
# prediction of AWS's Init Duration is for (docs/fidelity.md, section 2).
ARCH = Option("--arch", dest="architectures", default=DEFAULT_ARCHITECTURE,
              help="CPU architectures, comma-separated: x86_64, arm64. On the local "
                   "target one: the architecture the predicted AWS Init Duration is for "
                   "(measured on this machine's CPU, anchored on that architecture's "
                   "published figure: a prediction across architectures).")
PREDICTED_ARCHITECTURES = ARCHITECTURES
ACROSS_ARCHITECTURES = ("--arch arm64: measured on this machine's CPU ({machine}); the "
                        "Predicted AWS Init is for arm64, a prediction across architectures "
                        "(docs/fidelity.md)")
NO_DELIVERY_WITHOUT_LIMITS = ("--delivery lambda counts what init reads through the "
                              "environment's cgroup: it cannot go with --no-limits; pass "
                              "--delivery host")
HOST_WITHOUT_LIMITS = ("--no-limits: code read from this machine's files (--delivery host): "
                       "no bytes read counted, no AWS Init Duration predicted")
# An environment's folder: FOLDER_PREFIX, the environment's name (the run's 8 hex digits
# and its sequence number), then mkdtemp's 8 random characters.
_FOLDER = re.compile(rf"{re.escape(FOLDER_PREFIX)}[0-9a-f]{{8}}(?:-\d+)?-[a-z0-9_]{{8}}")


class Local(TargetPlugin):
    """The local target as registered: its options, their rules, how they make a
    ``LocalTarget``, and what killed runs left."""

    name = "local"

    summary = "processes on this machine"
    makes = (LocalTarget,)
    run_options = (API, DELIVERY, RUNTIME_CACHE, EPHEMERAL_STORAGE, ARCH)

    @classmethod
    def check_options(cls, options: RunOptions) -> RunOptions:
        options = check_api_options(options)
        settings = options.target_options
        isolation.check_ephemeral_storage(settings.get("ephemeral_storage")
                                          or EPHEMERAL_STORAGE.default)
        architecture = settings.get("architectures") or ARCH.default
        if architecture not in PREDICTED_ARCHITECTURES:
            raise UsageError(f"--arch {architecture}: the local target predicts one "
                             f"architecture, {' or '.join(PREDICTED_ARCHITECTURES)} (it "
                             "measures this machine's CPU)")
        if architecture != host_architecture():
            options = options.adjusted(ACROSS_ARCHITECTURES.format(machine=platform.machine()))
        if (settings.get("delivery") or DELIVERY.default) == "lambda" and not options.limits:
            if "delivery" not in options.defaulted:
                raise UsageError(NO_DELIVERY_WITHOUT_LIMITS)
            options = options.adjusted(HOST_WITHOUT_LIMITS, settings={"delivery": "host"})
        return options

    @classmethod
    def from_options(cls, options) -> LocalTarget:
        settings = options.target_options
        return LocalTarget(timeout_s=options.timeout_s, cpu_model=options.cpu_model,
                           limits=options.limits, api=settings.get("api") or "coldbench",
                           delivery=settings.get("delivery") or DELIVERY.default,
                           code_path=code_path(options.calibration),
                           runtime_cache=settings.get("runtime_cache") or "warm",
                           ephemeral_storage_mb=settings.get("ephemeral_storage")
                           or EPHEMERAL_STORAGE.default)

    @classmethod
    def find_leftovers(cls, settings: dict) -> list[Leftover]:
        # cgroups first: removing them kills the runtimes that may hold a folder open, and
        # with them the mounts that hold a loop device
        return (cgroup_leftovers() + folder_leftovers() + device_leftovers()
                + building_leftovers())


def device_leftovers() -> list[Leftover]:
    """Loop devices with one of coldbench's code images behind them; while any run is live,
    kept (a device does not say which run's environment mounted it)."""
    live = owners.any_live()
    reason = f"in use while runs are live ({', '.join(live)})" if live else None
    return [Leftover(f"loop device {device} ({image.name})", HERE,
                     partial(delivery.remove_leftover, device, image), reason)
            for device, image in delivery.leftovers()]


def cgroup_leftovers() -> list[Leftover]:
    """Groups under coldbench's cgroup parent (named ``<run id>-<n>``), with the processes
    in them."""
    return [Leftover(f"cgroup {group.name}", HERE, partial(_remove_cgroup, group),
                     in_use(group.name.split("-")[0]))
            for group in cgroups.leftovers()]


def building_leftovers() -> list[Leftover]:
    """Half-built functions (``.building-*`` in the build cache) that no live build holds."""
    found = sorted((cache_root() / "build").glob("*/.building-*"))
    working = _held(found)              # a build tool works in it (a build without a lock)
    return [Leftover(f"half-built folder {folder}", HERE, partial(_remove_folder, folder),
                     "a build is writing it"
                     if owners.folder_held(folder) or folder in working else None)
            for folder in found]


def _remove_cgroup(group: cgroups.Cgroup) -> str:
    killed = len(group.pids())
    cgroups.remove(group)
    return f"removed cgroup {group.name} ({killed} processes killed)"


def folder_leftovers(root: Path | None = None) -> list[Leftover]:
    """Environment folders in the temp directory (or ``root``) that no process holds open,
    but for processes in coldbench's cgroups, which go with their groups. A folder whose
    runtime still runs outside any cgroup (a run with --no-limits) is in use: kept."""
    root = Path(root or tempfile.gettempdir())
    try:
        folders = sorted(p for p in root.iterdir() if _FOLDER.fullmatch(p.name) and p.is_dir())
    except OSError:
        return []
    held = _held(folders)
    return [Leftover(f"folder {folder}", HERE, partial(_remove_folder, folder),
                     in_use(folder.name[len(FOLDER_PREFIX):].split("-")[0])
                     or ("a process works in it" if folder in held else None))
            for folder in folders]


def _remove_folder(folder: Path) -> str:
    shutil.rmtree(folder)
    return f"removed folder {folder}"


def _held(folders: list[Path]) -> set[Path]:
    """Those of ``folders`` that a process outside coldbench's cgroups has open (a file,
    its working directory)."""
    if not folders:
        return set()
    prefixes = {f"{folder}/": folder for folder in folders}
    held: set[Path] = set()
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        links = []
        for path in (f"/proc/{pid}/cwd", *_fds(pid)):
            try:
                links.append(os.readlink(path))
            except OSError:               # gone, or not ours to read
                pass
        hits = {folder for link in links for prefix, folder in prefixes.items()
                if f"{link}/".startswith(prefix)}
        if hits and not _in_coldbench_cgroup(pid):
            held |= hits
    return held


def _fds(pid: str) -> list[str]:
    try:
        return [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return []


def _in_coldbench_cgroup(pid: str) -> bool:
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return False
    return any(f"/{cgroups.PARENT}/" in line.split(":", 2)[-1] + "/" for line in lines)
