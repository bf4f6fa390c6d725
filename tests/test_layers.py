"""Lambda layers (--layer): read, merged into /opt later over earlier, Lambda's limits, the
paths each runtime adds, and what the runtime sees of them in a real environment."""

import json
import os
import stat
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from coldbench import layers
from coldbench.build import Function, Layer, build
from coldbench.errors import UsageError
from coldbench.runtimes import get
from coldbench.targets.local.target import LocalTarget
from conftest import FIXTURES, ROOT, invoke_once, make_sample, run_cli

ROOT_AND_LOOPS = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/dev/loop-control").exists(),
    reason="mount namespaces and loop devices need root and /dev/loop-control")


def _folder(root: Path, files: dict[str, str], executable=()) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if name in executable:
            path.chmod(0o755)
    return root


def _zip(path: Path, files: dict[str, str], modes: dict[str, int] = {},
         links: dict[str, str] = {}) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | modes.get(name, 0o644)) << 16
            archive.writestr(info, text)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


# reading and merging -------------------------------------------------------------------

def test_a_folder_and_a_zip_of_the_same_files_are_read_with_their_sizes(tmp_path):
    folder = layers.load(_folder(tmp_path / "tools", {"bin/x": "12345", "python/m.py": "ab"}))
    archive = layers.load(_zip(tmp_path / "tools.zip", {"bin/x": "12345", "python/m.py": "ab"}))
    assert (folder.name, folder.unzipped_bytes) == ("tools", 7)
    assert (archive.name, archive.unzipped_bytes) == ("tools", 7)
    # a zip's digest is its bytes' (Lambda's CodeSha256 is of the zip), a folder's its files'
    assert archive.digest != folder.digest
    (tmp_path / "tools" / "python" / "m.py").write_text("ac")
    assert layers.load(tmp_path / "tools").digest != folder.digest


def test_later_layers_win_and_modes_and_links_are_kept(tmp_path):
    first = layers.load(_folder(tmp_path / "first", {"python/shared.py": "WHO = 'first'",
                                                     "python/only_first.py": "",
                                                     "bin/tool": "old"}))
    second = layers.load(_zip(tmp_path / "second.zip",
                              {"python/shared.py": "WHO = 'second'",
                               "extensions/ext": "#!/bin/sh\n"},
                              modes={"extensions/ext": 0o755},
                              links={"bin/tool": "../extensions/ext"}))
    merged = layers.merge((first, second))
    assert (merged / "python" / "shared.py").read_text() == "WHO = 'second'"
    assert (merged / "python" / "only_first.py").exists()
    assert os.access(merged / "extensions" / "ext", os.X_OK)
    assert os.readlink(merged / "bin" / "tool") == "../extensions/ext"
    # the other order, the other winner, another folder; the same order, the same folder
    assert (layers.merge((second, first)) / "python" / "shared.py").read_text() == "WHO = 'first'"
    assert layers.merge((first, second)) == merged


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: tmp / "missing", "no such file or folder"),
    (lambda tmp: _folder(tmp, {"layer.tar": "not a zip"}) / "layer.tar",
     "not a .zip file or a folder"),
    (lambda tmp: _zip(tmp / "evil.zip", {"../../etc/evil": "x"}), "outside /opt"),
])
def test_what_is_not_a_layer_is_refused_in_one_line(tmp_path, make, expected):
    with pytest.raises(UsageError, match=expected) as refused:
        layers.load(make(tmp_path))
    assert "\n" not in str(refused.value)


def test_lambdas_limits_with_lambdas_words():
    small = Layer("small", Path("/x"), "d", 1_000)
    with pytest.raises(UsageError, match="Cannot reference more than 5 layers"):
        layers.check_limits([small] * 6, 0)
    layers.check_limits([small] * 5, 262_144_000 - 5_000)          # at the limit: fine
    big = Layer("big", Path("/x"), "e", 200_000_000)
    with pytest.raises(UsageError) as refused:
        layers.check_limits([small, big], 70_000_000)
    assert str(refused.value).startswith(
        "Function code combined with layers exceeds the maximum allowed size of 262144000 "
        "bytes. The actual size is 270001000 bytes")
    assert "function 70,000,000" in str(refused.value) and "big 200,000,000" in str(refused.value)


