"""SIGTERM and SIGINT end coldbench with status 130 and its message in every phase, a
build included: the build tools' processes end with it and no half-built folder stays."""

import os
import signal
import subprocess
import sys
import time

import pytest

from coldbench import signals
from coldbench.environments.kernel import running

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_build(fixture_function, tmp_path, signum):
    mark = tmp_path / "backend.pid"
    cache = tmp_path / "cache"
    process = subprocess.Popen(
        [sys.executable, "-m", "coldbench", "run", "--function", str(fixture_function("slow_build")),
         "--runtime", "python", "--memory", "128", "--output", str(tmp_path / "out.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"SLOW_BUILD_MARK": str(mark), "COLDBENCH_CACHE": str(cache)})
    try:
        deadline = time.monotonic() + 300
        while not (mark.exists() and mark.read_text()) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.2)
        backend = int(mark.read_text())
        assert running(backend)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("coldbench: error: interrupted")
    for _ in range(50):                    # the kernel reaps it a moment later
        if not running(backend):
            break
        time.sleep(0.1)
    assert not running(backend), "the build's own child outlived coldbench"
    assert not list(cache.glob("build/*/.building-*"))
    assert not (tmp_path / "out.json").exists()


def test_an_interrupt_python_could_not_raise_is_raised_before_the_next_sample():
    with signals.sigterm_as_interrupt():
        interrupt = signal.getsignal(signal.SIGTERM)
        try:
            interrupt(signal.SIGTERM, None)
        except KeyboardInterrupt:
            pass                # as where it lands in a callback that may not raise
        with pytest.raises(KeyboardInterrupt):
            signals.check_interrupted()
        signals.check_interrupted()         # acted on once
    # an ignored Ctrl-C (a job started in the background) is left ignored
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with signals.sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


# A signal that lands in os.fork's own callbacks (the ``logging`` module's at-fork lock
# handlers, here one that sends it): Python could not raise it there.
_SIGNAL_IN_FORK = """
import os, signal, sys
from coldbench import signals
from coldbench.environments.process import Launcher
sent = []
def send():
    if not sent:
        sent.append(1)
        os.kill(os.getpid(), signal.SIGTERM)
os.register_at_fork(after_in_parent=send)
with signals.sigterm_as_interrupt():
    try:
        launcher = Launcher(None)
    except KeyboardInterrupt:
        print("raised")
try:
    os.waitpid(-1, os.WNOHANG)
    print("a child is left")
except ChildProcessError:
    print("no child is left")
"""


def test_a_signal_during_a_launchers_fork_is_raised_once_it_returns_and_the_child_ends():
    result = subprocess.run([sys.executable, "-c", _SIGNAL_IN_FORK], capture_output=True,
                            text=True, timeout=60)
    assert result.stderr == ""                          # not "Exception ignored"
    assert result.stdout.splitlines() == ["raised", "no child is left"]
