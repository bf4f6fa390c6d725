"""The profile of one init as a tree, and the three parts Init Duration is split into.

The root is the whole Init Duration; its children are the parts, in the order they run:

- ``runtime``: the runtime starting, from its exec to the runtime client's first line of
  work (the interpreter or VM start-up);
- ``client``: the runtime interface client, before and after it loads the handler;
- ``function``: the function's own init, loading the handler's module (or class, or
  packages) and whatever that runs.

With external extensions a fourth part comes first, ``extensions``: what Init Duration
holds besides the runtime's own init (AWS Lambda Developer Guide, "Lambda Extensions
API": init starts with the extensions, the runtime starts once they have registered, and
init ends once they and the runtime have asked for their next event), that is the wait
for their registrations and, when an extension becomes ready after the runtime, the wait
for it. Below it, one item per extension: what it alone held init up by (its
registration, and its readiness past the runtime's); extensions run in parallel, so
these overlap.

Below a part are items (modules, packages, classes), each with its self time and its
cumulative (``total_ms``: itself and the items below it). What a part's items do not
cover is the part's own self time. Pure functions; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coldbench.model import median

PARTS = ("runtime", "client", "function")
EXTENSIONS = "extensions"          # a part only where the init had external extensions
PART_LABELS = {EXTENSIONS: "extensions", "runtime": "runtime starting",
               "client": "runtime client", "function": "function's own init"}
ROOT = "Init Duration"


@dataclass
class Item:
    """A module, package, class or part, with its self and cumulative milliseconds."""

    name: str
    self_ms: float | None
    total_ms: float | None
    children: list["Item"] = field(default_factory=list)
    note: str | None = None          # "failed", "unfinished", how a figure was found
    samples: int = 1                 # in an aggregated tree: how many samples have it

    def to_dict(self) -> dict:
        document = {"name": self.name, "self_ms": _rounded(self.self_ms),
                    "total_ms": _rounded(self.total_ms)}
        if self.note:
            document["note"] = self.note
        if self.samples != 1:
            document["samples"] = self.samples
        if self.children:
            document["children"] = [child.to_dict() for child in self.children]
        return document

    @classmethod
    def from_dict(cls, document: dict) -> "Item":
        return cls(document["name"], document.get("self_ms"), document.get("total_ms"),
                   [cls.from_dict(child) for child in document.get("children", [])],
                   document.get("note"), document.get("samples", 1))


@dataclass
class Reading:
    """What a probe read of one init: the parts it measured (None: not measured; at most
    one part is left for the rest of Init Duration, ``remainder``) and its items per part."""

    parts: dict[str, float | None]
    items: dict[str, list[Item]]
    remainder: str | None = None     # the part that is Init Duration less the others
    how: dict[str, str] = field(default_factory=dict)   # part -> how it was measured
    split: bool = True               # False: the runtime's init is one item


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def total_of(items: list[Item]) -> float:
    return sum(item.total_ms or 0.0 for item in items)


def parts_in(reading: Reading) -> tuple[str, ...]:
    """The parts of one init: the extensions' first, where it had some."""
    return (EXTENSIONS, *PARTS) if EXTENSIONS in reading.parts else PARTS


def add_extensions(reading: Reading, extra: dict) -> None:
    """Put the extensions' part into ``reading``, from what a cold sample records of them
    (``extensions``, ``extension_registration_ms``, ``runtime_init_ms``: ms from the start
    of init); nothing when it had none."""
    if not extra.get("extensions") or extra.get("runtime_init_ms") is None:
        return
    registration = extra["extension_registration_ms"] or 0.0
    runtime_ready = registration + extra["runtime_init_ms"]
    items = []
    for extension in extra["extensions"]:
        ready = extension.get("ready_ms")
        held = (extension.get("registered_ms") or 0.0) + max(
            0.0, (ready if ready is not None else runtime_ready) - runtime_ready)
        items.append(Item(extension["name"], held, held))
    last_ready = max((e["ready_ms"] for e in extra["extensions"]
                      if e.get("ready_ms") is not None), default=runtime_ready)
    reading.parts[EXTENSIONS] = registration + max(0.0, last_ready - runtime_ready)
    reading.items[EXTENSIONS] = items
    reading.how[EXTENSIONS] = "the Extensions API's instants"


def parts_ms(reading: Reading, init_ms: float | None) -> dict[str, float | None]:
    """Every part's milliseconds: the measured ones, and the remainder from ``init_ms``
    (None when init did not finish or nothing is measured)."""
    parts = {part: reading.parts.get(part) for part in parts_in(reading)}
    if reading.remainder is not None:
        known = sum(v for p, v in parts.items() if p != reading.remainder and v is not None)
        parts[reading.remainder] = None if init_ms is None else max(init_ms - known, 0.0)
    return parts


def assemble(reading: Reading, init_ms: float | None) -> Item:
    """The tree of one init: the root, the parts below it, the items below those."""
    parts = parts_ms(reading, init_ms)
    nodes = []
    for part in parts_in(reading):
        items = reading.items.get(part, [])
        covered = total_of(items)
        total = parts[part] if parts[part] is not None else (covered if items else None)
        unattributed = None if total is None else max(total - covered, 0.0)
        nodes.append(Item(PART_LABELS[part], unattributed, total, items,
                          note=reading.how.get(part)))
    total = init_ms if init_ms is not None else sum(n.total_ms or 0.0 for n in nodes)
    return Item(ROOT, 0.0, total, nodes)


def median_tree(trees: list[Item]) -> Item:
    """One tree for several samples: items matched by their path of names, each figure the
    median over the samples that have the item (``samples`` says how many)."""
    def merge(nodes: list[Item]) -> Item:
        children: dict[str, list[Item]] = {}
        for node in nodes:
            for child in node.children:
                children.setdefault(child.name, []).append(child)
        return Item(nodes[0].name, median([n.self_ms for n in nodes]),
                    median([n.total_ms for n in nodes]),
                    [merge(group) for group in children.values()],
                    note=next((n.note for n in nodes if n.note), None), samples=len(nodes))
    return merge(trees)


def part_of(tree: Item, part: str) -> Item | None:
    return next((node for node in tree.children if node.name == PART_LABELS[part]), None)


def top_items(tree: Item, count: int) -> list[tuple[str, Item]]:
    """The ``count`` items (not parts) with the most self time, each with its part."""
    found: list[tuple[str, Item]] = []

    def walk(part: str, item: Item) -> None:
        found.append((part, item))
        for child in item.children:
            walk(part, child)

    for part in (EXTENSIONS, *PARTS):
        node = part_of(tree, part)
        for item in node.children if node else []:
            walk(part, item)
    found.sort(key=lambda entry: -(entry[1].self_ms or 0.0))
    return found[:count]


def find(tree: Item, name: str) -> Item | None:
    """The first item called ``name``, depth first."""
    if tree.name == name:
        return tree
    for child in tree.children:
        hit = find(child, name)
        if hit is not None:
            return hit
    return None
