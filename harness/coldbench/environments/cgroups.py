"""Lambda-like memory and CPU limits for one execution environment, through cgroups.

Lambda gives a function memory in 1 MB steps from 128 to 10,240 MB and CPU in proportion:
"At 1,769 MB, a function has the equivalent of one vCPU", up to 6 vCPUs at 10,240 MB
(AWS Lambda documentation, "Configuring Lambda function memory"). Both cgroup v1 (one
hierarchy per controller) and v2 (one unified hierarchy) are supported; every group
coldbench makes sits under a parent named ``coldbench`` so leftovers can be found.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from coldbench.errors import EnvironmentUnavailable

ROOT = Path(os.environ.get("COLDBENCH_CGROUP_ROOT", "/sys/fs/cgroup"))
# every group sits under this parent; a test session sets its own to see only its groups
PARENT = os.environ.get("COLDBENCH_CGROUP_PARENT", "coldbench")
MB_PER_VCPU = 1769
MAX_VCPUS = 6
CFS_PERIOD_US = 100_000


def lambda_vcpus(memory_mb: int) -> float:
    """The CPU share Lambda gives a memory size, in vCPUs."""
    return min(memory_mb / MB_PER_VCPU, MAX_VCPUS)


def host_cpus() -> int:
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class CpuShare:
    """The CPU an environment gets: Lambda's share, capped at what the host has."""

    lambda_vcpus: float
    applied_vcpus: float

    @property
    def capped(self) -> bool:
        return self.applied_vcpus < self.lambda_vcpus

    @classmethod
    def for_memory(cls, memory_mb: int) -> "CpuShare":
        wanted = lambda_vcpus(memory_mb)
        return cls(lambda_vcpus=wanted, applied_vcpus=min(wanted, float(host_cpus())))


def detect() -> str | None:
    """"v1", "v2", or None when no writable memory and CPU controllers are mounted."""
    v1_memory, v1_cpu = ROOT / "memory", ROOT / "cpu"
    if (v1_memory / "memory.limit_in_bytes").exists() and (v1_cpu / "cpu.cfs_quota_us").exists():
        return "v1" if os.access(v1_memory, os.W_OK) and os.access(v1_cpu, os.W_OK) else None
    controllers = ROOT / "cgroup.controllers"
    if controllers.exists() and {"memory", "cpu"} <= set(controllers.read_text().split()):
        return "v2" if os.access(ROOT, os.W_OK) else None
    return None


def _write(path: Path, value: str) -> None:
    path.write_text(value)


