"""The package's layers point one way: a module imports only from its own layer or below,
at the top of the file or inside a function alike, and modules never import each other in
a circle. Read from the source (``ast``), so an import that only runs on some paths counts
as much as one that runs on every path.

The layers, bottom first (README, "Layout"):

- base: the package's face (``coldbench``), ``errors``, ``phases``, ``signals``: they import
  nothing of coldbench
- model: what everything speaks of (``coldbench.model``), importing none of the others
- foundations: the plug-in registry, the price tables, the files coldbench writes, the
  results file, the calibration
  a run predicts with, tools the runtimes and targets share, the package's data
- environments: sandboxes and control planes
- runtimes: the language runtimes, their toolchains (``toolchains``), their builds, the function sets, the app definitions
  (``templates``), the profile probes
- targets: local processes, Docker containers, AWS Lambda
- measure: how a sample is taken
- workflows: what a user asked for: run, profile, mitigate, sweeps, serve (``serve.py``)
- analysis: samples in, figures out (and the history of runs, indexed by their summaries)
- render: every table, chart and page
- cli: the command line
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "harness" / "coldbench"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("coldbench", "coldbench.errors", "coldbench.phases", "coldbench.signals")),
    ("model", ("coldbench.model",)),
    ("foundations", ("coldbench.plugins", "coldbench.prices", "coldbench.files", "coldbench.owners",
                     "coldbench.results", "coldbench.calibration", "coldbench.tools",
                     "coldbench.data")),
    ("environments", ("coldbench.environments",)),
    ("runtimes", ("coldbench.runtimes", "coldbench.toolchains", "coldbench.build", "coldbench.layers",
                  "coldbench.function_sets", "coldbench.templates", "coldbench.profile")),
    ("targets", ("coldbench.targets",)),
    ("measure", ("coldbench.measure",)),
    ("workflows", ("coldbench.workflows", "coldbench.serve")),
    ("analysis", ("coldbench.analysis",)),
    ("render", ("coldbench.render",)),
    ("cli", ("coldbench.cli", "coldbench.__main__")),
]
# Imports that run only under a type checker are held to the layers too: a type from
# above is a part in the wrong place. There is no list of exceptions.


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """The layer of a module: that of the longest prefix that names it."""
    found = [(len(prefix), rank) for rank, (_, prefixes) in enumerate(LAYERS)
             for prefix in prefixes
             if module == prefix or (prefix != "coldbench" and module.startswith(prefix + "."))]
    if not found:
        raise LookupError(module)
    return max(found)[1]


def resolve(module: str) -> str:
    """The module an imported name lives in: the longest prefix that is a module."""
    while module not in MODULES and "." in module:
        module = module.rsplit(".", 1)[0]
    return module


def imports(module: str) -> list[tuple[str, int]]:
    """Every coldbench module ``module`` imports, anywhere in the file, with its line."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from coldbench.x import y": y may be a module of its own
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            continue
        for name in names:
            if name == "coldbench" or name.startswith("coldbench."):
                target = resolve(name)
                if target != module:
                    found.append((target, node.lineno))
    return found


def test_every_module_has_a_layer():
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except LookupError:
            unplaced.append(module)
    assert not unplaced, f"modules in no layer (add them to LAYERS and the README): {unplaced}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_points_up(module):
    here = layer_of(module)
    upward = [f"{module}:{line} imports {target} ({LAYERS[layer_of(target)][0]})"
              for target, line in imports(module) if layer_of(target) > here]
    assert not upward, (f"{module} is in layer {LAYERS[here][0]}; it may import only from "
                        "its layer or below:\n" + "\n".join(upward))


def test_no_import_cycles():
    """No circle of modules, through top-level and function-level imports alike (a package
    counts as importing what its ``__init__`` imports)."""
    graph = {module: sorted({target for target, _ in imports(module)}) for module in MODULES}
    state: dict[str, int] = {}            # 1: on the current path, 2: done
    path: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in graph.get(module, ()):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_check_sees_a_back_edge_inside_a_function(tmp_path, monkeypatch):
    """The check itself: an import of an upper layer inside a function is found."""
    module = "coldbench.model.config"
    source = MODULES[module].read_text() + (
        "\n\ndef _probe():\n    from coldbench.render import table\n    return table\n")
    fake = tmp_path / "config.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, module, fake)
    assert ("coldbench.render.table", source.count("\n") - 1) in imports(module)
    assert layer_of("coldbench.render.table") > layer_of(module)


def _members(family: str) -> set[str]:
    """The targets (each a package under coldbench.targets) or the runtimes (each a module
    under coldbench.runtimes, beside their shared base)."""
    folder = PACKAGE / family.split(".")[1]
    if family == "coldbench.targets":
        return {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
    return {p.stem for p in folder.glob("*.py")} - {"__init__", "base"}


@pytest.mark.parametrize("family", ["coldbench.targets", "coldbench.runtimes"])
def test_siblings_never_import_each_other(family):
    """One target (one runtime) never imports another: they share through a lower module
    (targets/base.py, targets/machine.py, targets/images.py; runtimes/base.py, tools.py)."""
    members = _members(family)
    assert len(members) >= 3, members
    crossing = []
    for module in MODULES:
        parts = module.split(".")
        if not module.startswith(family + ".") or parts[2] not in members:
            continue
        for target, line in imports(module):
            theirs = target.split(".")
            if (target.startswith(family + ".") and len(theirs) > 2
                    and theirs[2] in members and theirs[2] != parts[2]):
                crossing.append(f"{module}:{line} imports {target}")
    assert not crossing, "\n".join(crossing)


def test_runtimes_do_not_import_targets():
    found = [f"{m}:{line} imports {t}" for m in MODULES if m.startswith("coldbench.runtimes")
             for t, line in imports(m) if t.startswith("coldbench.targets")]
    assert not found, "\n".join(found)
