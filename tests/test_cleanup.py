"""`coldbench cleanup`: every target is asked for what killed runs left behind. The local
target's leftovers: its cgroups (with their processes) and its environment folders in the
temp directory. Each test has a temp directory of its own (TMPDIR), so that no other
session's folders are in sight; cgroups are this session's (conftest)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coldbench.environments import cgroups, delivery
from conftest import coldbench_processes, run_cli


def cleanup(tmp, *args):
    return run_cli("cleanup", "--target", "local", *args, env={**os.environ, "TMPDIR": str(tmp)})


def test_environment_folders_nothing_holds_are_removed(tmp_path):
    left = tmp_path / "coldbench-1a2b3c4d-7-k2j4h5g6"
    in_use = tmp_path / "coldbench-1a2b3c4d-8-x9y8z7w6"
    others = [tmp_path / "coldbench-rootfs-a1b2c3d4", tmp_path / "notes"]
    for folder in (left, in_use, *others):
        (folder / "tmp").mkdir(parents=True)
    (left / "output.log").write_text("the runtime's output\n")
    # a process outside coldbench's cgroups works in it (a run with --no-limits, say)
    holder = subprocess.Popen(["sleep", "300"], cwd=in_use)
    try:
        listed = cleanup(tmp_path, "--dry-run")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout == (f"found 1 resource left by coldbench runs on this machine:\n"
                                 f"  folder {left}\n")
        assert left.is_dir()
        removed = cleanup(tmp_path)
        assert removed.returncode == 0, removed.stderr
        assert removed.stdout.endswith(f"removed folder {left}\n")
        assert not left.exists() and in_use.is_dir() and all(f.is_dir() for f in others)
    finally:
        holder.kill()
        holder.wait()
    again = cleanup(tmp_path)
    assert again.stdout == (f"found 1 resource left by coldbench runs on this machine:\n"
                            f"  folder {in_use}\nremoved folder {in_use}\n")
    assert cleanup(tmp_path).stdout == "nothing to clean up\n"


@pytest.mark.slow
def test_a_killed_run_leaves_nothing_after_cleanup(tmp_path, fixture_function):
    environment = {**os.environ, "TMPDIR": str(tmp_path)}
    # a function that sleeps: the killed run's runtime is there, mid-invocation
    run = subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--function", fixture_function("timeout"),
         "--runtime", "python", "--memory", "128", "--cold", "1", "--warm", "0",
         "--provisioned", "0", "--timeout", "120", "--quiet"],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not [f for f in tmp_path.glob("coldbench-*") if (f / "output.log").exists()]:
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    time.sleep(1)
    run.send_signal(signal.SIGKILL)                  # no cleanup of its own can run
    run.wait()
    folders = list(tmp_path.glob("coldbench-*"))
    assert folders and coldbench_processes(), "the killed run left nothing: proves nothing"
    # its runtime read its code from an image (--delivery lambda, the default): the device
    # stays attached while the runtime's mount namespace lives
    assert delivery.leftovers(), "no loop device left: the run did not use the code path"

    result = cleanup(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "removed cgroup " in result.stdout
    assert all(f"removed folder {folder}\n" in result.stdout for folder in folders)
    assert list(tmp_path.glob("coldbench-*")) == [] and coldbench_processes() == []
    assert cgroups.leftovers() == []
    deadline = time.monotonic() + 10     # the kernel detaches once the namespace is gone
    while delivery.leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert delivery.leftovers() == []
    mounted = [line for pid in Path("/proc").glob("[0-9]*")
               for line in _mountinfo(pid) if " ext4 /dev/loop" in line]
    assert not [line for line in mounted if "coldbench" in line], mounted


def _mountinfo(pid: Path) -> list[str]:
    try:
        return (pid / "mountinfo").read_text().splitlines()
    except OSError:                      # gone meanwhile
        return []
