"""The sandbox keeps a function where Lambda keeps it: a hostile function tries every
escape, under `run` and `serve`, and every attempt fails; whatever it starts ends with its
environment."""

import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from coldbench import build
from coldbench.environments import delivery, isolation
from coldbench.runtimes import RUNTIMES

from aws_standin import Serve
from conftest import invoke_client, run_cli

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(isolation.unavailable() is not None,
                                 reason="isolation needs root")]


@pytest.fixture
def hostile(fixture_function, tmp_path):
    """The hostile function in a folder of its own, with the targets it attacks; the
    secret it looks for, and the token its daemon carries."""
    def make(**event):
        token = uuid.uuid4().hex
        secret = f"sekrit-{uuid.uuid4().hex}"
        secret_file = tmp_path / "secret"
        secret_file.write_text(secret)
        secret_file.chmod(0o600)
        other = build.build(build.Function.builtin(RUNTIMES["python"])).task_root
        source = tmp_path / "hostile"
        shutil.copytree(fixture_function("hostile"), source)
        delivery.images_dir().mkdir(parents=True, exist_ok=True)
        (source / "targets.json").write_text(json.dumps({
            "token": token, "secret": secret, "secret_file": str(secret_file),
            "build_cache": str(build.cache_root() / "build"), "other_build": str(other),
            "code_images": str(delivery.images_dir()), "host_tmp": str(tmp_path),
            "other_tmps": [str(p) for p in Path(tempfile.gettempdir()).glob("coldbench-*")],
            "event": event}))
        return source, secret, token
    return make


def attempts(message: str) -> dict:
    could = json.loads(message)
    assert could.pop("uid") == isolation.SANDBOX_UID
    assert could.pop("processes_seen") <= 3          # the runtime, its daemon, ps
    return could


