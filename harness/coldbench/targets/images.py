"""Container images for the docker target, cached by a content hash of what went into them
and labelled as coldbench's.

Two kinds (``--images``):

- ``local``: built on this machine, without a container registry, in layers:
  1. ``coldbench/base``: a minimal Debian root filesystem made with debootstrap from
     Debian's packages and brought in with ``docker import``;
  2. ``coldbench/provided``: AWS's emulator (built from its Go module, ``coldbench.environments.rie``)
     at /usr/local/bin/aws-lambda-rie and an entrypoint that runs it, as in AWS's images;
     Go and Rust functions run on this layer, as on AWS's ``provided`` images;
  3. ``coldbench/<runtime>``: the language runtime;
  4. ``coldbench/fn-<runtime>-<function>``: the function's task root at /var/task.
- ``aws``: AWS's base images for Lambda (Lambda's own OS and runtime builds, the emulator
  as entrypoint), pulled, with the task root copied in.

What goes into a runtime's layer, and which of AWS's images stands for it, is the
runtime's own recipe (``Runtime.image``, a ``coldbench.runtimes.ImageRecipe``). A task root
is built on the host for the host's runtimes (Python packages with compiled parts for the
host's Python, a Node.js addon for the host's Node.js ABI, classes for the host's JDK, a
Rust binary linked against the host's glibc), so the base is the same Debian release as
the host when the host runs Debian (same glibc; ``COLDBENCH_DEBIAN_SUITE`` chooses
another), and each recipe installs the runtime its task root was built for. The versions
found are recorded in the image's labels and in the results.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from coldbench.environments import cgroups, rie
from coldbench.build import Artifact, cache_root
from coldbench.errors import BuildError, EnvironmentUnavailable, MissingToolchain
from coldbench.model import host_architecture

KINDS = ("aws", "local")
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
ENTRYPOINT = "/lambda-entrypoint.sh"
LABEL = "coldbench.image"               # on every image coldbench makes: its layer
BUILD_CONTAINER_PREFIX = "coldbench-build-"


# how to get an engine, said wherever one is missing
START_HINT = ("start one with scripts/start-docker (or 'dockerd &' as root), or point "
              "DOCKER_HOST at a running engine")


def engine():
    """A client of the Docker engine, or EnvironmentUnavailable saying how to start one."""
    try:
        import docker
    except ImportError:
        raise EnvironmentUnavailable("the docker target needs the Docker SDK for Python: "
                                     "pip install 'coldbench[docker]'") from None
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        if "Permission denied" in str(exc):
            raise EnvironmentUnavailable(f"the Docker engine at {where} refused access "
                                         "(permission denied): run as root") from None
        if not os.environ.get("DOCKER_HOST") and shutil.which("dockerd") is None:
            raise EnvironmentUnavailable("no Docker engine is installed: install one "
                                         "(apt-get install docker.io), then start it with "
                                         "scripts/start-docker") from None
        raise EnvironmentUnavailable(f"no Docker engine answers at {where}: "
                                     f"{START_HINT}") from None
    return client


def build_container_prefix() -> str:
    """How the containers that build images are named in this scope (see
    ``targets.docker.SCOPE_LABEL``)."""
    return f"{BUILD_CONTAINER_PREFIX}{cgroups.PARENT}-"
# bump when a layer's recipe changes, so cached images are built again
RECIPE_VERSION = "2"

# As AWS's images do (their /lambda-entrypoint.sh): without AWS_LAMBDA_RUNTIME_API the
# emulator plays the Lambda service, with it the runtime talks to that address directly.
# The arguments are the runtime's command line (from coldbench.runtimes, since its heap
# flags depend on the memory size) where AWS's script takes a handler. With the emulator,
# the emulator is process 1 and the runtime its child; without it, the shell stays
# process 1 and the runtime its child, as on Lambda, where the runtime is not the
# sandbox's init (the kernel ignores the signals process 1 sends itself).
ENTRYPOINT_SCRIPT = f"""#!/bin/sh
if [ -z "${{AWS_LAMBDA_RUNTIME_API}}" ]; then
  exec {rie.IN_IMAGE} "$@"