class Cgroup:
    """One group's files: its memory limit, CPU quota, peak memory and processes. The
    groups coldbench makes (``create``, ``remove``) sit under PARENT; a container's group
    belongs to its engine and is only read and given a CPU quota (``of_process``)."""

    def __init__(self, version: str, memory_dir: Path, cpu_dir: Path,
                 io_dir: Path | None = None):
        self.version = version
        self.name = memory_dir.name
        self.memory_dir, self.cpu_dir = memory_dir, cpu_dir
        #: where block I/O is throttled and counted (v1: the blkio hierarchy), if asked for
        self.io_dir = io_dir
        self.dirs = list(dict.fromkeys(d for d in (memory_dir, cpu_dir, io_dir) if d))

    @classmethod
    def named(cls, version: str, name: str, io: bool = False) -> "Cgroup":
        """The group ``name`` under coldbench's parent; ``io``: with its block I/O
        controller (cgroup v1 only here)."""
        if version == "v1":
            blkio = ROOT / "blkio" / PARENT / name
            io_dir = blkio if io or blkio.is_dir() else None
            return cls(version, ROOT / "memory" / PARENT / name, ROOT / "cpu" / PARENT / name,
                       io_dir)
        return cls(version, ROOT / PARENT / name, ROOT / PARENT / name,
                   ROOT / PARENT / name if io else None)

    @classmethod
    def of_process(cls, pid: int, version: str) -> "Cgroup | None":
        """The group a process is in (its memory, CPU and block I/O controllers'), None if
        it is gone."""
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return None
        paths = {}
        for line in lines:
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path.lstrip("/")
        if version == "v2" and "" in paths:
            folder = ROOT / paths[""]
            return cls(version, folder, folder, folder)
        if "memory" in paths and "cpu" in paths:
            return cls(version, ROOT / "memory" / paths["memory"], ROOT / "cpu" / paths["cpu"],
                       ROOT / "blkio" / paths["blkio"] if "blkio" in paths else None)
        return None

    @property
    def procs_files(self) -> list[str]:
        """The files a child writes "0" into to join the group before it execs."""
        return [str(directory / "cgroup.procs") for directory in self.dirs]

    def set_memory(self, memory_mb: int) -> None:
        """A memory limit of ``memory_mb`` and no swap (Lambda has none); the peak so far
        is reset, so that it counts from here."""
        limit = str(memory_mb * 1024 * 1024)
        if self.version == "v1":
            _write(self.memory_dir / "memory.limit_in_bytes", limit)
            swap_limit = self.memory_dir / "memory.memsw.limit_in_bytes"
            if swap_limit.exists():
                _write(swap_limit, limit)
            _write(self.memory_dir / "memory.swappiness", "0")
            _write(self.memory_dir / "memory.max_usage_in_bytes", "0")
        else:
            _write(self.memory_dir / "memory.max", limit)
            swap_max = self.memory_dir / "memory.swap.max"
            if swap_max.exists():          # absent where the kernel accounts no swap
                _write(swap_max, "0")
            try:                           # writable from Linux 6.12 on
                _write(self.memory_dir / "memory.peak", "0")
            except OSError:
                pass

    def set_cpu(self, vcpus: float | None) -> None:
        """Limit the group to ``vcpus`` CPUs (None: unlimited)."""
        quota = -1 if vcpus is None else max(1000, int(vcpus * CFS_PERIOD_US))
        if self.version == "v1":
            _write(self.cpu_dir / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(self.cpu_dir / "cpu.cfs_quota_us", str(quota))
        else:
            _write(self.cpu_dir / "cpu.max",
                   f"{'max' if quota < 0 else quota} {CFS_PERIOD_US}")

    def peak_memory_mb(self) -> float | None:
        """Peak memory of the group so far, in MB (2^20 bytes, as Lambda reports it)."""
        name = "memory.max_usage_in_bytes" if self.version == "v1" else "memory.peak"
        try:
            return int((self.memory_dir / name).read_text()) / (1024 * 1024)
        except (OSError, ValueError):
            return None

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this group for exceeding its memory."""
        try:
            if self.version == "v1":
                text = (self.memory_dir / "memory.oom_control").read_text()
                counts = dict(line.split() for line in text.splitlines() if line.strip())
                if "oom_kill" in counts:
                    return int(counts["oom_kill"]) > 0
                return int((self.memory_dir / "memory.failcnt").read_text()) > 0
            events = (self.memory_dir / "memory.events").read_text()
            counts = dict(line.split() for line in events.splitlines() if line.strip())
            return int(counts.get("oom_kill", 0)) > 0
        except (OSError, ValueError):
            return False

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.memory_dir / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        """SIGKILL every process in the group (children the runtime forked included)."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def create(version: str, name: str, memory_mb: int | None = None, io: bool = False) -> Cgroup:
    """Make the group ``name`` under coldbench's parent, with a memory limit if given and,
    with ``io``, in the block I/O controller too."""
    group = Cgroup.named(version, name, io)
    try:
        if version == "v2":
            _enable_v2_controllers()
        for directory in group.dirs:
            directory.mkdir(parents=True, exist_ok=True)
        if memory_mb is not None:
            group.set_memory(memory_mb)
    except OSError as exc:
        remove(group)
        raise EnvironmentUnavailable(
            f"cannot create cgroup {group.memory_dir}: {exc.strerror}; run as root, "
            "or pass --no-limits to measure without memory and CPU limits") from exc
    return group


def remove(group: Cgroup) -> None:
    """Kill what is left in a group coldbench made and delete it; retries while the
    kernel reaps."""
    for directory in group.dirs:
        for _ in range(50):
            if not directory.exists():
                break
            group.kill()
            try:
                directory.rmdir()
            except OSError:
                time.sleep(0.02)


def _enable_v2_controllers() -> None:
    parent = ROOT / PARENT
    _write(ROOT / "cgroup.subtree_control", "+memory +cpu")
    parent.mkdir(exist_ok=True)
    _write(parent / "cgroup.subtree_control", "+memory +cpu")


def leftovers() -> list[Cgroup]:
    """Groups a killed run left behind, found under the ``coldbench`` parent."""
    version = detect()
    if version is None:
        return []
    base = ROOT / ("memory" if version == "v1" else "") / PARENT
    if not base.is_dir():
        return []
    return [Cgroup.named(version, d.name) for d in sorted(base.iterdir()) if d.is_dir()]
