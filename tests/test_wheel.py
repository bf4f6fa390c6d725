"""coldbench as a user installs it: the wheel built from this tree, installed into a fresh
virtualenv (not in editable mode), runs `coldbench run` on its built-in functions, which
ship inside the package."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_installed_wheel_runs_its_built_in_functions(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--no-build-isolation", "--wheel-dir", str(tmp_path / "dist"),
                            str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("coldbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "coldbench/functions/python/app.py" in names
    assert "coldbench/functions/contract.json" in names
    assert not [n for n in names if "/node_modules/" in n or "/target/" in n]

    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, timeout=300)
    installed = subprocess.run([str(fresh / "bin" / "python"), "-m", "pip", "install", "--quiet",
                                "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    # then coldbench's dependencies from this interpreter's site-packages (a .pth line adds
    # the folder, after the wheel's, without running the editable install's own .pth
    # there; added after installing, so pip does not take that coldbench for this one)
    purelib = Path(subprocess.run(
        [str(fresh / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COLDBENCH_FUNCTIONS")}
    where = subprocess.run([str(fresh / "bin" / "python"), "-c",
                            "import coldbench.runtimes.base as b; print(b.BUILTIN_FUNCTIONS)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(purelib), where.stdout
    output = tmp_path / "run.json"
    result = subprocess.run([str(fresh / "bin" / "coldbench"), "run", "--runtimes", "python",
                             "--memory", "128", "--cold", "1", "--warm", "1", "--provisioned",
                             "0", "--output", str(output), "--quiet"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].split()[:3] == ["python", "128", "MB"]
    assert output.is_file()