fi
"$@"
""".encode()

PROBE = ('. /etc/os-release; echo "coldbench-os: $PRETTY_NAME"; '
         'echo "coldbench-libc: $(ldd --version 2>/dev/null | head -n 1)"; '
         'echo "coldbench-runtime: $({version})"')


@dataclass(frozen=True)
class Image:
    """A function's image, ready to run, and what is known about it."""

    ref: str
    id: str
    kind: str                         # "local" or "aws"
    labels: dict
    entrypoint: tuple[str, ...]       # the image's own

    @property
    def executable(self) -> str | None:
        return self.labels.get("coldbench.executable") or None

    def describe(self) -> dict:
        return {"image": self.ref, "id": self.id, "kind": self.kind,
                "base": self.labels.get("coldbench.base", ""),
                "os": self.labels.get("coldbench.os", ""),
                "libc": self.labels.get("coldbench.libc", ""),
                "runtime_version": self.labels.get("coldbench.runtime", ""),
                "runtime_origin": self.labels.get("coldbench.runtime_origin", ""),
                "rie": self.labels.get("coldbench.rie", "")}


# building ------------------------------------------------------------------------------

def _key(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


WHOLE = -1       # the mode of a folder put into an image as it is (a runtime's own)


def _tar(entries: list[tuple[str, Path | bytes, int]]) -> bytes:
    """A tar archive of (name in archive, file, folder or content, mode)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, source, mode in entries:
            if isinstance(source, bytes):
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(source), mode
                archive.addfile(info, io.BytesIO(source))
            elif mode == WHOLE:           # a runtime's own folder, its bytecode too
                archive.add(str(source), arcname=name)
            else:                         # bytecode a runtime wrote is not the function's
                archive.add(str(source), arcname=name, filter=lambda member: None if
                            "__pycache__" in member.name.split("/") else member)
    return buffer.getvalue()


def _repository_name(text: str) -> str:
    """A string as a Docker repository name component (lowercase, [a-z0-9._-])."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._") or "function"


def debian_suite() -> str:
    """The Debian release of the local images: COLDBENCH_DEBIAN_SUITE, else the host's
    when the host runs Debian, else Debian 12."""
    chosen = os.environ.get("COLDBENCH_DEBIAN_SUITE")
    if chosen:
        return chosen
    try:
        release = dict(line.split("=", 1) for line in
                       Path("/etc/os-release").read_text().splitlines() if "=" in line)
    except OSError:
        release = {}
    if release.get("ID") == "debian" and release.get("VERSION_CODENAME"):
        return release["VERSION_CODENAME"].strip('"')
    return "bookworm"


def debian_mirror(suite: str) -> str | None:
    """The Debian mirror debootstrap downloads from: COLDBENCH_DEBIAN_MIRROR, else the one
    this machine's apt sources use for ``suite``, else None (debootstrap's own default)."""
    chosen = os.environ.get("COLDBENCH_DEBIAN_MIRROR")
    if chosen:
        return chosen
    for uri, suites in _apt_sources():
        if suite in suites:
            return uri
    return None


