"""Which items of a cold start's init grew between two runs: the blame `coldbench compare`
prints beside a cold-start regression when both runs carry profiles (`run --profile`,
``run.profiles`` in the results file). Pure functions, no I/O.

Items are matched by their path of names in the median trees (part, module, the modules
it imported, ...). What each item is charged with, so that nothing is counted twice:

- an item only in the new run: its cumulative time, and nothing below it (it is all new:
  "+212 ms: pandas (new)"); unless it has children and no time of its own at all, as
  the handler's module under Python's ``-X importtime``, which times its imports but not
  its statements (and has no item when it imports nothing): then its children are
  charged instead, by the same rule;
- an item in both runs: the change of its self time (what it does itself, not what it
  imports, which its own children are charged with);
- a part's own time (what no item covers, such as the runtime starting): its change of
  self time, under the part's name.

An external extension is an item of the ``extensions`` part (``profile/tree.py``): what
it alone held init up by, its registration and its readiness past the runtime's; one that
grew is named "extension NAME".

The charges add up to the change of the profiled Init Duration, less what items gone
from the new run took.
"""

from __future__ import annotations

from dataclasses import dataclass

from coldbench.profile.tree import Item
from coldbench.model import ConfigKey

TOP = 5                  # items named per regression
MIN_DELTA_MS = 1.0       # growth below this is noise in a median of a few samples


@dataclass(frozen=True)
class Blamed:
    item: str              # the item's name ("slow_import", "express", a jar's class)
    part: str              # its part ("function's own init", ...)
    before_ms: float | None    # None: not in the base run
    after_ms: float
    delta_ms: float
    new: bool


def profiles(run: dict) -> dict[ConfigKey, Item]:
    """The median tree of each profiled configuration of a run (``run.profiles``)."""
    found = {}
    for profile in run.get("profiles") or []:
        if profile.get("tree"):
            found[ConfigKey.of(profile)] = Item.from_dict(profile["tree"])
    return found


def _flatten(tree: Item) -> dict[tuple[str, ...], Item]:
    paths = {}

    def walk(item: Item, path: tuple[str, ...]) -> None:
        paths[path] = item
        for child in item.children:
            walk(child, (*path, child.name))

    for part in tree.children:
        walk(part, (part.name,))
    return paths


def blame(base: Item, new: Item, top: int = TOP,
          min_delta_ms: float = MIN_DELTA_MS) -> list[Blamed]:
    """The ``top`` items that grew most from ``base`` to ``new`` (median trees), at least
    ``min_delta_ms`` each, largest first."""
    before, after = _flatten(base), _flatten(new)
    whole = {path for path, item in after.items()      # new items charged with all of them
             if path not in before and len(path) > 1
             and ((item.self_ms or 0.0) > 0 or not item.children)}
    charged = []
    for path, item in after.items():
        if any(path[:i] in whole for i in range(2, len(path))):
            continue                  # inside a new item, which is charged with all of it
        old = before.get(path)
        if old is None:
            if path not in whole:
                continue              # a new item that only holds others: they are charged
            delta, was, now = item.total_ms or 0.0, None, item.total_ms or 0.0
        else:
            was, now = old.self_ms or 0.0, item.self_ms or 0.0
            delta = now - was
        if delta >= min_delta_ms:
            charged.append(Blamed(item.name, path[0], was, now, delta, old is None))
    charged.sort(key=lambda b: -b.delta_ms)
    return charged[:top]
