"""The shell runtime's profile probe, brought by the plug-in (``Shell.probe`` names it):
bash reads the file BASH_ENV names before the bootstrap, here one that switches its trace
on (``set -x``), each command after PS4 with the shell's own clock (``EPOCHREALTIME``).
The function's part of init is from the ``source`` of the handler's script to the
bootstrap's first request for an event; the rest of Init Duration is the runtime's (exec,
bash starting, the bootstrap's set-up)."""

from __future__ import annotations

import re
from pathlib import Path

from coldbench.profile.probes.base import Capture
from coldbench.profile.tree import Item, Reading

MEANS = "bash xtrace (BASH_ENV: set -x, PS4 with EPOCHREALTIME)"
MARK = "+coldbench "          # PS4: bash repeats its first character per level
LINE = re.compile(r"^\++coldbench (\d+\.\d+) (.*)$")


def variables(folder: Path, env: dict[str, str]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    switch = folder / "trace.sh"
    switch.write_text(f"PS4='{MARK}${{EPOCHREALTIME}} '\nset -x\n")
    return {"BASH_ENV": str(switch)}


def read(capture: Capture) -> Reading:
    sourced = first_next = None
    for line in capture.log.splitlines():
        match = LINE.match(line.strip())
        if match is None:
            continue
        at, command = float(match[1]), match[2]
        if sourced is None and command.startswith("source "):
            sourced = at
        elif sourced is not None and command.startswith("curl ") and "invocation/next" in command:
            first_next = at
            break
    if sourced is None or first_next is None:
        return Reading(parts={}, items={"function": [Item("bootstrap (not split)", None, None)]},
                       split=False, how={"function": "no trace of the handler's script"})
    function_ms = (first_next - sourced) * 1000
    return Reading(parts={"function": function_ms},
                   items={"function": [Item("function.sh (sourced)", function_ms, function_ms)]},
                   remainder="runtime",
                   how={"function": "the source of the handler's script, to the first "
                                    "request for an event",
                        "runtime": "the rest of Init Duration: exec, bash, the bootstrap"})
