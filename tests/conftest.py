import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "functions"
CONTRACT = json.loads((ROOT / "functions" / "contract.json").read_text())


def run_cli(*args, timeout=900, **kwargs) -> subprocess.CompletedProcess:
    """`coldbench ARGS` as a user runs it, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "coldbench", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture
def fixture_function():
    def path(name: str) -> Path:
        return FIXTURES / name
    return path


@pytest.fixture(autouse=True)
def nothing_left_behind():
    """Every test must leave no coldbench cgroup (and so no runtime process) behind."""
    yield
    from coldbench import cgroups
    left = [g.name for g in cgroups.leftovers()]
    assert not left, f"cgroups left behind: {left}"


def coldbench_processes() -> list[str]:
    """Command lines of runtime processes started from coldbench's build cache."""
    from coldbench.build import cache_root
    marker = str(cache_root())
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline:
                found.append(cmdline)
    return found
