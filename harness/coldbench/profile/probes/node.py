"""Node.js: a file coldbench ships, preloaded with ``--require`` (NODE_OPTIONS), times
every CommonJS load by wrapping ``Module._load``, and, when the handler is an ES module,
registers ES module hooks (``module.register``) that mark the start and end of each ES
module's body (``node_preload.cjs``, ``node_hooks.mjs``). Every event is a JSON line with a
CLOCK_MONOTONIC timestamp. The hooks run on a thread of their own, whose start cost about
75 ms of Init Duration here; a CommonJS handler is profiled without them (the client's own
ES modules are then not itemised: they are in the runtime client's part as a whole).

Parts, all measured: the runtime starting is exec to the preloaded file's first line
(Node.js's own start, just before the client's first module); the function's own init,
from the client asking for the handler's module to the module's end (for an ES module:
its first resolution to the end of its body, loading and linking its imports included);
the runtime client, the rest up to the first request for an event.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

from coldbench.profile.probes.base import Capture, joined
from coldbench.profile.tree import Item, Reading, total_of

MEANS = "node --require (Module._load); module.register hooks if the handler is an ES module"
PRELOAD = Path(__file__).with_name("node_preload.cjs")
FILE = "node-modules.jsonl"
EXTENSIONS = ("", ".js", ".mjs", ".cjs")


def variables(folder: Path, env: dict[str, str]) -> dict[str, str]:
    return {"NODE_OPTIONS": joined(env, "NODE_OPTIONS", f"--require {PRELOAD}"),
            "COLDBENCH_PROFILE_FILE": str(folder / FILE)}


def events(folder: Path) -> list[dict]:
    try:
        text = (folder / FILE).read_text()
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:       # the last line, cut short by a killed runtime
            pass
    return found


def path_of(module_id: str) -> str:
    return unquote(urlparse(module_id).path) if module_id.startswith("file:") else module_id


def display(module_id: str, task_root: Path) -> str:
    path = path_of(module_id)
    root = f"{task_root}/"
    return path[len(root):] if path.startswith(root) else path


class _Module:
    def __init__(self, event: dict):
        self.key, self.id, self.kind = event["key"], event["id"], event["kind"]
        self.parent = event.get("parent")
        self.resolved_ns = event.get("resolved")
        self.start_ns, self.end_ns, self.failed = event["at"], None, False
        self.children: list[_Module] = []
        self.excluded: list[tuple[int, int]] = []

    @property
    def body_ms(self) -> float | None:
        if self.end_ns is None:
            return None
        spent = (self.end_ns - self.start_ns) / 1e6
        for start, end in self.excluded:     # the function's init, awaited inside it
            if self.start_ns <= start and end <= self.end_ns:
                spent -= (end - start) / 1e6
        return max(spent, 0.0)

    def item(self, task_root: Path) -> Item:
        children = [child.item(task_root) for child in self.children]
        note = "failed" if self.failed else ("unfinished" if self.end_ns is None else None)
        if self.kind == "cjs":       # a load: its children ran inside it
            total = self.body_ms if self.body_ms is not None else total_of(children)
            own = max(total - total_of(children), 0.0)
        else:                        # an ES module's body: its imports ran before it
            own = self.body_ms or 0.0
            total = own + total_of(children)
        return Item(display(self.id, task_root), own, total, children, note=note)


def modules(found: list[dict]) -> list[_Module]:
    """The modules in the order their loads (CommonJS) or bodies (ES) started, linked to
    their parent: the loading module (CommonJS), the first importer (ES)."""
    by_key: dict[str, _Module] = {}
    latest_by_id: dict[str, _Module] = {}
    for event in found:
        if event["event"] == "enter":
            module = _Module(event)
            by_key[module.key] = latest_by_id[path_of(module.id)] = module
        elif event["event"] == "leave" and event["key"] in by_key:
            by_key[event["key"]].end_ns = event["at"]
            by_key[event["key"]].failed = event.get("failed", False)
    for module in by_key.values():
        if module.kind == "cjs":
            module.parent = by_key.get(module.parent)
        else:
            module.parent = latest_by_id.get(path_of(module.parent or ""))
            if module.parent is module:
                module.parent = None
    return list(by_key.values())


def link(loaded: list[_Module]) -> None:
    for module in loaded:
        if module.parent is not None:
            module.parent.children.append(module)


def is_handler(module: _Module, task_root: Path, handler: str) -> bool:
    base = str(task_root / handler.rsplit(".", 1)[0])
    return path_of(module.id) in {base + extension for extension in EXTENSIONS}


def read(capture: Capture) -> Reading:
    found = events(capture.folder)
    preload = next((e["at"] for e in found if e["event"] == "preload"), None)
    loaded = modules(found)
    end_ns = capture.end_ns
    handler = next((m for m in loaded if is_handler(m, capture.task_root, capture.handler)), None)
    function_items, client_items = [], []
    function_ms = None
    if handler is not None:
        handler.parent = None        # the client's import of it belongs to the function
    link(loaded)
    if handler is not None:
        function_items = [handler.item(capture.task_root)]
        started = handler.resolved_ns or handler.start_ns
        ended = handler.end_ns or end_ns
        function_ms = None if ended is None else (ended - started) / 1e6
        if handler.kind == "esm" and function_ms is not None:
            linking = function_ms - function_items[0].total_ms
            if linking > 0:
                function_items.append(Item("(loading and linking ES modules)", linking, linking))
    if handler is not None and function_ms is not None:
        window = (started, ended)
        for module in loaded:
            if module is not handler:
                module.excluded.append(window)
    for module in loaded:
        if end_ns is not None and module.end_ns is not None and module.end_ns > end_ns:
            module.end_ns = end_ns           # what ran after init is the invocation's
    for module in loaded:
        if module.parent is None and module is not handler:
            if end_ns is None or module.start_ns < end_ns:
                client_items.append(module.item(capture.task_root))
    runtime_ms = None if preload is None else (preload - capture.exec_ns) / 1e6
    return Reading(
        parts={"runtime": runtime_ms, "function": function_ms},
        items={"runtime": [], "client": client_items, "function": function_items},
        remainder="client",
        how={"runtime": "exec to the preloaded file's first line",
             "client": "from there to the first request for an event, less the function",
             "function": "the handler's module: requested to loaded"})