def daemons(token: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and token.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def every_escape_failed(output: Path, stderr: str) -> None:
    """Each sample of the results file ``output`` is the hostile function's report that
    every attempt failed; /tmp full at Lambda's default 512 MB (less what the environment
    already holds)."""
    samples = json.loads(output.read_text())["samples"]
    assert samples and all(s["error"]["type"] == "RuntimeError" for s in samples), stderr
    for sample in samples:
        could = attempts(sample["error"]["message"])
        assert 500 <= could.pop("tmp_full_at_mb") <= 512
        assert could == {}, could


def test_every_escape_fails_under_run(hostile, tmp_path):
    source, secret, token = hostile(fill=600, daemon=True)
    output = tmp_path / "hostile.json"
    result = run_cli("run", "--function", source, "--runtime", "python", "--memory", 1024,
                     "--cold", 2, "--warm", 0, "--provisioned", 0, "--timeout", 60,
                     "--output", output, "--quiet",
                     env=os.environ | {"AWS_SECRET_ACCESS_KEY": secret})
    every_escape_failed(output, result.stderr)
    run = json.loads(output.read_text())["run"]
    assert run["ephemeral_storage_mb"] == 512 and run["sandbox"]["isolated"] is True
    assert daemons(token) == []


def test_a_daemon_ends_with_its_environment_without_limits(hostile, tmp_path):
    source, secret, token = hostile(daemon=True)
    output = tmp_path / "hostile.json"
    run_cli("run", "--function", source, "--runtime", "python", "--memory", 256, "--no-limits",
            "--cold", 1, "--warm", 1, "--provisioned", 0, "--output", output, "--quiet")
    samples = json.loads(output.read_text())["samples"]
    assert samples and attempts(samples[0]["error"]["message"]) == {}
    assert daemons(token) == []


def test_ephemeral_storage_is_lambdas_range(hostile, tmp_path):
    source, _, _ = hostile()
    for size in (511, 10241):
        result = run_cli("run", "--function", source, "--runtime", "python",
                         "--ephemeral-storage", size, "--output", tmp_path / f"{size}.json")
        assert result.returncode == 2 and "512 to 10240 MB" in result.stderr
        assert not (tmp_path / f"{size}.json").exists()


def test_every_escape_fails_under_serve(hostile):
    source, secret, token = hostile(sleep=2, daemon=True)
    server = Serve("--runtime", "python", "--function", str(source),
                   env={"AWS_SECRET_ACCESS_KEY": secret})
    try:
        lam = invoke_client(server.url)
        payloads = []

        def one():
            response = lam.invoke(FunctionName="coldbench-python-512", Payload=b"{}")
            payloads.append(json.loads(response["Payload"].read()))
        threads = [threading.Thread(target=one) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(payloads) == 2
        for payload in payloads:                  # two environments side by side
            assert payload.get("errorType") == "RuntimeError", payload
            assert attempts(payload["errorMessage"]) == {}
    finally:
        server.close()
    assert daemons(token) == []


def _status(pid: int) -> dict:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.split() for k, v in (line.split(":", 1) for line in lines)}


def test_spawned_processes_share_the_runtimes_environment_and_end_with_it():
    from coldbench.targets.local.target import LocalTarget

    artifact = build.build(build.Function.builtin(RUNTIMES["python"]))
    target = LocalTarget(timeout_s=30)
    try:
        environment = target.start(artifact, 256, provisioned=True)
        sandbox = environment.sandbox
        before = sandbox.spawn(["/bin/sleep", "600"], {"PATH": "/usr/bin:/bin"}, "sleeper")
        assert environment.invoke({"work": 1}).error is None
        after = sandbox.spawn(["/bin/sleep", "601"], {}, "another")
        runtime = sandbox.runtime_pid
        assert b"awslambdaric" in Path(f"/proc/{runtime}/cmdline").read_bytes()
        for pid in (before, after):
            status = _status(pid)
            assert status["Uid"][0] == str(isolation.SANDBOX_UID)
            assert len(status["NSpid"]) == 2                  # a namespace of its own...
            assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{runtime}/ns/pid")
            assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink(f"/proc/{runtime}/ns/mnt")
            assert (Path(f"/proc/{pid}/cgroup").read_text()
                    == Path(f"/proc/{runtime}/cgroup").read_text())
        with pytest.raises(OSError, match="missing: .*No such file"):
            sandbox.spawn(["/no/such/program"], {}, "missing")
        environment.close()
        time.sleep(0.2)
        assert not [p for p in (before, after) if Path(f"/proc/{p}").exists()
                    and _status(p)["State"][0] != "Z"]
    finally:
        target.close()


def test_without_isolation_a_daemon_still_ends_with_its_environment(hostile, monkeypatch):
    from coldbench.targets.local.target import LocalTarget

    monkeypatch.setattr(isolation, "unavailable", lambda: "not root")
    source, _, token = hostile(daemon=True)
    artifact = build.build(build.Function.user(RUNTIMES["python"], source, "app.handler"))
    target = LocalTarget(timeout_s=30, limits=False)
    try:
        assert target.describe()["sandbox"] == {"isolated": False, "reason": "not root"}
        assert any("not root: no sandbox as on Lambda" in n for n in target.notes(256))
        environment = target.start(artifact, 256, provisioned=False)
        invoked = environment.invoke({})
        assert invoked.error["type"] == "RuntimeError"
        assert daemons(token), "the daemon did not start: this proves nothing"
        environment.close()
        time.sleep(0.2)
        assert daemons(token) == []
    finally:
        target.close()


@pytest.mark.docker
def test_every_escape_fails_in_a_container(hostile, tmp_path):
    source, secret, token = hostile(fill=600, daemon=True)
    output = tmp_path / "hostile.json"
    result = run_cli("run", "--target", "docker", "--function", source, "--runtime", "python",
                     "--memory", 1024, "--cold", 1, "--warm", 0, "--provisioned", 0,
                     "--timeout", 60, "--output", output, "--quiet",
                     env=os.environ | {"AWS_SECRET_ACCESS_KEY": secret})
    every_escape_failed(output, result.stderr)
    assert json.loads(output.read_text())["run"]["sandbox"]["user"] == "993:990"
    assert daemons(token) == []
