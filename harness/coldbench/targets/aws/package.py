"""Deployment packages: one .zip per function, runtime and architecture, laid out the way
Lambda's runtimes expect (Lambda Developer Guide, "Deploy ... functions with .zip file
archives" for Python, Node.js, Java, Go and Rust).

- Python (python3.12+) and Node.js (nodejs20.x+): the function's own files, and its
  dependencies without the local runtime interface client: the managed runtimes bring
  their own. Python dependencies with native code are installed for the target platform
  (``pip --platform manylinux2014_<arch> --only-binary=:all:``).
- Java (java21): the function's jar and its runtime dependencies in ``lib/``, without the
  runtime interface client and what only the client needs.
- Go and Rust (provided.al2023): one executable named ``bootstrap`` at the root of the
  zip, built for the chosen architecture. Go cross-builds anywhere (GOARCH); Rust needs
  the target's standard library and a linker for it, which is checked first.

Zips are reproducible (sorted entries, fixed timestamps), so equal sources give an equal
CodeSha256, and they are cached by content next to the build cache.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
import xml.etree.ElementTree as ElementTree
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coldbench.build import Artifact, cache_root
from coldbench.errors import BuildError, MissingToolchain, UsageError
from coldbench.runtimes import node as node_runtime

ARCHITECTURES = ("x86_64", "arm64")
PACKAGER_VERSION = "1"            # bump when a layout changes, so cached zips are remade
# provided.al2023 runs on Amazon Linux 2023, whose glibc is 2.34: a binary linked against
# newer symbols does not start there.
AL2023_GLIBC = (2, 34)
_ELF_MACHINE = {"x86_64": 62, "arm64": 183}          # EM_X86_64, EM_AARCH64
_GO_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
_RUST_TRIPLE = {"x86_64": "x86_64-unknown-linux-gnu", "arm64": "aarch64-unknown-linux-gnu"}
_GNU_PREFIX = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
_NPM_CPU = {"x86_64": "x64", "arm64": "arm64"}
_PIP_PLATFORM = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# The environment is process-wide: builds that set variables in it take turns.
_ENVIRON_LOCK = threading.Lock()


@dataclass(frozen=True)
class Package:
    """A deployment package ready for CreateFunction."""

    path: Path
    runtime: str              # coldbench's runtime name
    lambda_runtime: str       # Lambda's runtime identifier, e.g. "python3.12"
    architecture: str
    handler: str

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def code_sha256(self) -> str:
        """The zip's SHA-256 in base64, as Lambda reports it (CodeSha256)."""
        return base64.b64encode(hashlib.sha256(self.path.read_bytes()).digest()).decode()


def host_architecture() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64",
            "arm64": "arm64"}.get(machine, machine)


def parse_architectures(text: str) -> list[str]:
    names = [a.strip() for a in text.split(",") if a.strip()]
    for name in names:
        if name not in ARCHITECTURES:
            raise UsageError(f"unknown architecture '{name}': choose from "
                             f"{', '.join(ARCHITECTURES)}")
    if not names:
        raise UsageError("no architecture given: pass --arch x86_64, arm64 or both")
    return list(dict.fromkeys(names))


def package(artifact: Artifact, architecture: str, lambda_runtime: str) -> Package:
    """The deployment package of a built function for one architecture, made now unless
    the cache has it."""
    runtime = artifact.function.runtime.name
    makers = {"python": _python, "node": _node, "java": _java, "go": _go, "rust": _rust}
    if runtime not in makers:
        raise UsageError(f"the AWS target cannot package {runtime} functions yet")
    key = hashlib.sha256(f"{artifact.digest}\0{artifact.toolchain}\0{lambda_runtime}\0"
                         f"{architecture}\0{artifact.function.handler}\0{PACKAGER_VERSION}"
                         .encode()).hexdigest()[:16]
    path = cache_root() / "aws" / runtime / f"{artifact.function.name}-{key}-{architecture}.zip"
    handler = artifact.function.handler
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".packaging-", dir=path.parent) as work:
            staging = Path(work) / "root"
            staging.mkdir()
            makers[runtime](artifact, architecture, lambda_runtime, staging)
            partial = Path(work) / "package.zip"
            write_zip(staging, partial)
            partial.rename(path)              # appears whole or not at all
    return Package(path, runtime, lambda_runtime, architecture, handler)


