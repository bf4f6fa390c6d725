"""Python, through AWS's runtime interface client ``awslambdaric``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from coldbench.runtimes.base import Launch, Runtime

# Pinned: the client is part of what is measured.
AWSLAMBDARIC = "awslambdaric==4.2.2"


def interpreter() -> str:
    """The Python that plays the runtime: COLDBENCH_PYTHON, else the one running coldbench."""
    return os.environ.get("COLDBENCH_PYTHON") or sys.executable


class Python(Runtime):
    name = "python"
    default_handler = "app.handler"
    documented_as = "Python 3.12"
    lambda_runtime = "python3.12"
    build_version = "2"

    def toolchain_version(self) -> str:
        python = interpreter()
        out = subprocess.run([python, "--version"], capture_output=True, text=True, check=True)
        return out.stdout.strip() or out.stderr.strip()

    def build(self, source: Path, out: Path) -> None:
        python = interpreter()
        shutil.copytree(source, out, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*self.ignored_dirs))
        requirements = [AWSLAMBDARIC]
        argv = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--target", str(out), *requirements]
        if (source / "requirements.txt").is_file():
            argv += ["-r", str(source / "requirements.txt")]
        self.run_tool(argv, cwd=out)
        # Compiled now, as Lambda's packages arrive: otherwise the first environment after a
        # build would compile them inside its Init Duration and every later one would not.
        self.run_tool([python, "-m", "compileall", "-q", str(out)], cwd=out)

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        # As Lambda's python bootstrap does: the task root on the path, the client as main.
        # -S: none of the site-packages of the interpreter that runs coldbench (their .pth
        # start-up hooks cost ~25 ms here); as on Lambda, the standard library and the task root.
        return Launch(argv=[interpreter(), "-S", "-m", "awslambdaric", handler],
                      env={"PYTHONPATH": str(task_root), "PYTHONUNBUFFERED": "1",
                           # environments share the task root: none may change it
                           "PYTHONDONTWRITEBYTECODE": "1"})
