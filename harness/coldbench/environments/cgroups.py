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
    """One environment's group, with a memory limit and a CPU quota applied on demand."""

    def __init__(self, version: str, name: str):
        self.version = version
        self.name = name
        if version == "v1":
            self.memory_dir = ROOT / "memory" / PARENT / name
            self.cpu_dir = ROOT / "cpu" / PARENT / name
            self.dirs = [self.memory_dir, self.cpu_dir]
        else:
            self.memory_dir = self.cpu_dir = ROOT / PARENT / name
            self.dirs = [self.memory_dir]

    @classmethod
    def create(cls, version: str, name: str, memory_mb: int) -> "Cgroup":
        """Make the group with a memory limit of ``memory_mb`` and no swap."""
        group = cls(version, name)
        try:
            if version == "v2":
                _enable_v2_controllers()
            for directory in group.dirs:
                directory.mkdir(parents=True, exist_ok=True)
            limit = str(memory_mb * 1024 * 1024)
            if version == "v1":
                _write(group.memory_dir / "memory.limit_in_bytes", limit)
                swap_limit = group.memory_dir / "memory.memsw.limit_in_bytes"
                if swap_limit.exists():
                    _write(swap_limit, limit)   # no swap: Lambda has none
                _write(group.memory_dir / "memory.swappiness", "0")
            else:
                _write(group.memory_dir / "memory.max", limit)
                swap_max = group.memory_dir / "memory.swap.max"
                if swap_max.exists():          # absent where the kernel accounts no swap
                    _write(swap_max, "0")
        except OSError as exc:
            group.remove()
            raise EnvironmentUnavailable(
                f"cannot create cgroup {group.memory_dir}: {exc.strerror}; run as root, "
                "or pass --no-limits to measure without memory and CPU limits") from exc
        return group

    @property
    def procs_files(self) -> list[str]:
        """The files a child writes "0" into to join the group before it execs."""
        return [str(directory / "cgroup.procs") for directory in self.dirs]

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

    def remove(self) -> None:
        """Kill what is left and delete the group; retries while the kernel reaps."""
        for directory in self.dirs:
            for _ in range(50):
                if not directory.exists():
                    break
                self.kill()
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
    return [Cgroup(version, d.name) for d in sorted(base.iterdir()) if d.is_dir()]
