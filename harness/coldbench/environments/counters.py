"""What an environment's init did, from the counters of its cgroup and its processes, read
when init ends (``ProcessSandbox.init_done``): the parts of init that may scale differently
on Lambda than here (``docs/fidelity.md``, what the model lacks).

- ``init_cpu_user_ms``, ``init_cpu_system_ms``: CPU time in user and in system (kernel)
  mode. cgroup v2: the group's ``cpu.stat`` (every process it ever held). cgroup v1 (no
  cpuacct controller joined): the group's live processes' own and waited-for children's
  times from ``/proc/PID/stat``, in clock ticks (10 ms at 100 Hz);
- ``init_page_faults``, ``init_major_faults``: the group's page faults (``memory.stat``),
  major ones needing a read;
- ``init_processes``: processes alive in the group when init ended.

The group is fresh for each environment, joined before the runtime's exec, so its counts
are the runtime's. Missing files give no counter, never an error.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _key_values(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            found[key] = int(value)
    return found


def _proc_times(pid: int) -> tuple[float, float] | None:
    """(user, system) ms of a process and its waited-for children."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()   # after the command, which may hold spaces
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + cutime) * _TICK_MS, (stime + cstime) * _TICK_MS


def init_counters(cgroup) -> dict[str, float | int]:
    """The counters above for ``cgroup`` (``environments.cgroups.Cgroup``), now."""
    found: dict[str, float | int] = {}
    memory = _key_values(cgroup.memory_dir / "memory.stat")
    if "pgfault" in memory:
        found["init_page_faults"] = memory["pgfault"]
        found["init_major_faults"] = memory.get("pgmajfault", 0)
    pids = cgroup.pids()
    found["init_processes"] = len(pids)
    if cgroup.version == "v2":
        cpu = _key_values(cgroup.cpu_dir / "cpu.stat")
        if "user_usec" in cpu:
            found["init_cpu_user_ms"] = round(cpu["user_usec"] / 1000, 3)
            found["init_cpu_system_ms"] = round(cpu["system_usec"] / 1000, 3)
    else:
        times = [t for t in map(_proc_times, pids) if t is not None]
        if times:
            found["init_cpu_user_ms"] = round(sum(u for u, _ in times), 3)
            found["init_cpu_system_ms"] = round(sum(s for _, s in times), 3)
    return found
