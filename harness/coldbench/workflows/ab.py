"""`coldbench ab`: two versions of the same functions measured side by side in one run.

The two versions are two git revisions of the checkout coldbench is run in (each extracted
with ``git archive`` into a temporary folder, removed at the end), or two folders
(``--dirs``). The functions are found at the same path in each: a function folder (``--function
DIR``, DIR a path in the checkout) or the built-in functions of ``--runtimes``. Both
versions are built and measured by one ordinary run (``workflows/run.py``), each configuration
in both versions, interleaved (A B A B ...) so that drift on the machine hits both alike;
the samples carry the version in their variant (``Variant.version``: "base", "head") and land in one results file. Comparing them
is ``analysis/ab.py``.

This is how pyperf and hyperfine compare two versions: on one machine, in one job,
interleaved, rather than a run against one made earlier elsewhere.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from coldbench import build, function_sets, runtimes, templates
from coldbench.errors import UsageError
from coldbench.workflows.options import RunOptions, check
from coldbench.workflows.run import run
from coldbench.results.schema import Results
from coldbench.runtimes.base import BUILTIN_FUNCTIONS

BASE, HEAD = "base", "head"
TARGETS = ("local", "docker")      # where two builds of one function can run side by side


@dataclass
class AbRequest:
    base: str                       # a git revision, or with ``dirs`` a folder
    head: str
    options: RunOptions             # how to measure; its function_dir stays None
    function_dirs: list[Path] = field(default_factory=list)  # paths in the checkout
    dirs: bool = False              # base and head are folders, not revisions
    cwd: Path = field(default_factory=Path.cwd)
    # ``--template FILE`` (a path in the checkout): the functions of the app's definition
    # as it is at each version; the run reads its runtimes and memory sizes from HEAD's
    template: Path | None = None


@dataclass(frozen=True)
class Version:
    label: str                      # BASE or HEAD
    given: str                      # as the user named it: a revision or a folder
    root: Path                      # where its files are now
    commit: str | None = None       # the revision's commit id (git)

    def describe(self) -> dict:
        return {"ref": self.given, **({"commit": self.commit} if self.commit else {}),
                **({} if self.commit else {"folder": str(self.root)})}


def _git(cwd: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True,
                          text=not binary, check=False)


def checkout_root(cwd: Path) -> Path:
    """The top folder of the git checkout ``cwd`` is in; UsageError outside one."""
    if shutil.which("git") is None:
        raise UsageError("git is not installed: install it, or compare two folders with --dirs")
    found = _git(cwd, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise UsageError(f"{cwd} is not inside a git checkout: run coldbench ab in one, or "
                         "compare two folders with --dirs")
    return Path(found.stdout.strip())


def commit_of(top: Path, revision: str, name: str) -> str:
    found = _git(top, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if found.returncode != 0 or not found.stdout.strip():
        raise UsageError(f"{name} '{revision}' is not a revision of the checkout at {top} "
                         "(a commit, branch or tag; fetch it first if it is a remote one)")
    return found.stdout.strip()


def in_checkout(path: Path, cwd: Path, top: Path) -> str:
    """``path`` (relative to ``cwd`` or absolute) as a path inside the checkout."""
    absolute = Path(os.path.realpath(cwd / path))
    try:
        return absolute.relative_to(Path(os.path.realpath(top))).as_posix()
    except ValueError:
        raise UsageError(f"--function {path}: not a path inside the checkout at {top}; "
                         "name the function's folder as it is in the repository") from None


def builtin_paths(options: RunOptions) -> list[str]:
    """The built-in functions of ``options`` as paths in a coldbench checkout."""
    chosen = function_sets.get(options.function_set)
    project = BUILTIN_FUNCTIONS.parent
    found = []
    for name in options.runtimes:
        try:
            found.append(chosen.folder(runtimes.get(name)).relative_to(project).as_posix())
        except ValueError:
            raise UsageError(f"--runtimes: the built-in {name} function is not in a "
                             "coldbench checkout here; compare your own with --function") from None
    return found


def wanted_paths(request: AbRequest, top: Path | None) -> list[str]:
    """The functions to measure, as paths relative to each version's root: function
    folders, or the one template that names them."""
    if request.template is not None:
        if top is None:
            if request.template.is_absolute():
                raise UsageError(f"--template {request.template}: with --dirs, name the "
                                 "template relative to each of the two folders")
            return [request.template.as_posix()]
        return [in_checkout(request.template, request.cwd, top)]
    if request.function_dirs:
        if top is None:                               # --dirs: paths inside each folder
            for path in request.function_dirs:
                if path.is_absolute():
                    raise UsageError(f"--function {path}: with --dirs, name the function's "
                                     "folder relative to each of the two folders")
            return [path.as_posix() for path in request.function_dirs]
        return [in_checkout(path, request.cwd, top) for path in request.function_dirs]
    return builtin_paths(request.options)


def check_request(request: AbRequest) -> None:
    """UsageError for what cannot be compared, before anything is extracted or built."""
    options = request.options
    if options.target not in TARGETS:
        raise UsageError(f"coldbench ab runs on --target {' or '.join(TARGETS)}, not "
                         f"{options.target}: there the two versions of a function run side "
                         "by side on one machine")
    if options.function_dir is not None:
        raise UsageError("coldbench ab takes the function as --function DIR, a path in "
                         "the checkout")
    if request.template is not None and (request.function_dirs or options.handler):
        raise UsageError("--template names the functions: drop --function and --handler")
    if request.function_dirs and len(options.runtimes) != 1:
        raise UsageError("--function needs exactly one --runtime")
    if options.handler is not None and not request.function_dirs:
        raise UsageError("--handler is the handler of --function: name the function too")
    if request.function_dirs and options.function_set != function_sets.DEFAULT_SET:
        raise UsageError("--function and --function-set exclude each other")
    if len(set(request.function_dirs)) != len(request.function_dirs):
        raise UsageError("--function: the same folder is named twice")
    check(options)                    # refused here; the run checks its own options again


def _extract(top: Path, commit: str, paths: list[str], into: Path, name: str) -> None:
    """The files under ``paths`` at ``commit``, written below ``into``."""
    archived = _git(top, "archive", "--format=tar", commit, "--", *paths, binary=True)
    if archived.returncode != 0:
        missing = [p for p in paths
                   if _git(top, "cat-file", "-e", f"{commit}:{p}").returncode != 0]
        if missing:
            raise UsageError(f"{', '.join(missing)} does not exist at {name} "
                             f"({commit[:12]}): name a folder that exists in both versions")
        raise UsageError(f"git archive failed at {name} ({commit[:12]}): "
                         f"{archived.stderr.decode(errors='replace').strip()}")
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as archive:
        archive.extractall(into, filter="data")


@contextmanager
def versions(request: AbRequest, paths_of: Callable[[Path | None], list[str]]
             ) -> Iterator[tuple[list[Version], list[str]]]:
    """The two versions' files, and the functions' paths in them; extracted revisions are
    removed when the block ends, however it ends."""
    if request.dirs:
        found = []
        for label, given in ((BASE, request.base), (HEAD, request.head)):
            root = Path(request.cwd, given)
            if not root.is_dir():
                raise UsageError(f"{label.upper()} '{given}' is not a folder (--dirs compares two "
                                 "folders)")
            found.append(Version(label, given, root.resolve()))
        yield found, paths_of(None)
        return
    top = checkout_root(request.cwd)
    commits = {label: commit_of(top, given, label.upper())
               for label, given in ((BASE, request.base), (HEAD, request.head))}
    paths = paths_of(top)
    # a template's code sits anywhere its paths point: the whole revision is extracted
    extracted = [] if request.template is not None else paths
    scratch = Path(tempfile.mkdtemp(prefix="coldbench-ab-"))
    try:
        found = []
        for label, given in ((BASE, request.base), (HEAD, request.head)):
            if request.template is not None:
                path = paths[0]
                if _git(top, "cat-file", "-e", f"{commits[label]}:{path}").returncode != 0:
                    raise UsageError(f"{path} does not exist at {label.upper()} "
                                     f"({commits[label][:12]}): name a template that exists "
                                     "in both versions")
            _extract(top, commits[label], extracted, scratch / label, label.upper())
            found.append(Version(label, given, scratch / label, commits[label]))
        yield found, paths
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def functions_of(version: Version, paths: list[str], request: AbRequest) -> list[build.Function]:
    """The functions at ``paths`` in one version, named as in the other version, so
    that the two versions' samples differ only in their version label."""
    options = request.options
    if request.template is not None:
        definition = version.root / paths[0]
        if not definition.exists():
            raise UsageError(f"{paths[0]} is not in {version.label} ({version.given}): name "
                             "a template that exists in both versions")
        app = templates.read(definition, options.env_vars, options.layer_dirs)
        return app.select(options.function_names).functions()
    chosen = function_sets.get(options.function_set)
    # --function: every folder in the one --runtime; else one built-in function a runtime
    names = options.runtimes * len(paths) if request.function_dirs else options.runtimes
    found = []
    for path, name in zip(paths, names):
        runtime, source = runtimes.get(name), version.root / path
        if not source.is_dir():
            raise UsageError(f"{path} is not a folder in {version.label} ({version.given}): "
                             "name a function folder that exists in both versions")
        if request.function_dirs:
            function = build.Function.user(runtime, source, options.handler)
            found.append(replace(function, name=Path(path).name or "function"))
        else:
            found.append(build.Function(chosen.function, runtime, source,
                                        runtime.default_handler))
    return found


def ab(request: AbRequest, on_sample=None, on_status: Callable[[str], None] | None = None
       ) -> Results:
    """Measure both versions in one run (``workflows.run.run``); the results file holds
    the samples of both, told apart by their version."""
    check_request(request)
    status = on_status or (lambda text: None)
    with versions(request, lambda top: wanted_paths(request, top)) as (found, paths):
        for version in found:
            status(f"{version.label}: {version.given}"
                   + (f" ({version.commit[:12]})" if version.commit else ""))
        by_label = {v.label: functions_of(v, paths, request) for v in found}
        options = request.options
        if request.template is not None:      # its runtimes and memory sizes: HEAD's
            options = replace(options, template=found[-1].root / paths[0])
        return run(options, on_sample=on_sample, on_status=on_status,
                   versions=by_label,
                   metadata={"ab": {**{v.label: v.describe() for v in found},
                                    "functions": paths}})
