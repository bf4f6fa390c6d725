import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aws_standin import DUMMY_ENVIRONMENT, boto, moto_behind_standin

# this session's cgroups (and those of the commands it runs) under a parent of its own
os.environ["COLDBENCH_CGROUP_PARENT"] = f"coldbench-test-{os.getpid()}"

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "functions"
CONTRACT = json.loads((ROOT / "functions" / "contract.json").read_text())


def make_sample(**fields):
    """One sample for tests that need samples rather than a run: a valid cold start of
    the built-in python function at 128 MB (init 100 ms, Duration 1 ms) unless ``fields``
    say otherwise. A warm or provisioned sample has no init; ``cold`` follows the mode."""
    from coldbench.results.schema import Sample

    mode = fields.get("mode", "cold")
    defaults = dict(runtime="python", memory_mb=128, mode=mode,
                    init_ms=100.0 if mode == "cold" else None, duration_ms=1.0, e2e_ms=None,
                    billed_ms=None, max_memory_mb=None, cold=mode == "cold", error=None)
    return Sample(**(defaults | fields))


def make_idle_sample(idle_s: float, cold: bool | None, duration_ms: float | None,
                     init_ms: float | None = None, error: dict | None = None):
    """One sample of an idle sweep (``--idle``), python arm64 512 MB, as the sweep files
    it: invoked after ``idle_s`` seconds, cold or warm as its REPORT said (``None`` where
    there was no REPORT)."""
    from coldbench.model import Variant
    return make_sample(memory_mb=512, mode="cold" if cold else "warm", init_ms=init_ms,
                       duration_ms=duration_ms, cold=cold, error=error,
                       variant=Variant(architecture="arm64", idle_s=idle_s),
                       extra={"idle_s": idle_s, "architecture": "arm64", "report_cold": cold})


def shows(text: str, value: float) -> bool:
    """Whether ``text`` (a cell or label: "1,751", "0.50", "32.5 ms") shows ``value``,
    rounded to the digits it has; the expected figure is the measured one, never one
    formatted by the code under test."""
    number = re.search(r"\d[\d,]*(\.\d+)?", text)
    assert number, text
    digits = number.group().replace(",", "")
    return abs(float(digits) - value) <= 0.5 * 10 ** -len(digits.partition(".")[2]) + 1e-9


def run_cli(*args, timeout=900, **kwargs) -> subprocess.CompletedProcess:
    """`coldbench ARGS` as a user runs it, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "coldbench", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def exchange(address: str, data: bytes, wait_s: float = 10.0) -> tuple[bytes, float]:
    """Send raw bytes to ``address`` (``host:port``, with or without ``http://``), as a
    client that breaks the protocol would; what came back until the server closed the
    connection, and the seconds that took. A server that does not close within ``wait_s``
    fails the test."""
    host, port = address.removeprefix("http://").rsplit(":", 1)
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            pytest.fail(f"the connection was still open after {wait_s} s: {answer[:200]!r}")
    return answer, time.monotonic() - started


def invoke_once(target, artifact, memory_mb: int, event: dict | None = None):
    """One invocation of ``artifact`` at ``memory_mb`` in a fresh environment of ``target``
    (prepared for it first, as a run prepares); what it gave. The environment and the
    target are closed after."""
    from coldbench.model import Config
    try:
        target.prepare([Config(artifact, memory_mb)], None)
        environment = target.start(artifact, memory_mb, provisioned=False)
        try:
            return environment.invoke(event or {"work": 1})
        finally:
            environment.close()
    finally:
        target.close()


def invoke_client(url: str):
    """A boto3 Lambda client of ``coldbench serve`` at ``url``: one attempt per call (a
    retry would hide what the server answered), and patience for a cold start."""
    from botocore.config import Config
    return boto(url, "lambda", config=Config(retries={"max_attempts": 1}, read_timeout=120))


@pytest.fixture
def serving(monkeypatch):
    """``serving(function_dir=None, handler=None, **settings)``: `coldbench serve`'s server
    for python (the built-in function unless ``function_dir``) on a free port, serving in
    this process; every one started is closed at the end of the test."""
    from coldbench.serve import Server, artifacts_for
    for key, value in DUMMY_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    started = []

    def start(function_dir=None, handler=None, **settings):
        server = Server(artifacts_for(["python"], function_dir, handler), port=0, **settings)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.close()


@pytest.fixture
def fixture_function():
    def path(name: str) -> Path:
        return FIXTURES / name
    return path


@pytest.fixture(scope="session", autouse=True)
def own_cgroup_parent():
    """Remove this session's (by then empty) cgroup parent folders at the end."""
    yield
    from coldbench.environments import cgroups
    for hierarchy in ("memory", "cpu", "blkio", ""):
        parent = cgroups.ROOT / hierarchy / cgroups.PARENT
        if parent.is_dir():
            parent.rmdir()


@pytest.fixture(autouse=True)
def nothing_left_behind():
    """Every test must leave no coldbench cgroup (and so no runtime process) behind."""
    from coldbench.environments import cgroups
    yield
    left = [g.name for g in cgroups.leftovers()]
    assert not left, f"cgroups left behind: {left}"


def coldbench_processes() -> list[str]:
    """Command lines of runtime processes started from coldbench's build cache: named in
    their command line (a bootstrap, a jar) or running in a task root (python, node)."""
    from coldbench.build import cache_root
    marker = str(cache_root())
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                cwd = os.readlink(proc / "cwd")
            except OSError:
                continue
            if marker in cmdline or cwd.startswith(marker):
                found.append(cmdline)
    return found


@pytest.fixture(scope="session")
def real_run(tmp_path_factory) -> Path:
    """A real run's results file (python and go at two memory sizes), made once a session."""
    path = tmp_path_factory.mktemp("real-run") / "run.json"
    result = run_cli("run", "--runtimes", "python,go", "--memory", "128,1024", "--cold", "6",
                     "--warm", "8", "--provisioned", "2", "--output", path, "--quiet")
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def control_plane():
    """moto's server and the stand-in in front of it (aws_standin.py), for a test module."""
    with moto_behind_standin() as pair:
        yield pair


@pytest.fixture(scope="module")
def engine():
    """The Docker engine, for a test module; a failure on CI (which starts one), else a skip."""
    from coldbench.errors import EnvironmentUnavailable
    from coldbench.targets.docker import target as docker_target
    try:
        client = docker_target.engine()
    except EnvironmentUnavailable as exc:
        if os.environ.get("CI"):          # CI starts an engine: not finding one is a failure
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    yield client
    client.close()