@pytest.mark.slow
def test_an_extension_that_cannot_be_started_is_refused(tmp_path):
    from coldbench.build import Artifact
    from coldbench.workflows.layers import check
    layer = layers.load(_folder(tmp_path / "ext", {"extensions/agent": "x"}))
    built = build(Function.builtin(get("python")))
    artifact = Artifact(replace(built.function, layers=(layer,)), built.task_root,
                        built.digest, built.toolchain)
    with pytest.raises(UsageError, match=r"--layer .*/ext: extensions/agent is not executable"):
        check([artifact])


@pytest.mark.slow
def test_the_function_is_counted_without_the_runtimes_own_client():
    artifact = build(Function.builtin(get("python")))
    size = layers.function_bytes(artifact)
    client = artifact.task_root / "awslambdaric"
    assert 0 < size < 1_000_000            # the hello function, not awslambdaric's 2+ MB
    assert client.is_dir()


def test_each_runtime_adds_lambdas_layer_paths():
    env = {"PATH": "/usr/bin", "PYTHONPATH": "/var/task", "NODE_PATH": "/var/task"}
    python = get("python").layer_variables(env)
    assert python["PATH"] == "/usr/bin:/opt/bin"
    assert python["LD_LIBRARY_PATH"] == "/opt/lib"
    root, site, opt = python["PYTHONPATH"].split(":")
    assert (root, opt) == ("/var/task", "/opt/python")
    assert site.startswith("/opt/python/lib/python3.") and site.endswith("/site-packages")
    node = get("node").layer_variables(env)["NODE_PATH"].split(":")
    assert node[1:] == ["/opt/nodejs/node_modules", "/var/task"]
    assert node[0].startswith("/opt/nodejs/node") and node[0].endswith("/node_modules")
    assert "CLASSPATH" not in get("java").layer_variables(env)   # the client reads /opt/java/lib


# in a real environment -----------------------------------------------------------------

def _two_layers(tmp_path) -> tuple[Layer, Layer]:
    first = _folder(tmp_path / "first", {"python/layered.py": "WHO = 'first'"})
    second = _zip(tmp_path / "second.zip", {"python/layered.py": "WHO = 'second'",
                                            "bin/layer-tool": "#!/bin/sh\necho hi\n"},
                  modes={"bin/layer-tool": 0o755})
    return layers.load(first), layers.load(second)


@ROOT_AND_LOOPS
@pytest.mark.slow
@pytest.mark.parametrize("delivery", ["host", "lambda"])
def test_the_runtime_sees_the_merged_layers_at_opt_read_only(tmp_path, delivery):
    function = Function.user(get("python"), FIXTURES / "layer_user", "app.handler")
    artifact = build(replace(function, layers=_two_layers(tmp_path)))
    invoked = invoke_once(LocalTarget(timeout_s=30, delivery=delivery), artifact, 512)
    assert invoked.error is None, invoked.error
    response = invoked.response
    assert response["layered"] == "second"                       # later over earlier
    assert response["layered_file"] == "/opt/python/layered.py"
    assert response["tool"] == "/opt/bin/layer-tool"              # /opt/bin on PATH
    assert response["ld_library_path"].endswith("/opt/lib")
    assert response["opt_writable"] is False
    # /opt is the environment's own: this process's /opt has no such module
    assert not Path("/opt/python/layered.py").exists()
    if delivery == "lambda":           # read cold from the layers' own image, and counted
        assert invoked.extra["init_read_layers_mb"] > 0
        assert invoked.extra["init_read_mb"] > invoked.extra["init_read_layers_mb"]
    else:
        assert "init_read_layers_mb" not in invoked.extra


# the command line ----------------------------------------------------------------------

def overhead_row(stdout: str, layer: str, figure: str = "Init Duration") -> tuple[float, ...]:
    """The --layer-overhead table's row of ``layer``'s ``figure``: what the layer added
    and its interval's two ends, in ms."""
    rows = [line.split() for line in stdout.splitlines()
            if line.startswith(f"{layer} ") and figure in line]
    assert len(rows) == 1, stdout
    at = rows[0].index("(ms)")
    return tuple(float(rows[0][at + i].replace(",", "")) for i in (3, 4, 6))


def _named(sample: dict) -> list[str]:
    """The layers a sample's variant names (results schema 3)."""
    return (sample.get("variant") or {}).get("layers", [])


