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

# The shipped two-parameter calibration: with it a run measures no hello references beside
# the function, so its one environment is the function's (cgroup <run>-1).
TWO_PARAMETERS = Path(__file__).resolve().parents[1] / "harness" / "coldbench" / "data" / \
    "calibration-2026-12.json"


def cleanup(tmp, *args):
    # a cache of the test's own: other runs' builds are not in sight
    return run_cli("cleanup", "--target", "local", *args,
                   env={**os.environ, "TMPDIR": str(tmp), "COLDBENCH_CACHE": str(tmp / "cache")})


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
        assert listed.stdout == (f"kept folder {in_use}: a process works in it\n"
                                 f"found 1 resource left by coldbench runs on this machine:\n"
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
         "--provisioned", "0", "--timeout", "120", "--quiet", "--calibration", TWO_PARAMETERS],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not [f for f in tmp_path.glob("coldbench-*") if (f / "output.log").exists()]:
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    time.sleep(1)
    # its runtime reads its code from an image (--delivery lambda, the default), attached
    # while the runtime's mount namespace lives
    assert delivery.leftovers(), "no loop device attached: the run does not use the code path"
    run.send_signal(signal.SIGKILL)                  # no cleanup of its own can run
    run.wait()
    folders = list(tmp_path.glob("coldbench-*"))
    # its folder and cgroup are left; its processes, and so its device, may be gone already:
    # the environment's init ends them when coldbench's end of its channel closes
    assert folders and cgroups.leftovers(), "the killed run left nothing: proves nothing"

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


@pytest.mark.slow
def test_what_a_live_run_owns_is_kept_and_cleanup_says_so(tmp_path, fixture_function):
    environment = {**os.environ, "TMPDIR": str(tmp_path), "COLDBENCH_CACHE": str(tmp_path / "cache")}
    run = subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--function", fixture_function("timeout"),
         "--runtime", "python", "--memory", "128", "--cold", "1", "--warm", "0",
         "--provisioned", "0", "--timeout", "120", "--quiet", "--output", tmp_path / "out.json",
         "--calibration", TWO_PARAMETERS],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not [f for f in tmp_path.glob("coldbench-*-*") if (f / "output.log").exists()]:
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.05)
        time.sleep(1)
        [folder] = [f for f in tmp_path.glob("coldbench-*-*") if (f / "output.log").exists()]
        run_id = folder.name.split("-")[1]
        result = cleanup(tmp_path)
        assert result.returncode == 0, result.stderr
        live = f"run {run_id} is live (pid {run.pid})"
        assert f"kept folder {folder}: {live}\n" in result.stdout
        assert f"kept cgroup {run_id}-1: {live}\n" in result.stdout
        assert not [line for line in result.stdout.splitlines()
                    if line.startswith("removed") and run_id in line]
        assert folder.is_dir() and run.poll() is None
        assert [g for g in cgroups.leftovers() if g.name.startswith(run_id)]
    finally:
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=120)
    out = (tmp_path / "out.json").read_text()
    assert "Coldbench.Cleanup" not in out and "Runtime.ExitError" not in out, out
    assert run.returncode == 130, stderr


def test_stale_half_built_folders_are_leftovers_and_a_live_build_is_kept(tmp_path):
    from coldbench import owners
    cache = tmp_path / "cache"
    stale = cache / "build" / "python" / ".building-stale123"
    live = cache / "build" / "python" / ".building-live4567"
    for folder in (stale, live):
        (folder / "pkg").mkdir(parents=True)
    held = owners.hold_folder(live)
    try:
        result = run_cli("cleanup", "--target", "local",
                         env={**os.environ, "TMPDIR": str(tmp_path), "COLDBENCH_CACHE": str(cache)})
        assert result.returncode == 0, result.stderr
        assert f"kept half-built folder {live}: a build is writing it\n" in result.stdout
        assert f"removed folder {stale}\n" in result.stdout
        assert not stale.exists() and live.is_dir()
    finally:
        os.close(held)
