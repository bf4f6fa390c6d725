"""Deployment packages as Lambda's runtimes expect them, per runtime and architecture."""

import json
import stat
import zipfile

import pytest

from coldbench import runtimes
from coldbench.build import Artifact, Function, build
from coldbench.errors import BuildError, MissingToolchain, UsageError
from coldbench.runtimes.base import Launch, Runtime
from coldbench.runtimes.rust import target_missing as rust_target_missing
from coldbench.targets.aws.package import check_bootstrap, package, parse_architectures, write_zip

pytestmark = pytest.mark.slow


def built(name):
    return build(Function.builtin(runtimes.get(name)))


def names(pkg):
    return sorted(zipfile.ZipFile(pkg.path).namelist())


def test_python_is_the_function_alone():
    pkg = package(built("python"), "x86_64", "python3.12")
    assert names(pkg) == ["app.py"]                 # no awslambdaric: python3.12 brings its own
    assert pkg.handler == "app.handler" and pkg.lambda_runtime == "python3.12"


def test_node_has_no_runtime_interface_client():
    pkg = package(built("node"), "arm64", "nodejs20.x")
    assert not any(n.startswith("node_modules/") for n in names(pkg))
    assert "package-lock.json" not in names(pkg)
    manifest = json.loads(zipfile.ZipFile(pkg.path).read("package.json"))
    assert "aws-lambda-ric" not in manifest.get("dependencies", {})
    assert pkg.handler == "index.handler"


def test_java_keeps_the_functions_jars_but_not_the_clients():
    pkg = package(built("java"), "x86_64", "java21")
    jars = [n.removeprefix("lib/") for n in names(pkg)]
    assert any(j.startswith("coldbench-function-") for j in jars)
    assert any(j.startswith("aws-lambda-java-core-") for j in jars)
    for client_only in ("aws-lambda-java-runtime-interface-client", "aws-lambda-java-serialization",
                        "utils-lite"):
        assert not any(j.startswith(client_only) for j in jars), jars
    assert pkg.handler == "coldbench.Handler::handleRequest"


@pytest.mark.parametrize("arch, machine", [("x86_64", 62), ("arm64", 183)])
def test_go_is_an_executable_bootstrap_for_the_architecture(arch, machine, tmp_path):
    pkg = package(built("go"), arch, "provided.al2023")
    assert names(pkg) == ["bootstrap"]
    with zipfile.ZipFile(pkg.path) as archive:
        info = archive.getinfo("bootstrap")
        assert stat.S_IMODE(info.external_attr >> 16) == 0o755
        binary = archive.read("bootstrap")
    assert binary[:4] == b"\x7fELF" and int.from_bytes(binary[18:20], "little") == machine


def test_rust_for_another_architecture_needs_its_target():
    problem = rust_target_missing("arm64")
    if problem is None:
        pkg = package(built("rust"), "arm64", "provided.al2023")
        assert names(pkg) == ["bootstrap"]
        return
    with pytest.raises(MissingToolchain) as raised:
        package(built("rust"), "arm64", "provided.al2023")
    message = str(raised.value)
    assert "rust: cannot build for arm64" in message
    assert ("rustup target add aarch64-unknown-linux-gnu" in message
            or "no linker for aarch64-unknown-linux-gnu" in message)


def test_a_bootstrap_is_checked_for_architecture_and_glibc(tmp_path):
    def elf(machine, *strings):
        header = b"\x7fELF\x02\x01\x01" + bytes(11) + machine.to_bytes(2, "little")
        return header + bytes(40) + b"\0".join(strings)

    ok = tmp_path / "ok"
    ok.write_bytes(elf(62, b"GLIBC_2.2.5", b"GLIBC_2.34"))
    check_bootstrap(ok, "x86_64")
    with pytest.raises(BuildError, match="not built for arm64"):
        check_bootstrap(ok, "arm64")
    newer = tmp_path / "newer"
    newer.write_bytes(elf(62, b"GLIBC_2.34", b"GLIBC_2.39"))
    with pytest.raises(BuildError, match="needs glibc 2.39, but provided.al2023 has 2.34"):
        check_bootstrap(newer, "x86_64")
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(BuildError, match="not a Linux executable"):
        check_bootstrap(script, "x86_64")


def test_zips_are_reproducible(tmp_path):
    for copy in ("a", "b"):
        root = tmp_path / copy
        (root / "lib").mkdir(parents=True)
        (root / "app.py").write_text("print(1)\n")
        (root / "lib" / "x.txt").write_text("x")
        (root / "run").write_text("#!/bin/sh\n")
        (root / "run").chmod(0o755)
        write_zip(root, tmp_path / f"{copy}.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_architectures_are_checked():
    assert parse_architectures("arm64, x86_64,arm64") == ["arm64", "x86_64"]
    with pytest.raises(UsageError, match="unknown architecture 'mips'"):
        parse_architectures("mips")


def test_a_runtime_that_says_nothing_of_lambda_is_not_packaged(tmp_path):
    class Unpackaged(Runtime):
        name, default_handler, lambda_runtime = "unpackaged", "main", "provided.al2023"

        def toolchain_version(self):
            return "none"

        def build(self, source, out):
            pass

        def launch(self, task_root, handler, memory_mb):
            return Launch([str(task_root / "bootstrap")])

    artifact = Artifact(Function("f", Unpackaged(), tmp_path, "main"), tmp_path, "digest", "none")
    with pytest.raises(UsageError, match="cannot package unpackaged functions"):
        package(artifact, "x86_64", "provided.al2023")
