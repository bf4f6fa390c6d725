"""Go: GODEBUG=inittrace=1, with which the Go runtime writes a line to stderr for every
package init that does work: ``init <package> @<start> ms, <clock> ms clock, <bytes>
bytes, <allocs> allocs`` (start: since the Go runtime started).

Parts: the Go runtime to its first package init, and the standard library's inits, are
the runtime starting; the inits of the function's module and of other modules, the
function's own init; aws-lambda-go's inits and the rest of Init Duration (exec, and
``lambda.Start`` until its first request for an event), the runtime client.
"""

from __future__ import annotations

import re
from pathlib import Path

from coldbench.profile.probes.base import Capture, joined
from coldbench.profile.tree import Item, Reading, total_of

MEANS = "GODEBUG=inittrace=1"
LINE = re.compile(r"^init (\S+) @([\d.]+) ms, ([\d.]+) ms clock, (\d+) bytes, (\d+) allocs")
CLIENT_MODULE = "github.com/aws/aws-lambda-go"


def variables(folder: Path, env: dict[str, str]) -> dict[str, str]:
    return {"GODEBUG": joined(env, "GODEBUG", "inittrace=1", ",")}


def module_path(source: Path) -> str | None:
    try:
        for line in (source / "go.mod").read_text().splitlines():
            if line.startswith("module "):
                return line.split()[1].strip('"')
    except OSError:
        pass
    return None


def kind_of(package: str, own_module: str | None) -> str:
    """"client", "function" or "runtime" (the standard library)."""
    if package == CLIENT_MODULE or package.startswith(CLIENT_MODULE + "/"):
        return "client"
    if package == "main" or (own_module and (package == own_module
                                             or package.startswith(own_module + "/"))):
        return "function"
    return "function" if "." in package.split("/")[0] else "runtime"


def read(capture: Capture) -> Reading:
    own = module_path(capture.source)
    items: dict[str, list[Item]] = {"runtime": [], "client": [], "function": []}
    first_at = None
    for line in capture.log.splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        package, at, clock = match[1], float(match[2]), float(match[3])
        first_at = at if first_at is None else first_at
        items[kind_of(package, own)].append(
            Item(package, clock, clock, note=f"@{at:g} ms, {match[4]} bytes, {match[5]} allocs"))
    runtime = (first_at or 0.0) + total_of(items["runtime"])
    if first_at:
        items["runtime"].insert(0, Item("Go runtime start, to the first package init",
                                        first_at, first_at))
    return Reading(
        parts={"runtime": runtime, "function": total_of(items["function"])},
        items=items, remainder="client",
        how={"runtime": "Go runtime start and the standard library's inits",
             "client": "the rest of Init Duration: exec, aws-lambda-go's inits, lambda.Start",
             "function": "inits of the function's packages"})
