"""Rust, through AWS's crate ``lambda_runtime``.

A function is a Cargo package with a binary target that calls ``lambda_runtime::run``.
The binary is taken from the package's ``[[bin]]`` named ``bootstrap``, else its only
binary, else its ``default-run``; it becomes the task root's ``bootstrap``, the executable
Lambda's ``provided.al2023`` runtime starts.

The source folder is never written to: Cargo builds into a target folder in coldbench's
cache, one per workspace folder, kept between builds so that a rebuild after a change
recompiles the changed crate only; ``--locked`` stops Cargo from writing ``Cargo.lock``,
so a package needs one (``cargo generate-lockfile`` makes it).

One target folder per workspace, not one for all: Cargo names a local package's build
by its path relative to the workspace, and takes it as up to date when no file is newer
than the last build, so two folders holding packages of the same name and version
would share one binary (measured: the second folder got the first one's).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from coldbench.errors import BuildError, MissingToolchain
from coldbench.runtimes.base import ImageRecipe, LambdaImage, Launch, Runtime
from coldbench.model.architecture import host_architecture
from coldbench.tools import cache_root, environ, install_bootstrap

HINT = "install Rust (cargo and rustc 1.85 or newer, e.g. with rustup)"
_TRIPLE = {"x86_64": "x86_64-unknown-linux-gnu", "arm64": "aarch64-unknown-linux-gnu"}
_GNU_PREFIX = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}


def target_dir(workspace_root: Path) -> Path:
    """Cargo's target folder for the functions of one workspace folder."""
    key = hashlib.sha256(str(workspace_root.resolve()).encode()).hexdigest()[:16]
    return cache_root() / "cargo-target" / f"{workspace_root.name}-{key}"


def choose_binary(package: dict) -> str:
    """The name of the package's binary target that becomes ``bootstrap``."""
    binaries = [t["name"] for t in package["targets"] if "bin" in t["kind"]]
    if "bootstrap" in binaries:
        return "bootstrap"
    if len(binaries) == 1:
        return binaries[0]
    if package.get("default_run") in binaries:
        return package["default_run"]
    if not binaries:
        raise BuildError(f"rust: package '{package['name']}' has no binary target: "
                         "add src/main.rs or a [[bin]] named bootstrap")
    raise BuildError(f"rust: package '{package['name']}' has binaries "
                     f"{', '.join(binaries)}: name the function's one bootstrap "
                     "([[bin]] name = \"bootstrap\") or set default-run")


def target_missing(architecture: str) -> str | None:
    """Why Rust cannot build for ``architecture`` here, or None if it can."""
    triple = _TRIPLE[architecture]
    try:
        sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True,
                                 text=True, check=True, cwd="/").stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "rustc not found: install Rust (e.g. with rustup)"
    if not (Path(sysroot) / "lib" / "rustlib" / triple / "lib").is_dir():
        return (f"the Rust target {triple} is not installed: run 'rustup target add {triple}'")
    if _linker_env(architecture) is None:
        return (f"no linker for {triple}: install one (on Debian: apt-get install "
                f"gcc-{_GNU_PREFIX[architecture].replace('_', '-')}) or set "
                f"{_linker_variable(triple)}")
    return None


def _linker_variable(triple: str) -> str:
    return f"CARGO_TARGET_{triple.upper().replace('-', '_')}_LINKER"


def _linker_env(architecture: str) -> dict[str, str] | None:
    triple = _TRIPLE[architecture]
    variable = _linker_variable(triple)
    if os.environ.get(variable):
        return {}
    gcc = shutil.which(f"{_GNU_PREFIX[architecture]}-gcc")
    return {variable: gcc} if gcc else None


