"""Python: ``-X importtime`` (PYTHONPROFILEIMPORTTIME=1), which writes a line to stderr as
each import finishes: ``import time: self [us] | cumulative | imported package``, nested
imports indented by two spaces a level, children before their parent.

Parts: the client imports the handler's module with ``importlib.import_module``, which
``-X importtime`` does not time (it times ``import`` statements), so the module has no
line of its own: its imports appear as top-level lines, after the client's. The function's
own init is those, from the first import the handler's source names (read from its
syntax tree); the imports the client makes after ``runpy`` (which ``python -m
awslambdaric`` imports to run the client), the runtime client; the rest of Init Duration,
the runtime starting: exec, the interpreter's start and its own imports, and code that
runs outside any import, the handler module's own statements included. The lines carry
no timestamps: imports after init are the invocation's, and would be counted.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from coldbench.profile.probes.base import Capture
from coldbench.profile.tree import Item, Reading, total_of

MEANS = "python -X importtime (PYTHONPROFILEIMPORTTIME=1)"
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S.*?)\s*$")
CLIENT_LAUNCHER = "runpy"


def variables(folder: Path, env: dict[str, str]) -> dict[str, str]:
    return {"PYTHONPROFILEIMPORTTIME": "1"}


def handler_module(handler: str) -> str:
    """awslambdaric's notation, "path/to/module.function", to the module's name."""
    return handler.rsplit(".", 1)[0].replace("/", ".")


def parse(log: str) -> list[Item]:
    """The top-level imports in the order they finished, each with its nested imports.
    Imports that failed print no line: what they had imported is kept under an item
    named "(failed import)"."""
    pending: dict[int, list[Item]] = {}
    for line in log.splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        self_us, total_us, indent, name = match.groups()
        level = len(indent) // 2
        item = Item(name, int(self_us) / 1000, int(total_us) / 1000)
        children = pending.pop(level + 1, [])
        if total_of(children) <= item.total_ms + 0.001:
            item.children = children
        elif children:           # more than its own cumulative: left by a failed import
            pending.setdefault(level, []).append(_failed(children))
        pending.setdefault(level, []).append(item)
    for level in sorted(pending, reverse=True):
        if level > 0:            # never closed: the import that failed last
            pending.setdefault(level - 1, []).append(_failed(pending.pop(level)))
    return pending.get(0, [])


def _failed(children: list[Item]) -> Item:
    return Item("(failed import)", 0.0, total_of(children), children, note="failed")


def handler_imports(source_file: Path, module: str) -> set[str]:
    """Every module name the handler's source imports, with its parent packages."""
    try:
        syntax = ast.parse(source_file.read_text())
    except (OSError, SyntaxError, ValueError):
        return set()
    package = module.rpartition(".")[0].split(".") if "." in module else []
    names: set[str] = set()
    for node in ast.walk(syntax):
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            found = [stem] + [f"{stem}.{alias.name}".lstrip(".") for alias in node.names]
        else:
            continue
        for name in filter(None, found):
            parts = name.split(".")
            names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return names


def read(capture: Capture) -> Reading:
    imports = parse(capture.log)
    module = handler_module(capture.handler)
    names = [item.name for item in imports]
    first_client = names.index(CLIENT_LAUNCHER) + 1 if CLIENT_LAUNCHER in names else 0
    source_file = capture.task_root / (module.replace(".", "/") + ".py")
    wanted = handler_imports(source_file, module) | {module}
    # a handler in a package (a layer's: datadog_lambda.handler) starts with its package's
    # modules, each listed on its own
    package = f"{module.split('.')[0]}."
    first_function = next((i for i in range(first_client, len(imports))
                           if imports[i].name in wanted
                           or ("." in module and imports[i].name.startswith(package))),
                          len(imports))
    runtime = imports[:first_client]
    client = imports[first_client:first_function]
    loaded = imports[first_function:]
    function = [Item(module, 0.0, total_of(loaded), loaded,
                     note="its own statements are not timed")] if loaded else []
    return Reading(
        parts={"client": total_of(client), "function": total_of(function)},
        items={"runtime": runtime, "client": client, "function": function},
        remainder="runtime",
        how={"runtime": "exec, interpreter start, code outside imports",
             "client": "the client's imports",
             "function": f"the imports of {module}"})
