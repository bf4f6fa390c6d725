"""Sandboxes and control planes, the two parts of an execution environment: starts that
fail become samples, and nothing a sandbox starts outlives coldbench."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coldbench.build import Function, build
from coldbench.environments import cgroups
from coldbench.environments.kernel import running
from coldbench.environments.process import LauncherPool, ProcessSandbox
from coldbench.measure.modes import Config, Measurement, Plan
from coldbench.runtimes import get
from coldbench.targets.base import Target


class _FailingTarget(Target):
    """A target whose environments cannot start, the way a child process fails."""

    name = "failing"

    def start(self, artifact, memory_mb, provisioned):
        raise subprocess.SubprocessError("Exception occurred in preexec_fn.")


@pytest.mark.slow
def test_a_start_that_fails_in_a_child_process_is_a_sample_not_a_crash():
    artifact = build(Function.builtin(get("go")))
    samples = []
    Measurement(_FailingTarget(), [Config(artifact, 128)],
                Plan(cold=2, warm=1, provisioned=1, event={}), samples.append).run()
    assert {s.mode for s in samples} == {"cold", "warm", "provisioned"}
    assert all(s.error and s.error["phase"] == "init" for s in samples)
    starts = [s for s in samples if s.error["type"] == "Coldbench.StartFailed"]
    assert starts and "preexec_fn" in starts[0].error["message"]


@pytest.mark.slow
def test_a_program_that_cannot_be_started_is_an_os_error_and_leaves_nothing(tmp_path):
    pool = LauncherPool(cgroups.detect(), "test0001")
    sandbox = ProcessSandbox(pool, tmp_path, 128)
    try:
        with pytest.raises(OSError, match="FileNotFoundError"):
            sandbox.start([str(tmp_path / "no-such-program")], {"PATH": "/usr/bin"})
        assert not sandbox.running()
    finally:
        sandbox.close()
        pool.close()
    assert not Path(sandbox.home).exists()


@pytest.mark.slow
def test_parked_launchers_go_when_coldbench_is_killed():
    """A killed coldbench leaves its parked launchers nothing to wait for: they exit. Their
    cgroups stay behind for `coldbench cleanup`."""
    script = ("import os, sys\n"
              "from coldbench.environments import cgroups\n"
              "from coldbench.environments.process import LauncherPool\n"
              "pool = LauncherPool(cgroups.detect(), 'test0002')\n"
              "launcher = pool.take()\n"
              "print(launcher.pid, *[l.pid for l in pool._parked], flush=True)\n"
              "os._exit(0)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2, done.stderr
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(running(pid) for pid in pids)
    for group in cgroups.leftovers():
        cgroups.remove(group)



def test_descendants_of_a_process_that_is_gone_are_none():
    from coldbench.environments.process import descendants
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.monotonic() + 10
        while len(descendants(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(descendants(parent.pid)) == 2
    finally:
        for pid in descendants(parent.pid):
            os.kill(pid, 9)
        parent.kill()
        parent.wait()
    assert descendants(parent.pid) == []          # reaped: its /proc folder is gone
