"""Tools the runtimes, the environments and the targets share: where builds are cached,
how a build tool is run, and the pieces of a Lambda package that the runtimes' recipes
make (the host's architecture, the function's sources, a checked ``bootstrap``)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

from coldbench.errors import BuildError, MissingToolchain

# provided.al2023 runs on Amazon Linux 2023, whose glibc is 2.34: a binary linked against
# newer symbols does not start there.
AL2023_GLIBC = (2, 34)
_ELF_MACHINE = {"x86_64": 62, "arm64": 183}          # EM_X86_64, EM_AARCH64
# The environment is process-wide: builds that set variables in it take turns.
_ENVIRON_LOCK = threading.Lock()
# Build tools running now, in any thread: an interrupt of the main thread ends them all
# (``end_all_tools``), since a signal reaches only the main thread.
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def cache_root() -> Path:
    base = os.environ.get("COLDBENCH_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "coldbench"
    return Path(base)


def run_tool(who: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 1800) -> str:
    """Run a build tool for ``who``; its stdout, or BuildError with the tail of its output.
    The tool runs in a session of its own, which ends with it, whatever interrupts it
    (Ctrl-C, SIGTERM, its timeout): no pip, npm, cargo or mvn process outlives coldbench."""
    try:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    except FileNotFoundError as exc:
        raise MissingToolchain(f"{who}: {exc.filename} not found") from exc
    with _RUNNING_LOCK:
        _RUNNING.add(process)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{who}: '{' '.join(argv)}' took over {timeout:.0f} s") from exc
    finally:
        end_session(process)
        with _RUNNING_LOCK:
            _RUNNING.discard(process)
    if process.returncode != 0:
        tail = "\n".join((stdout + stderr).strip().splitlines()[-25:])
        raise BuildError(f"{who}: '{' '.join(argv)}' failed (exit {process.returncode}):\n{tail}")
    return stdout


def end_all_tools() -> None:
    """Kill every build tool running now, in every thread, with what it started: their
    builds then fail at once instead of running to the end."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def end_session(process: subprocess.Popen) -> None:
    """Kill what is left of the session ``process`` leads (started with
    ``start_new_session``): its children and theirs, and the process itself."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def copy_sources(source: Path, out: Path, ignored: frozenset[str]) -> None:
    """The function's own files, without build output and bytecode."""
    shutil.copytree(source, out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(*ignored, "__pycache__", "*.pyc"))


@contextmanager
def environ(**variables: str):
    """Run a runtime's own build with extra variables: Go and Cargo read their target from
    the environment (GOARCH, CARGO_BUILD_TARGET), so the runtimes' recipes stay one."""
    with _ENVIRON_LOCK:
        saved = {k: os.environ.get(k) for k in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def install_bootstrap(binary: Path, architecture: str, out: Path) -> None:
    """``binary``, checked, as the executable ``bootstrap`` at the root of ``out``."""
    check_bootstrap(binary, architecture)
    shutil.copy2(binary, out / "bootstrap")
    (out / "bootstrap").chmod(0o755)


def check_bootstrap(binary: Path, architecture: str) -> None:
    """BuildError unless ``binary`` is a Linux executable for ``architecture`` that needs no
    newer glibc than provided.al2023 has."""
    data = binary.read_bytes()
    if data[:4] != b"\x7fELF" or len(data) < 20:
        raise BuildError(f"{binary} is not a Linux executable")
    machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    if machine != _ELF_MACHINE[architecture]:
        raise BuildError(f"{binary} is not built for {architecture} (ELF machine {machine})")
    # Symbol versions are stored as plain strings in the dynamic section's string table.
    needed = max((tuple(int(x) for x in m.groups()) for m in
                  re.finditer(rb"GLIBC_(\d+)\.(\d+)", data)), default=None)
    if needed and needed > AL2023_GLIBC:
        raise BuildError(f"{binary} needs glibc {needed[0]}.{needed[1]}, but provided.al2023 "
                         f"has {AL2023_GLIBC[0]}.{AL2023_GLIBC[1]}: build it on an older "
                         "system, or for a musl target")
