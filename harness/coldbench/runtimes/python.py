"""Python, through AWS's runtime interface client ``awslambdaric``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from coldbench import toolchains
from coldbench.errors import BuildError, UsageError
from coldbench.model import Artifact
from coldbench.model.options import DEFAULT_PYTHON_BYTECODE, PYTHON_BYTECODES, RunOptions
from coldbench.runtimes.base import (ImageRecipe, LambdaImage, Launch, Package, Runtime,
                                     join_paths, package_of, run_tool)
from coldbench.tools import copy_sources

# Pinned: the client is part of what is measured.
AWSLAMBDARIC = "awslambdaric==4.2.2"
# What the runtime runs under -S: what Lambda's Python gets from its site module that
# matters to a function, a `sitecustomize` on its path imported first (OpenTelemetry's
# auto-instrumentation starts so, from the folder its exec wrapper puts on PYTHONPATH),
# then the client as `python -m awslambdaric HANDLER` runs it; one line, as a wrapper
# script may hand its arguments on one per line.
SITE_CUSTOMIZE_THEN_CLIENT = (
    r"import runpy; exec('try:\n import sitecustomize\nexcept ImportError:\n pass'); "
    r"runpy.run_module('awslambdaric', run_name='__main__', alter_sys=True)")
# awslambdaric and its dependencies (their distribution names, normalised by pip)
CLIENT_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot_restore_py")
_PIP_PLATFORM = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
# The date the zips of SAM (samcli/lib/package/utils.py, make_zip_with_permissions), the
# CDK (cdk-assets, zipDirectory) and the Serverless Framework give every file: the earliest
# a zip can hold, 1980-01-01 00:00 (docs/fidelity.md, section 3b).
ZIP_EPOCH = 315532800
# The client's files in the image (the docker target), each distribution's package or
# module (and its .dist-info): compiled there in every mode, as Lambda's runtime brings
# them (its /var/runtime)
_CLIENT_PATHS = " ".join(f"{{task_root}}/{name}*" for name in CLIENT_DISTRIBUTIONS)


def deliver_bytecode(task_root: Path, mode: str, kept: list[Path]) -> None:
    """Leave the task root's bytecode as a deployment tool delivers it to Lambda, but for
    ``kept`` (the runtime client's files, which come with Lambda's runtime): "valid", as
    compiled; "stale", every .py dated ZIP_EPOCH, as it is unpacked from the tools' zips,
    so that the .pyc made beside it (which records the source's date and size, PEP 552's
    default) no longer matches it and Python compiles the source at every import (and
    cannot keep the result: the task root is read-only); "none", no .pyc at all."""
    if mode == "valid":
        return
    kept = {path.resolve() for path in kept}
    for folder, dirs, names in os.walk(task_root):
        here = Path(folder).resolve()
        if here in kept:
            dirs[:] = []
            continue
        for name in names:
            path = here / name
            if path in kept:
                continue
            if mode == "stale" and name.endswith(".py"):
                os.utime(path, (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)
            elif mode == "none" and name.endswith(".pyc") and here.name == "__pycache__":
                path.unlink()


def same_minor_version(toolchain: str, found_version: str) -> None:
    """Refuse an image whose Python is not the one the task root was built for."""
    built_for = re.search(r"(\d+\.\d+)", toolchain)
    found = re.search(r"(\d+\.\d+)", found_version)
    if built_for and found and built_for[1] != found[1]:
        raise BuildError(
            f"python{built_for[1]}: the task root was built for Python {built_for[1]} (its "
            f"runtime interface client has compiled parts) but the local image's Debian has "
            f"Python {found[1]}: measure this version on the local target, or set "
            f"COLDBENCH_DEBIAN_SUITE to a Debian release whose python3 is {built_for[1]} "
            "(trixie: 3.13)")


@cache
def _version_line(python: str) -> str:
    """What the interpreter says of its version ("Python 3.12.1")."""
    out = subprocess.run([python, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip() or out.stderr.strip()


@cache
def _installation(python: str) -> list[Path]:
    """The interpreter's program, its standard library and its shared library, as it
    reports them."""
    out = subprocess.run([python, "-S", "-c", "import sys, sysconfig; print(sys.executable); "
                          "print(sysconfig.get_paths()['stdlib']); "
                          "print(sysconfig.get_config_var('LIBDIR') or ''); "
                          "print(sysconfig.get_config_var('LDLIBRARY') or '')"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    executable, stdlib, libdir, library = (out + ["", "", "", ""])[:4]
    found = [Path(executable).resolve(), Path(stdlib)]
    if libdir and library and (Path(libdir) / library).exists():
        found.append((Path(libdir) / library).resolve())
    return found


class Python(Runtime):
    name = "python"
    default_handler = "app.handler"
    documented_as = "Python 3.12"
    # `python` is the version the documented row names; each version runs on a local
    # interpreter of that version (``coldbench.toolchains.python``: pyenv's builds here)
    lambda_runtime = "python3.12"
    lambda_runtimes = ("python3.12", "python3.13", "python3.14")
    probe = "coldbench.profile.probes.python"
    aws_init_row = "python3.12"
    build_version = "2"
    # how the function's own and its dependencies' bytecode arrives (``deliver_bytecode``)
    bytecode = DEFAULT_PYTHON_BYTECODE

    @property
    def version(self) -> str:
        """The major.minor of Lambda's identifier ("3.12"), its interpreter's."""
        return self.lambda_runtime.removeprefix("python")

    def with_bytecode(self, mode: str) -> "Python":
        """This runtime, building with its functions' bytecode delivered as ``mode`` (one of
        PYTHON_BYTECODES); the same name in results."""
        if mode not in PYTHON_BYTECODES:
            raise UsageError(f"--python-bytecode {mode}: choose {', '.join(PYTHON_BYTECODES)}")
        return self if mode == self.bytecode else self._copy_with(bytecode=mode)

    def building_for(self, options: RunOptions) -> "Python":
        return self.with_bytecode(options.python_bytecode)

    def build_settings(self) -> dict[str, str]:
        return {"python_bytecode": self.bytecode}

    @property
    def image(self) -> ImageRecipe:
        """How the docker target makes its image. Local images: this version's interpreter
        as it is here, a build of its own folder (pyenv's) copied in at the same path, or
        Debian's python3 for a system Python, which must then be the same major.minor
        (checked). The task root's modules are compiled once in the image, as Lambda's
        runtime ships them: otherwise every cold start of a read-only /var/task would
        compile them again. Unless the function's bytecode is to arrive valid, only the
        runtime client's: the image gets the task root without its bytecode, so there
        "stale" arrives as "none" (``deliver_bytecode``)."""
        version = self.version
        return ImageRecipe(aws_base=f"public.ecr.aws/lambda/python:{version}",
                           executable="/usr/bin/python3", version="{executable} --version 2>&1",
                           packages=lambda toolchain: () if self._own_folder() else ("python3",),
                           host_tree=self._tree,
                           origin=(f"this machine's Python {version}" if self._own_folder()
                                   else "Debian's package python3"),
                           finish=("{executable} -m compileall -q "
                                   f"{'{task_root}' if self.bytecode == 'valid' else _CLIENT_PATHS}"
                                   " >/dev/null"),
                           check=same_minor_version)

    def _tree(self) -> tuple[Path, Path] | None:
        folder = self._own_folder()
        return (folder, _installation(self.interpreter())[0]) if folder else None

    def _own_folder(self) -> Path | None:
        """The folder the interpreter is installed in when it is a build of its own (not
        the system's /usr)."""
        prefix = Path(_installation(self.interpreter())[1]).parents[1]    # .../lib/python3.x
        return prefix if prefix != Path("/usr") and prefix != Path("/") else None

    def interpreter(self) -> str:
        """The Python of this runtime's version (MissingToolchain saying how to give it)."""
        return toolchains.python(self.lambda_runtime)

    # ReadsPackages (`coldbench mitigate`): top-level modules, grouped by distribution
    def task_root_packages(self, artifact) -> list[Package]:
        return python_packages(artifact)

    def loaded_packages(self, names, handler: str) -> set[str]:
        """The top-level modules of what was loaded, and the handler's own."""
        return {name.split(".")[0] for name in names} | {handler.split(".")[0].split("/")[0]}

    def toolchain_version(self) -> str:
        return _version_line(self.interpreter())

    def build(self, source: Path, out: Path) -> None:
        # the client and the function's requirements for this version's interpreter (the
        # toolchain's version is part of the build's cache key)
        python = self.interpreter()
        shutil.copytree(source, out, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*self.ignored_dirs))
        requirements = [AWSLAMBDARIC]
        argv = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--target", str(out), *requirements]
        if (source / "requirements.txt").is_file():
            argv += ["-r", str(source / "requirements.txt")]
        self.run_tool(argv, cwd=out)
        # Compiled now: otherwise the first environment after a build would compile them
        # inside its Init Duration and every later one would not. Then the function's own
        # and its dependencies' bytecode made as its deployment tool delivers it
        # (--python-bytecode); the client's stays valid, as Lambda's runtime brings it.
        self.run_tool([python, "-m", "compileall", "-q", str(out)], cwd=out)
        deliver_bytecode(out, self.bytecode, self.runtime_files(out))

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        # As Lambda's python bootstrap does: the task root on the path, the client as main.
        # -S: none of the site-packages of the interpreter that runs coldbench (their .pth
        # start-up hooks cost ~25 ms here); as on Lambda, the standard library and the task
        # root, and a sitecustomize if one is on the path (SITE_CUSTOMIZE_THEN_CLIENT).
        return Launch(argv=[self.interpreter(), "-S", "-c", SITE_CUSTOMIZE_THEN_CLIENT, handler],
                      env={"PYTHONPATH": str(task_root), "PYTHONUNBUFFERED": "1",
                           # environments share the task root: none may change it
                           "PYTHONDONTWRITEBYTECODE": "1"})

    def layer_variables(self, env: dict[str, str]) -> dict[str, str]:
        # "python" and "python/lib/python3.x/site-packages": on Lambda's sys.path right
        # after the task root, the site-packages first
        return super().layer_variables(env) | {"PYTHONPATH": join_paths(
            env.get("PYTHONPATH"), f"/opt/python/lib/python{self.version}/site-packages",
            "/opt/python")}

    def runtime_files(self, task_root: Path) -> list[Path]:
        # awslambdaric and what it installed with it, by their records; on Lambda they
        # are in /var/runtime
        found = set()
        for record in task_root.glob("*.dist-info/RECORD"):
            if record.parent.name.split("-")[0].lower() not in CLIENT_DISTRIBUTIONS:
                continue
            for line in record.read_text().splitlines():
                path = line.split(",", 1)[0]
                top = path.split("/", 1)[0]
                if top == "__pycache__":      # a top-level module's compiled form
                    found.add(task_root / path)
                elif top not in ("", "..", "bin"):
                    found.add(task_root / top)
        return sorted(p for p in found if p.exists())

    def installation(self) -> list[Path]:
        return _installation(self.interpreter())

    def lambda_package(self, artifact, architecture: str, lambda_runtime: str,
                       out: Path) -> None:
        # The function's own files and its requirements, without awslambdaric (python3.12
        # brings its own); wheels for Lambda's platform, never built here.
        function = artifact.function
        copy_sources(function.source, out, self.ignored_dirs)
        requirements = function.source / "requirements.txt"
        if requirements.is_file() and requirements.read_text().strip():
            version = lambda_runtime.removeprefix("python")
            run_tool("python (packaging for AWS)", [
                self.interpreter(), "-m", "pip", "install", "--quiet",
                "--disable-pip-version-check", "--no-compile", "--target", str(out), "--platform", _PIP_PLATFORM[architecture],
                "--implementation", "cp", "--python-version", version, "--only-binary=:all:",
                "-r", str(requirements)], cwd=out)

    def lambda_image(self, lambda_runtime: str) -> LambdaImage:
        # python3.13 -> AWS's python:3.13, whose /var/runtime brings awslambdaric
        return LambdaImage(f"public.ecr.aws/lambda/python:{lambda_runtime.removeprefix('python')}")


# -- the packages of a task root (ReadsPackages) -------------------------------------------

def _python_module(path: Path) -> str | None:
    """The top-level module a task root entry is imported as, or None if it is none."""
    if path.is_dir():
        importable = path.name.isidentifier() and any(
            name.endswith((".py", ".so")) for _, _, names in os.walk(path) for name in names)
        return path.name if importable else None
    if path.suffix in (".py", ".so"):
        return path.name.split(".")[0]
    return None


def _distributions(task_root: Path) -> dict[str, Path]:
    """Top-level module -> the .dist-info folder of the distribution that installed it."""
    owners = {}
    for info in task_root.glob("*.dist-info"):
        top_level = info / "top_level.txt"
        if top_level.is_file():
            tops = top_level.read_text().split()
        else:
            record = info / "RECORD"
            lines = record.read_text().splitlines() if record.is_file() else []
            tops = [line.split(",", 1)[0].split("/", 1)[0].split(".")[0] for line in lines]
        for top in tops:
            if top and top.isidentifier() and top != "__pycache__":
                owners.setdefault(top, info)
    return owners


def python_packages(artifact: Artifact) -> list[Package]:
    root = artifact.task_root
    client = set(artifact.function.runtime.runtime_files(root))
    owners = _distributions(root)
    groups: dict[str, tuple[set[str], set[Path]]] = {}
    for entry in sorted(root.iterdir()):
        if entry in client or entry.name == "__pycache__":
            continue
        module = _python_module(entry)
        if module is None:
            continue
        if entry.is_dir() and not (entry / "__init__.py").exists() and module not in owners:
            continue        # neither a package nor a distribution's (pip's bin/ of scripts)
        info = owners.get(module)
        name = info.name.split("-")[0] if info is not None else module
        modules, paths = groups.setdefault(name, (set(), set()))
        modules.add(module)
        paths.add(entry)
        if info is not None and info not in client:
            paths.add(info)
    for compiled in sorted((root / "__pycache__").glob("*.pyc")):   # top-level modules'
        for modules, paths in groups.values():
            if compiled.name.split(".")[0] in modules and compiled not in client:
                paths.add(compiled)
    return [package_of(root, name, modules, paths) for name, (modules, paths) in groups.items()]