def _apt_sources() -> list[tuple[str, list[str]]]:
    """(URI, suites) of the machine's apt sources, one-line and deb822 formats."""
    found = []
    folder = Path("/etc/apt/sources.list.d")
    one_line = [Path("/etc/apt/sources.list"), *sorted(folder.glob("*.list"))]
    for path in one_line:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                found.append((words[1], [words[2]]))
    for path in sorted(folder.glob("*.sources")):
        try:
            stanzas = path.read_text().split("\n\n")
        except OSError:
            continue
        for stanza in stanzas:
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    name, value = line.split(":", 1)
                    fields[name.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                for uri in fields.get("uris", []):
                    found.append((uri, fields.get("suites", [])))
    return found


class Builder:
    """Finds or builds the images a run needs, on one engine. ``status`` is told what is
    being built (it takes minutes the first time)."""

    def __init__(self, client, run_id: str, status: Callable[[str], None]):
        self.client = client
        self.run_id = run_id
        self.status = status
        self._builds = 0
        self._lock_path = cache_root() / "images" / ".lock"

    # finding ---------------------------------------------------------------------------

    def _cached(self, ref: str):
        import docker.errors
        try:
            return self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None

    def _locked(self):
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        guard = open(self._lock_path, "w")
        fcntl.flock(guard, fcntl.LOCK_EX)      # another run may be building the same image
        return guard

    # layers ----------------------------------------------------------------------------

    def base(self):
        """The Debian root filesystem, imported."""
        suite = debian_suite()
        machine = host_architecture()
        arch = {"x86_64": "amd64"}.get(machine, machine)       # Debian's names
        ref = f"coldbench/base:{suite}-{_key(RECIPE_VERSION, suite, arch, 'minbase')}"
        image = self._cached(ref)
        if image is not None:
            return image
        with self._locked():
            return self._cached(ref) or self._debootstrap(ref, suite)

    def _debootstrap(self, ref: str, suite: str):
        if shutil.which("debootstrap") is None:
            raise MissingToolchain("local images are made with debootstrap: apt-get install "
                                   "debootstrap (or use --images aws)")
        if os.geteuid() != 0:
            raise EnvironmentUnavailable("debootstrap needs root to make the base image: "
                                         "run as root, or use --images aws")
        mirror = debian_mirror(suite)
        self.status(f"building image {ref}: debootstrap {suite} (about a minute)")
        work = Path(tempfile.mkdtemp(prefix="coldbench-rootfs-"))
        try:
            root = work / "root"
            packages = cache_root() / "images" / "debootstrap-packages"
            packages.mkdir(parents=True, exist_ok=True)
            argv = ["debootstrap", "--variant=minbase", f"--cache-dir={packages}", suite,
                    str(root), *([mirror] if mirror else [])]
            proc = subprocess.run(argv, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=1800)
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise BuildError(f"debootstrap {suite} failed (exit {proc.returncode}); set "
                                 f"COLDBENCH_DEBIAN_MIRROR to a reachable mirror:\n{tail}")
            # leave out what only the download needed
            for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (root / folder).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            archive = work / "root.tar"
            subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."],
                           check=True, capture_output=True)
            repository, tag = ref.split(":")
            self.client.api.import_image_from_file(
                str(archive), repository=repository, tag=tag,
                changes=[f"LABEL {LABEL}=base coldbench.base=debian-{suite}",
                         "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        finally:
            shutil.rmtree(work, ignore_errors=True)
        image = self._cached(ref)
        if image is None:
            raise BuildError(f"docker import made no image {ref}")
        return image

    def provided(self):
        """The base with AWS's emulator and the entrypoint that runs it."""
        base = self.base()
        binary = rie.executable()
        ref = "coldbench/provided:" + _key(RECIPE_VERSION, base.id, _file_digest(binary),
                                           ENTRYPOINT_SCRIPT)
        image = self._cached(ref)
        if image is not None:
            return image
        self.status(f"building image {ref}: the emulator {rie.VERSION}")
        files = [(rie.IN_IMAGE.lstrip("/"), binary, 0o755),
                 (ENTRYPOINT.lstrip("/"), ENTRYPOINT_SCRIPT, 0o755)]
        return self._layer(base, ref, files=files, probe="true", labels={
            LABEL: "provided", "coldbench.rie": f"{rie.PACKAGE}@{rie.VERSION}"})

    def runtime(self, artifact: Artifact):
        """The provided layer with the language runtime the task root was built for (the
        runtime's recipe); the provided layer itself for a runtime that needs nothing."""
        name = artifact.function.runtime.name
        recipe = artifact.function.runtime.image
        provided = self.provided()
        packages = recipe.debian_packages(artifact.toolchain)
        binary = recipe.host_binary() if recipe.host_binary else None
        tree = recipe.host_tree() if recipe.host_tree else None
        if not packages and binary is None and tree is None:
            return provided
        if binary is not None and recipe.executable is None:
            raise BuildError(f"{name}: the image recipe copies a binary in but names no "
                             "executable to copy it to")
        executable = str(tree[1]) if tree else recipe.executable
        version = recipe.version.format(executable=executable)
        ref = f"coldbench/{_repository_name(name)}:" + _key(
            RECIPE_VERSION, provided.id, packages, _file_digest(binary) if binary else "",
            _file_digest(tree[1]) if tree else "", f"{tree[0]} reachable" if tree else "",
            executable, version)
        image = self._cached(ref)
        if image is None:
            self.status(f"building image {ref}: {', '.join(packages) or binary or tree[0]}")
            script = ""
            if packages:
                script = ("export DEBIAN_FRONTEND=noninteractive && apt-get update -qq && "
                          "apt-get install -y -qq --no-install-recommends "
                          f"{' '.join(packages)} >/dev/null && apt-get clean && "
                          "rm -rf /var/lib/apt/lists/*")
            files = [(recipe.executable.lstrip("/"), binary, 0o755)] if binary else []
            if tree:
                files.append((str(tree[0]).lstrip("/"), tree[0], WHOLE))
                # the runtime's user must reach it where it lies (under /root for pyenv's)
                folders = " ".join(str(f) for f in tree[0].parents if f != Path("/"))
                script = " && ".join(s for s in (script, f"chmod o+x {folders}") if s)
            try:
                image = self._layer(provided, ref, script=script, files=files,
                                    probe=version, network=bool(packages), labels={
                                        LABEL: "runtime",
                                        "coldbench.executable": executable or "",
                                        "coldbench.runtime_origin": recipe.origin})
            except BuildError as exc:
                if packages and "Unable to locate package" in str(exc):
                    # a version the image's Debian release does not package (Debian 12:
                    # OpenJDK 17 only, Python 3.11; Debian 13: OpenJDK 21 and 25, 3.13)
                    raise BuildError(
                        f"{name}: the docker target's local images take the runtime from "
                        f"Debian's packages, and Debian {debian_suite()} has no "
                        f"{' '.join(packages)}: measure this version on the local target, "
                        "or set COLDBENCH_DEBIAN_SUITE to a Debian release that packages "
                        "it") from None
                raise
        if recipe.check is not None:
            recipe.check(artifact.toolchain, image.labels.get("coldbench.runtime", ""))
        return image

    def function(self, artifact: Artifact, rebuild: bool = False) -> Image:
        """The function's image on local layers."""
        parent = self.runtime(artifact)
        return self._function_layer(parent, artifact, "local", rebuild)

    def aws_function(self, artifact: Artifact, rebuild: bool = False) -> Image:
        """The function's image on AWS's base image; raises ImageUnavailable when the base
        image is neither here nor can be pulled."""
        name = artifact.function.runtime.name
        reference = artifact.function.runtime.image.aws_base
        if reference is None:
            raise ImageUnavailable(f"AWS publishes no base image for '{name}'")
        return self._function_layer(self.aws_base(reference), artifact, "aws", rebuild)

    def aws_base(self, reference: str):
        """One of AWS's base images, here or pulled now; ImageUnavailable when it can be
        neither found nor pulled."""
        import docker.errors
        base = self._cached(reference)
        if base is None:
            self.status(f"pulling {reference}")
            repository, tag = reference.rsplit(":", 1)
            try:
                base = self.client.images.pull(repository, tag=tag)
            except (docker.errors.APIError, OSError) as exc:
                raise ImageUnavailable(f"cannot pull {reference}: {reason(exc)}") from None
        return base

    def layer(self, parent, ref: str, **settings):
        """An image on ``parent`` (``_layer``'s settings), for other targets' images: the
        AWS target's images for Lambda (``coldbench.targets.aws.images``)."""
        return self._layer(parent, ref, **settings)

    def _function_layer(self, parent, artifact: Artifact, kind: str, rebuild: bool) -> Image:
        function = artifact.function
        runtime = function.runtime.name
        recipe = function.runtime.image
        ref = (f"coldbench/fn-{_repository_name(runtime)}-{_repository_name(function.name)}:"
               + _key(RECIPE_VERSION, kind, parent.id, artifact.task_root.name,
                      function.handler))
        image = None if rebuild else self._cached(ref)
        if image is None:
            self.status(f"building image {ref}: {function.name} ({runtime})")
            files = [(TASK_ROOT.lstrip("/"), artifact.task_root, 0)]
            labels = {LABEL: "function", "coldbench.function": function.name,
                      "coldbench.task_root": artifact.task_root.name}
            if kind == "local":
                labels["coldbench.runtime_origin"] = recipe.origin
            settings = {}
            if kind == "aws":
                # AWS's entrypoint takes the handler; provided runtimes start the bootstrap
                # from the runtime folder, as AWS documents for provided.al2023
                if function.runtime.lambda_runtime.startswith("provided"):
                    files.append((f"{RUNTIME_DIR.lstrip('/')}/bootstrap",
                                  artifact.task_root / "bootstrap", 0))
                labels |= {"coldbench.base": parent.tags[0] if parent.tags else parent.id,
                           "coldbench.runtime_origin": "AWS's base image"}
                settings = {"entrypoint": parent.attrs["Config"].get("Entrypoint") or [],
                            "cmd": [function.handler], "env": []}
            # AWS's images have the runtime's program on PATH
            probe = (recipe.version.format(executable=Path(recipe.executable or "true").name)
                     if kind == "aws" else None)
            script = (recipe.finish.format(task_root=TASK_ROOT, executable=(
                (parent.labels or {}).get("coldbench.executable") or recipe.executable))
                      if kind == "local" else "")
            image = self._layer(parent, ref, files=files, labels=labels, probe=probe,
                                script=script, replace=rebuild, **settings)
        return Image(ref=ref, id=image.id, kind=kind, labels=dict(image.labels or {}),
                     entrypoint=tuple(image.attrs["Config"].get("Entrypoint") or ()))

    def _layer(self, parent, ref: str, files=(), script: str = "", probe: str | None = None,
               network: bool = False, labels: dict | None = None, replace: bool = False,
               entrypoint: list[str] = (ENTRYPOINT,), cmd: list[str] = (),
               env: list[str] = ("LANG=C.UTF-8", "TZ=:UTC", f"LAMBDA_TASK_ROOT={TASK_ROOT}",
                                 f"LAMBDA_RUNTIME_DIR={RUNTIME_DIR}")):
        """A new image: ``parent`` with ``files`` copied in and ``script`` run (with the
        host's network if ``network``: Debian's packages are downloaded), committed as
        ``ref`` with ``entrypoint``, ``cmd`` and ``env``; an image already named ``ref`` is
        kept unless ``replace`` (``--rebuild``). ``probe`` (a shell command printing the
        runtime's version) also reads the OS and libc versions into labels.

        The container that builds it is named, not labelled (a commit would pass its
        labels on to the image): ``coldbench cleanup`` finds a leftover one by its name."""
        import docker.errors
        with self._locked():
            existing = self._cached(ref)
            if existing is not None and not replace:
                return existing
            steps = [s for s in (script, PROBE.format(version=probe) if probe else "") if s]
            self._builds += 1
            container = self.client.containers.create(
                # each step a group of its own: the probe's `;` must not hide a failed script
                parent.id, entrypoint=["/bin/sh", "-c"],
                command=[" && ".join(f"{{ {step}; }}" for step in steps) or "true"],
                network_mode="host" if network else "none",
                name=f"{build_container_prefix()}{self.run_id}-{self._builds}")
            try:
                by_folder: dict[str, list] = {}
                for name, source, mode in files:
                    folder, _, base = name.rpartition("/")
                    if mode == WHOLE:     # its parent folders need not exist: from the root
                        folder, base = "", name
                    by_folder.setdefault("/" + folder, []).append((base, source, mode))
                for folder, entries in by_folder.items():
                    container.put_archive(folder, _tar(entries))
                found = {}
                if steps:
                    container.start()
                    status = container.wait(timeout=1800)["StatusCode"]
                    output = container.logs().decode("utf-8", "replace")
                    if status != 0:
                        tail = "\n".join(output.strip().splitlines()[-15:])
                        raise BuildError(f"building image {ref} failed (exit {status}):\n{tail}")
                    for line in output.splitlines():
                        if line.startswith("coldbench-") and ": " in line:
                            name, value = line.split(": ", 1)
                            found[f"coldbench.{name[len('coldbench-'):]}"] = value.strip()
                config = [f"LABEL {key}={json.dumps(value)}"
                          for key, value in ((labels or {}) | found).items()]
                config += [f"ENTRYPOINT {json.dumps(list(entrypoint))}",
                           f"CMD {json.dumps(list(cmd))}", f"WORKDIR {TASK_ROOT}"]
                config += [f"ENV {variable}" for variable in env]
                repository, tag = ref.split(":")
                container.commit(repository=repository, tag=tag, changes=config)
            except docker.errors.APIError as exc:
                raise BuildError(f"building image {ref} failed: {reason(exc)}") from None
            finally:
                container.remove(force=True)
            # the image it replaced (--rebuild) is left nameless, for another live run may
            # still start containers from it: `cleanup --images` removes it by its label
            return self.client.images.get(ref)

    # the task root as the image holds it ----------------------------------------------

    def task_root_of(self, image: Image) -> Path:
        """A copy on this machine of the image's own task root, made once per image: the
        task root as built here plus what the runtime's ``finish`` step wrote in the image
        (Java's class-data archive, which maps only into the JVM build that dumped it)."""
        folder = task_roots_dir() / image_key(image)
        if folder.is_dir():
            return folder
        with self._locked():
            if folder.is_dir():
                return folder
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".copying-", dir=folder.parent))
            self._builds += 1
            container = self.client.containers.create(
                image.id, entrypoint=["/bin/true"], command=[], network_mode="none",
                name=f"{build_container_prefix()}{self.run_id}-{self._builds}")
            try:
                stream, _ = container.get_archive(TASK_ROOT)
                with tempfile.TemporaryFile() as archive:
                    for chunk in stream:
                        archive.write(chunk)
                    archive.seek(0)
                    with tarfile.open(fileobj=archive) as files:
                        top = Path(TASK_ROOT).name            # the archive's one folder
                        for member in files.getmembers():
                            member.name = str(Path(member.name).relative_to(top))
                        files.extractall(staging, filter="tar")
                staging.chmod(0o755)
                os.replace(staging, folder)
            finally:
                container.remove(force=True)
                shutil.rmtree(staging, ignore_errors=True)
        return folder


def image_key(image: Image) -> str:
    """A short name for an image's content: its id's first 16 hex digits."""
    return image.id.removeprefix("sha256:")[:16]


def task_roots_dir() -> Path:
    """Where images' task roots are copied (``task_root_of``): a folder per ``image_key``."""
    return cache_root() / "images" / "task-roots"


class ImageUnavailable(Exception):
    """An image that can be neither found nor pulled (the caller falls back)."""


def reason(exc: Exception) -> str:
    """The first line of an engine error, for a one-line message."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def status_to_stderr(text: str) -> None:
    print(f"coldbench: {text}", file=sys.stderr, flush=True)