@ROOT_AND_LOOPS
@pytest.mark.slow
def test_layer_overhead_measures_a_known_answer(tmp_path):
    """A layer whose module sleeps 300 ms at import: its Init Duration overhead is 300 ms
    within a tolerance for a busy machine (+-100 ms, and inside the printed interval); the
    results name the layers."""
    slow = _folder(tmp_path / "slow", {"python/layered.py": "import time\n"
                                       "time.sleep(0.3)\nWHO = 'slow'\n"})
    output = tmp_path / "run.json"
    result = run_cli("run", "--function", FIXTURES / "layer_user", "--runtime", "python",
                     "--layer", slow, "--layer-overhead", "--memory", "1769", "--cold", "8",
                     "--warm", "0", "--provisioned", "0", "--output", output, "--quiet")
    assert result.returncode == 0, result.stderr
    overhead, low, high = overhead_row(result.stdout, "slow")
    assert 200 < overhead < 400, result.stdout
    assert low <= 300 <= high, result.stdout
    samples = json.loads(output.read_text())["samples"]
    assert {tuple(_named(s)) for s in samples} == {(), ("slow",)}
    digest = layers.load(slow).digest
    assert all(s["layers"] == [{"name": "slow", "digest": digest}]
               for s in samples if _named(s) == ["slow"])
    assert all("layers" not in s for s in samples if not _named(s))
    assert "python) layers slow" in result.stdout            # its row in the table


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: ["--layer", tmp / "missing"], "no such file or folder"),
    (lambda tmp: ["--layer", _folder(tmp, {"l.txt": "x"}) / "l.txt"],
     "not a .zip file or a folder"),
    (lambda tmp: [arg for i in range(6) for arg in ("--layer", _folder(tmp / f"l{i}", {"a": "x"}))],
     "Cannot reference more than 5 layers"),
    (lambda tmp: ["--layer", _folder(tmp / "ext", {"extensions/agent": "#!/bin/sh\n"})],
     "/ext: extensions/agent is not executable"),
    (lambda tmp: ["--layer", _zip(tmp / "ext.zip", {"extensions/agent": "#!/bin/sh\n"})],
     "ext.zip: extensions/agent is not executable"),
    (lambda tmp: ["--layer-overhead"], "give them with --layer"),
    (lambda tmp: ["--layer", _folder(tmp / "a", {"x": "y"}), "--layer-env", "b:X=1"],
     "with LAYER one of the --layer names (a)"),
    (lambda tmp: ["--layer", _folder(tmp / "a", {"x": "y"}), "--layer-handler", "a"],
     "expected LAYER:HANDLER"),
])
def test_bad_layers_are_refused_with_one_line_and_nothing_measured(tmp_path, make, expected):
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "python", "--memory", "128", "--cold", "1",
                     "--warm", "0", "--provisioned", "0", "--output", output, *make(tmp_path))
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not output.exists()


@pytest.mark.slow
def test_a_layer_over_250_mb_with_the_function_is_refused_naming_the_sizes(tmp_path):
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("data/zeros", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(251):
                member.write(chunk)
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "python", "--memory", "128", "--cold", "1",
                     "--warm", "0", "--provisioned", "0", "--layer", big, "--output", output)
    assert result.returncode == 2, result.stderr
    assert "exceeds the maximum allowed size of 262144000 bytes" in result.stderr
    assert "big 263,192,576" in result.stderr
    assert not output.exists()


WRAPPER_START_MS = 25        # a shell and a sleep started: a few ms here, more when busy


