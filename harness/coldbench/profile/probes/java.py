"""Java: the JVM's unified logging of class loading and initialisation
(JAVA_TOOL_OPTIONS=-Xlog:class+load=info,class+init=info:file=...:timenanos), one line
per class loaded, verified or initialised ("<n> Initializing 'a/b/C'", logged as its
static initialiser starts), stamped with CLOCK_MONOTONIC nanoseconds.

The JVM logs no end of a static initialiser, so time goes by intervals: from one event
to the next, to the class of the first. A static initialiser that sleeps 200 ms is
followed by a 200 ms interval. Classes are grouped by where they come from: a jar of the
task root (found by the class's name in the jars, since classes of the client come from
the class-data-sharing archive), the task root's folder, or the JDK.

Parts, all measured: exec to the load of the client's main class is the runtime
starting; from the first event of a class of the function's own jars to the end of the
last one's interval, the function's own init; the rest, the runtime client.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from coldbench.profile.probes.base import Capture, joined
from coldbench.profile.tree import Item, Reading, total_of
from coldbench.runtimes.java import MAIN_CLASS, client_jars

MEANS = "java -Xlog:class+load,class+init (JAVA_TOOL_OPTIONS)"
FILE = "java-classes.log"
LINE = re.compile(r"^\[(\d+)ns\] (.*)$")
LOADED = re.compile(r"^(\S+) source: (.*)$")
INITIALIZING = re.compile(r"^\d+ Initializing '([^']+)'")
VERIFYING = re.compile(r"^(?:Start|End) class verification for: (\S+)")
JVM_START = "JVM start, to its first logged class"
# The JDK's own flight-recorder event classes, which JDK 21 and 25 load on the first use of
# what they record (Thread.sleep: jdk.internal.event.ThreadSleepEvent), inside the code that
# uses it: not events of their own, so their time stays with the class whose code ran (a
# static initialiser that sleeps 200 ms keeps its 200 ms, as on JDK 17)
JFR_EVENTS = "jdk.internal.event."


def variables(folder: Path, env: dict[str, str]) -> dict[str, str]:
    option = f"-Xlog:class+load=info,class+init=info:file={folder / FILE}:timenanos"
    return {"JAVA_TOOL_OPTIONS": joined(env, "JAVA_TOOL_OPTIONS", option)}


def class_index(task_root: Path) -> tuple[dict[str, str], set[str]]:
    """Class name -> its jar's file name, for the jars in the task root's lib; and the
    names of the function's own jars (not the client's)."""
    lib = task_root / "lib"
    index: dict[str, str] = {}
    jars = sorted(lib.glob("*.jar"))
    for jar in jars:
        try:
            with zipfile.ZipFile(jar) as archive:
                for name in archive.namelist():
                    if name.endswith(".class") and not name.startswith("META-INF/"):
                        index.setdefault(name[:-6].replace("/", "."), jar.name)
        except (OSError, zipfile.BadZipFile):
            continue
    try:
        client = {jar.name for jar in client_jars(lib)}
    except (OSError, ValueError, KeyError):
        client = set()
    return index, {jar.name for jar in jars} - client


def events(text: str) -> list[tuple[int, str, str, str | None]]:
    """(ns, class name, what happened, where it was loaded from) per logged event."""
    found = []
    for line in text.splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        at, message = int(match[1]), match[2]
        if loaded := LOADED.match(message):
            found.append((at, loaded[1], "load", loaded[2]))
        elif initializing := INITIALIZING.match(message):
            found.append((at, initializing[1].replace("/", "."), "static initialiser", None))
        elif verifying := VERIFYING.match(message):
            found.append((at, verifying[1].replace("/", "."), "verification", None))
    found.sort(key=lambda event: event[0])
    return [event for event in found if not event[1].startswith(JFR_EVENTS)]


def origin(name: str, source: str | None, index: dict[str, str], task_root: Path) -> str:
    if name in index:
        return index[name]
    if source and source.startswith("file:") and str(task_root) in source:
        return "task root"
    if source and source.startswith("jrt:/"):
        return f"JDK {source[5:]}"
    return "JDK"


def read(capture: Capture) -> Reading:
    try:
        text = (capture.folder / FILE).read_text(errors="replace")
    except OSError:
        text = ""
    found = [e for e in events(text) if e[0] >= capture.exec_ns
             and (capture.end_ns is None or e[0] <= capture.end_ns)]
    index, own_jars = class_index(capture.task_root)
    sources: dict[str, str | None] = {}
    for _, name, what, source in found:
        if what == "load":
            sources[name] = source
    origins = {name: origin(name, sources.get(name), index, capture.task_root)
               for _, name, _, _ in found}
    own = {name for name, where in origins.items() if where in own_jars or where == "task root"}
    end_ns = capture.end_ns if capture.end_ns is not None else (found[-1][0] if found else None)
    client_ns = next((at for at, name, what, _ in found if name == MAIN_CLASS and what == "load"),
                     None)
    own_events = [i for i, event in enumerate(found) if event[1] in own]
    window = None
    if own_events:
        last = own_events[-1]
        window = (found[own_events[0]][0],
                  found[last + 1][0] if last + 1 < len(found) else end_ns)
    # per part: origin -> class -> [ms, of which static initialiser ms]
    spent: dict[str, dict[str, dict[str, list[float]]]] = {"runtime": {}, "client": {},
                                                           "function": {}}
    for i, (at, name, what, _) in enumerate(found):
        until = found[i + 1][0] if i + 1 < len(found) else end_ns
        if until is None:
            continue
        if client_ns is None or at < client_ns:
            part = "runtime"
        elif window and window[0] <= at < window[1]:
            part = "function"
        else:
            part = "client"
        figures = spent[part].setdefault(origins[name], {}).setdefault(name, [0.0, 0.0])
        figures[0] += (until - at) / 1e6
        if what == "static initialiser":
            figures[1] += (until - at) / 1e6
    items = {part: [_origin_item(where, classes) for where, classes in by_origin.items()]
             for part, by_origin in spent.items()}
    for part in items:
        items[part].sort(key=lambda item: -(item.total_ms or 0.0))
    if found:
        jvm_ms = (found[0][0] - capture.exec_ns) / 1e6
        items["runtime"].insert(0, Item(JVM_START, jvm_ms, jvm_ms))
    return Reading(
        parts={"runtime": None if client_ns is None else (client_ns - capture.exec_ns) / 1e6,
               "function": (window[1] - window[0]) / 1e6 if window and window[1] else 0.0},
        items=items, remainder="client",
        how={"runtime": f"exec to the load of {MAIN_CLASS}",
             "client": "the rest, to the first request for an event",
             "function": "first to last class of the function's own jars"})


def _origin_item(where: str, classes: dict[str, list[float]]) -> Item:
    children = [Item(name, ms, ms, note=f"static initialiser {init_ms:.1f} ms" if init_ms >= 0.05
                     else None)
                for name, (ms, init_ms) in sorted(classes.items(), key=lambda kv: -kv[1][0])]
    return Item(where, 0.0, total_of(children), children)