def write_zip(root: Path, out: Path) -> None:
    """Zip ``root``'s files, sorted, with fixed timestamps; executables stay executable."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def _copy_sources(source: Path, out: Path, ignored: frozenset[str]) -> None:
    shutil.copytree(source, out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(*ignored, "__pycache__", "*.pyc"))


def _run(argv: list[str], cwd: Path, what: str, env: dict | None = None) -> None:
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=1800)
    except FileNotFoundError as exc:
        raise MissingToolchain(f"{what}: {exc.filename} not found") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise BuildError(f"{what}: '{' '.join(argv)}' failed (exit {proc.returncode}):\n{tail}")


# Python -----------------------------------------------------------------------------------

def _python(artifact: Artifact, architecture: str, lambda_runtime: str, out: Path) -> None:
    function = artifact.function
    _copy_sources(function.source, out, function.runtime.ignored_dirs)
    requirements = function.source / "requirements.txt"
    if requirements.is_file() and requirements.read_text().strip():
        version = lambda_runtime.removeprefix("python")
        _run([_pip_python(), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "--no-compile", "--target", str(out), "--platform", _PIP_PLATFORM[architecture],
              "--implementation", "cp", "--python-version", version, "--only-binary=:all:",
              "-r", str(requirements)], cwd=out, what="python (packaging for AWS)")


def _pip_python() -> str:
    """The Python that runs pip for packaging (any will do: it only fetches wheels)."""
    from coldbench.runtimes.python import interpreter
    return interpreter()


# Node.js ----------------------------------------------------------------------------------

def _node(artifact: Artifact, architecture: str, lambda_runtime: str, out: Path) -> None:
    function = artifact.function
    _copy_sources(function.source, out, function.runtime.ignored_dirs)
    manifest_path = out / "package.json"
    if not manifest_path.is_file():
        return
    manifest = json.loads(manifest_path.read_text())
    dependencies = manifest.get("dependencies") or {}
    dependencies.pop(node_runtime.RIC_NAME, None)
    allowed = manifest.get("allowScripts")
    if isinstance(allowed, dict):
        for key in [k for k in allowed if k.split("@")[0] == node_runtime.RIC_NAME
                    or k.startswith(f"{node_runtime.RIC_NAME}@")]:
            del allowed[key]
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    # The lock file pins the client too; npm makes a new one if dependencies remain.
    (out / "package-lock.json").unlink(missing_ok=True)
    if dependencies:
        npm = shutil.which("npm")
        if npm is None:
            raise MissingToolchain(f"node: 'npm' not found: {node_runtime.INSTALL_HINT}")
        _run([npm, "install", "--omit=dev", "--no-audit", "--no-fund", "--os=linux",
              f"--cpu={_NPM_CPU[architecture]}"], cwd=out, what="node (packaging for AWS)")


# Java -------------------------------------------------------------------------------------

_POM_NS = "{http://maven.apache.org/POM/4.0.0}"
_CLIENT_ARTIFACT = "aws-lambda-java-runtime-interface-client"


def _pom_dependencies(pom: bytes) -> tuple[str | None, list[str]]:
    """A POM's artifactId and the artifactIds it needs at run time (compile or runtime
    scope, not optional)."""
    root = ElementTree.fromstring(pom)
    ns = _POM_NS if root.tag.startswith(_POM_NS) else ""
    artifact = root.findtext(f"{ns}artifactId")
    needed = []
    for dep in root.findall(f"{ns}dependencies/{ns}dependency"):
        scope = (dep.findtext(f"{ns}scope") or "compile").strip()
        optional = (dep.findtext(f"{ns}optional") or "false").strip() == "true"
        if scope in ("compile", "runtime") and not optional:
            needed.append(dep.findtext(f"{ns}artifactId"))
    return artifact, needed


def _jar_pom(jar: Path) -> bytes | None:
    with zipfile.ZipFile(jar) as archive:
        poms = [n for n in archive.namelist()
                if n.startswith("META-INF/maven/") and n.endswith("/pom.xml")]
        return archive.read(poms[0]) if len(poms) == 1 else None


def _closure(roots: list[str], graph: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(graph.get(name, []))
    return found


def java_jars(artifact: Artifact) -> list[Path]:
    """The task root's jars less the runtime interface client and the jars only it needs:
    the closure of the function's own dependencies, read from the POMs inside the jars. A
    jar without a POM is known by its file name (``<artifactId>-<version>.jar``)."""
    graph: dict[str, list[str]] = {}
    jar_of: dict[str, Path] = {}
    for jar in sorted((artifact.task_root / "lib").glob("*.jar")):
        pom = _jar_pom(jar)
        if pom is not None:
            name, needed = _pom_dependencies(pom)
            graph[name] = needed
        else:
            match = re.fullmatch(r"(.+?)-\d[^/]*\.jar", jar.name)
            name = match.group(1) if match else jar.name
        jar_of[name] = jar
    own, roots = _pom_dependencies((artifact.function.source / "pom.xml").read_bytes())
    keep = {own} | _closure([r for r in roots if r != _CLIENT_ARTIFACT], graph)
    client_only = _closure([_CLIENT_ARTIFACT], graph) - keep
    return sorted(jar for name, jar in jar_of.items() if name not in client_only)


def _java(artifact: Artifact, architecture: str, lambda_runtime: str, out: Path) -> None:
    (out / "lib").mkdir()
    jars = java_jars(artifact)
    if not jars:
        raise BuildError(f"java: no jar to deploy in {artifact.task_root}/lib")
    for jar in jars:
        shutil.copy2(jar, out / "lib" / jar.name)


# Go and Rust ------------------------------------------------------------------------------

@contextmanager
def _environ(**variables: str):
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


def _go(artifact: Artifact, architecture: str, lambda_runtime: str, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="coldbench-go-") as work:
        with _environ(GOARCH=_GO_ARCH[architecture]):
            artifact.function.runtime.build(artifact.function.source, Path(work))
        _install_bootstrap(Path(work) / "bootstrap", architecture, out)


def rust_target_missing(architecture: str) -> str | None:
    """Why Rust cannot build for ``architecture`` here, or None if it can."""
    triple = _RUST_TRIPLE[architecture]
    try:
        sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True,
                                 text=True, check=True, cwd="/").stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "rustc not found: install Rust (e.g. with rustup)"
    if not (Path(sysroot) / "lib" / "rustlib" / triple / "lib").is_dir():
        return (f"the Rust target {triple} is not installed: run 'rustup target add {triple}'")
    if _rust_linker_env(architecture) is None:
        return (f"no linker for {triple}: install one (on Debian: apt-get install "
                f"gcc-{_GNU_PREFIX[architecture].replace('_', '-')}) or set "
                f"{_linker_variable(triple)}")
    return None


def _linker_variable(triple: str) -> str:
    return f"CARGO_TARGET_{triple.upper().replace('-', '_')}_LINKER"


def _rust_linker_env(architecture: str) -> dict[str, str] | None:
    triple = _RUST_TRIPLE[architecture]
    variable = _linker_variable(triple)
    if os.environ.get(variable):
        return {}
    gcc = shutil.which(f"{_GNU_PREFIX[architecture]}-gcc")
    return {variable: gcc} if gcc else None


def _rust(artifact: Artifact, architecture: str, lambda_runtime: str, out: Path) -> None:
    if architecture == host_architecture():
        _install_bootstrap(artifact.task_root / "bootstrap", architecture, out)
        return
    problem = rust_target_missing(architecture)
    if problem:
        raise MissingToolchain(f"rust: cannot build for {architecture}: {problem}")
    with tempfile.TemporaryDirectory(prefix="coldbench-rust-") as work:
        with _environ(CARGO_BUILD_TARGET=_RUST_TRIPLE[architecture],
                      **_rust_linker_env(architecture)):
            artifact.function.runtime.build(artifact.function.source, Path(work))
        _install_bootstrap(Path(work) / "bootstrap", architecture, out)


def _install_bootstrap(binary: Path, architecture: str, out: Path) -> None:
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