class Rust(Runtime):
    name = "rust"
    default_handler = "bootstrap"
    documented_as = "Rust / Go"
    lambda_runtime = "provided.al2023"
    aws_init_row = "rust (provided.al2023)"
    image = ImageRecipe(aws_base="public.ecr.aws/lambda/provided:al2023",
                        origin="binary in the task root, linked against the host's glibc")
    build_version = "1"
    ignored_dirs = Runtime.ignored_dirs | {"target"}

    def toolchain_version(self) -> str:
        self.require("cargo", HINT)
        rustc = self.require("rustc", HINT)
        # "rustc 1.95.0 (59807616e 2026-04-14)" -> "rustc 1.95.0". Asked from "/", where
        # no rust-toolchain.toml makes rustup pick another toolchain.
        return " ".join(self.run_tool([rustc, "--version"], cwd=Path("/")).split()[:2])

    def build(self, source: Path, out: Path) -> None:
        cargo = self.require("cargo", HINT)
        manifest = (source / "Cargo.toml").resolve()
        if not manifest.is_file():
            raise BuildError(f"rust: {source} has no Cargo.toml")
        env = dict(os.environ, CARGO_TERM_COLOR="never")

        # --no-deps: reads the manifests without resolving, so no Cargo.lock is written.
        metadata = json.loads(self.run_tool(
            [cargo, "metadata", "--no-deps", "--format-version", "1",
             "--manifest-path", str(manifest)], cwd=source, env=env))
        package = next((p for p in metadata["packages"]
                        if Path(p["manifest_path"]).resolve() == manifest), None)
        if package is None:
            raise BuildError(f"rust: {manifest} is a workspace without a package: "
                             "point coldbench at the function's own package folder")
        binary = choose_binary(package)
        lock = Path(metadata["workspace_root"]) / "Cargo.lock"
        if not lock.is_file():
            raise BuildError(f"rust: no {lock}: run 'cargo generate-lockfile' there "
                             "(coldbench builds with --locked and never writes the source)")

        targets = target_dir(Path(metadata["workspace_root"]))
        targets.mkdir(parents=True, exist_ok=True)
        env["CARGO_TARGET_DIR"] = str(targets)
        # Hold the target folder from the build to the copy, so that a concurrent build
        # of a changed source cannot swap the binary in between.
        with open(targets / ".coldbench.lock", "w") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            stdout = self.run_tool(
                [cargo, "build", "--release", "--locked", "--manifest-path", str(manifest),
                 "--bin", binary, "--message-format", "json-render-diagnostics"],
                cwd=source, env=env)
            executable = None
            for line in stdout.splitlines():
                message = json.loads(line) if line.startswith("{") else {}
                if (message.get("reason") == "compiler-artifact"
                        and message.get("package_id") == package["id"]
                        and message["target"]["name"] == binary
                        and message.get("executable")):
                    executable = message["executable"]
            if executable is None:
                raise BuildError(f"rust: cargo built no executable '{binary}' for {manifest}")
            shutil.copy2(executable, out / "bootstrap")

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        # provided.al2023 starts the task root's bootstrap; _HANDLER is the function's to read.
        return Launch(argv=[str(task_root / "bootstrap")])

    def lambda_package(self, artifact, architecture: str, lambda_runtime: str,
                       out: Path) -> None:
        # One executable named bootstrap at the root. For another architecture Cargo
        # builds again (it reads its target from CARGO_BUILD_TARGET), which needs that
        # target's standard library and a linker for it: checked first.
        if architecture == host_architecture():
            install_bootstrap(artifact.task_root / "bootstrap", architecture, out)
            return
        problem = target_missing(architecture)
        if problem:
            raise MissingToolchain(f"rust: cannot build for {architecture}: {problem}")
        with tempfile.TemporaryDirectory(prefix="coldbench-rust-") as work:
            with environ(CARGO_BUILD_TARGET=_TRIPLE[architecture], **_linker_env(architecture)):
                self.build(artifact.function.source, Path(work))
            install_bootstrap(Path(work) / "bootstrap", architecture, out)

    def lambda_image(self, lambda_runtime: str) -> LambdaImage:
        return LambdaImage.os_only(lambda_runtime)