@ROOT_AND_LOOPS
@pytest.mark.slow
def test_an_exec_wrapper_from_a_layer_starts_the_runtime(tmp_path):
    """A wrapper script (a layer's, named by AWS_LAMBDA_EXEC_WRAPPER) that waits 300 ms
    and then execs the runtime's command line: Init Duration grows by the 300 ms and the
    wrapper's own start, within a tolerance for a busy machine, and the function still
    answers."""
    wrapper = _folder(tmp_path / "wrap", {"wrapper": "#!/bin/sh\nsleep 0.3\nexec \"$@\"\n"},
                      executable=("wrapper",))
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "python", "--layer", wrapper,
                     "--layer-env", "wrap:AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper",
                     "--layer-overhead", "--memory", "1769", "--cold", "8", "--warm", "1",
                     "--provisioned", "0", "--output", output, "--quiet")
    assert result.returncode == 0, result.stderr
    overhead, low, high = overhead_row(result.stdout, "wrap")
    # the 300 ms, and the start of the wrapper's shell and of its sleep: on a quiet machine
    # the interval is narrow enough to leave 300 itself out (+300.6 .. +307.4 once)
    assert 200 < overhead < 450 and low <= 300 + WRAPPER_START_MS and high >= 300, result.stdout
    samples = json.loads(output.read_text())["samples"]
    assert all(s["error"] is None for s in samples)
    wrapped = [s for s in samples if _named(s) == ["wrap"]]
    assert wrapped[0]["layers"][0]["env"] == {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper"}


@ROOT_AND_LOOPS
@pytest.mark.slow
def test_node_finds_a_layers_module_in_its_version_folder(tmp_path):
    """A module in /opt/nodejs/node<N>/node_modules, preloaded by name (NODE_OPTIONS, a
    layer's setup), found through NODE_PATH as on Lambda: it works 300 ms at load, and
    Init Duration grows by that, within a tolerance for a busy machine."""
    versioned = get("node").layer_variables({})["NODE_PATH"].split(":")[0]   # /opt/nodejs/nodeN/...
    relative = Path(versioned).relative_to(layers.OPT) / "layered" / "index.js"
    layer = _folder(tmp_path / "nodelayer", {
        str(relative): "const end = Date.now() + 300; while (Date.now() < end) {}\n"})
    result = run_cli("run", "--runtimes", "node", "--layer", layer,
                     "--layer-env", "nodelayer:NODE_OPTIONS=--require layered",
                     "--layer-overhead", "--memory", "1769", "--cold", "10", "--warm", "0",
                     "--provisioned", "0", "--quiet")
    assert result.returncode == 0, result.stderr
    overhead, low, high = overhead_row(result.stdout, "nodelayer")
    assert 200 < overhead < 500 and low <= 300 <= high, result.stdout


def test_each_layers_overhead_is_against_the_prefix_before_it():
    """Known samples: A adds 50 ms to init and an extension's 150 ms after each response;
    B adds 20 ms more. Each layer is measured against the prefix before it."""
    from coldbench.analysis.layers import overheads
    a, b = Layer("A", Path("/a"), "da", 1), Layer("B", Path("/b"), "db", 1)

    def sample(init, chosen, post=None):
        extra = {"layers": [l.describe() for l in chosen]} if chosen else {}
        if post is not None:
            extra["extension_post_runtime_ms"] = post
        return make_sample(memory_mb=512, init_ms=init, billed_ms=init + 1, max_memory_mb=10.0,
                           extra=extra)

    samples = [sample(100 + i, ()) for i in range(8)]
    samples += [sample(150 + i, (a,), post=150.0) for i in range(8)]
    samples += [sample(170 + i, (a, b), post=150.0) for i in range(8)]
    found = {(o.layer, o.figure): o for o in overheads(samples, [a, b])}
    assert found[("A", "Init Duration")].delta == pytest.approx(50)
    low, high = found[("A", "Init Duration")].interval
    assert low <= 50 <= high
    assert found[("A", "post-runtime")].delta == pytest.approx(150)
    assert found[("B", "Init Duration")].delta == pytest.approx(20)
    assert found[("B", "post-runtime")].delta == pytest.approx(0)
    assert found[("A", "Init Duration")].change.p_value < 0.01


@ROOT_AND_LOOPS
@pytest.mark.slow
def test_an_extension_in_a_layer_shows_its_post_runtime_time(tmp_path):
    """A layer holding an external extension (the tests' shell extension) that works
    150 ms after each INVOKE: --layer-overhead prints that as the layer's post-runtime
    time (150 ms and what the extension's own commands take to start, on a busy machine),
    and billed time grows with it."""
    extension = ROOT / "tests" / "fixtures" / "extensions" / "shell.sh"
    layer = _folder(tmp_path / "ext", {"extensions/shell-ext": extension.read_text()},
                    executable=("extensions/shell-ext",))
    result = run_cli("run", "--runtimes", "python", "--layer", layer,
                     "--layer-env", "ext:EXTENSION_WORK_AFTER_INVOKE_MS=150",
                     "--layer-overhead", "--memory", "1769", "--cold", "6", "--warm", "0",
                     "--provisioned", "0", "--quiet")
    assert result.returncode == 0, result.stderr
    overhead, low, high = overhead_row(result.stdout, "ext", "post-runtime")
    # at least the 150 ms, plus the extension's own curl and sleep starting (tens of ms)
    assert 140 < overhead < 400 and high >= 150, result.stdout
    assert overhead_row(result.stdout, "ext", "billed")[0] > 120, result.stdout
