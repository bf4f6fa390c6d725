"""Lambda's runtime identifiers and their deprecation schedule, as AWS publishes it
(``data/lambda-runtimes-2026-12.csv``): the status of an identifier on a day, the newest one
of a language, an identifier's successor, and so which identifier the AWS target deploys
for each of coldbench's runtimes.

Which identifier a runtime is deployed with (``choose``):

- asked for with ``--lambda-runtime``: ``node=nodejs22.x``, a bare ``nodejs22.x`` (for every
  chosen runtime of that language), ``latest`` or ``node=latest`` (the newest that Lambda
  supports). Any identifier of the table is taken; one that Lambda no longer creates
  functions with is refused before anything is created, one that is deprecated is taken
  with a warning;
- otherwise the runtime's own (``Runtime.lambda_runtime``, the row of the design guide's
  table) while Lambda supports it, and once it is deprecated its nearest successor that
  Lambda supports, with a note saying which and why.

Every decision takes the day as a parameter (``today`` for the real one).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cache
from importlib import resources

from coldbench import runtimes
from coldbench.errors import UsageError

TABLE = "lambda-runtimes-2026-12.csv"
LATEST = "latest"

# An identifier's status on a day, each one implying the ones before it (Lambda Developer
# Guide, "Runtime deprecation policy"): no more patches; no new functions; no updates either.
SUPPORTED = "supported"
DEPRECATED = "deprecated"
CREATE_BLOCKED = "create-blocked"
UPDATE_BLOCKED = "update-blocked"


def today() -> date:
    """The day in UTC, which AWS's dates are read in."""
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True)
class LambdaRuntime:
    """One row of the table."""

    identifier: str               # "nodejs22.x"
    name: str                     # as AWS names it: "Node.js 22"
    language: str                 # "nodejs", "python", "java", "dotnet", "ruby", "provided"
    os: str
    deprecation: date | None      # None: not scheduled
    block_create: date | None
    block_update: date | None
    successor: str | None         # the next major version of the language on Lambda

    def status(self, on: date) -> str:
        """SUPPORTED, DEPRECATED, CREATE_BLOCKED or UPDATE_BLOCKED on day ``on``."""
        for status, since in ((UPDATE_BLOCKED, self.block_update),
                              (CREATE_BLOCKED, self.block_create),
                              (DEPRECATED, self.deprecation)):
            if since is not None and on >= since:
                return status
        return SUPPORTED

    @property
    def version(self) -> tuple[int, ...]:
        """The numbers in the identifier, which order one language's runtimes:
        python3.9 < python3.14, provided.al2 < provided.al2023."""
        return tuple(int(n) for n in re.findall(r"\d+", self.identifier))


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text.strip() else None


@cache
def table() -> dict[str, LambdaRuntime]:
    """Every identifier of the shipped table."""
    text = resources.files("coldbench.data").joinpath(TABLE).read_text()
    rows = csv.DictReader(line for line in text.splitlines()
                          if line.strip() and not line.startswith("#"))
    return {r["identifier"]: LambdaRuntime(
        identifier=r["identifier"], name=r["name"], language=r["language"], os=r["os"],
        deprecation=_date(r["deprecation"]), block_create=_date(r["block_create"]),
        block_update=_date(r["block_update"]), successor=r["successor"] or None)
        for r in rows}


def get(identifier: str) -> LambdaRuntime | None:
    return table().get(identifier)


def status(identifier: str, on: date) -> str:
    """The status of a known identifier on day ``on``."""
    return table()[identifier].status(on)


def successor(identifier: str) -> LambdaRuntime | None:
    found = get(identifier)
    return get(found.successor) if found and found.successor else None


def latest(language: str, on: date) -> LambdaRuntime | None:
    """The newest runtime of ``language`` that Lambda supports on day ``on``."""
    supported = [r for r in table().values()
                 if r.language == language and r.status(on) == SUPPORTED]
    return max(supported, key=lambda r: r.version, default=None)


def nearest_supported(identifier: str, on: date) -> LambdaRuntime | None:
    """``identifier`` itself if Lambda supports it on day ``on``, else the first of its
    successors in line that Lambda supports; None if none is."""
    current, seen = get(identifier), set()
    while current is not None and current.identifier not in seen:
        if current.status(on) == SUPPORTED:
            return current
        seen.add(current.identifier)
        current = get(current.successor) if current.successor else None
    return None


@dataclass(frozen=True)
class Choice:
    """The identifier one of coldbench's runtimes is deployed with, and what to say about it."""

    runtime: str                  # coldbench's runtime: "node"
    identifier: str               # "nodejs22.x"
    note: str | None = None       # why this identifier, or a warning; None: nothing to say


def parse(text: str | None) -> tuple[dict[str, str], list[str]]:
    """``--lambda-runtime`` as given: ``python=python3.13,nodejs22.x,latest`` ->
    ({"python": "python3.13"}, ["nodejs22.x", "latest"]). Runtime names must be
    registered, identifiers in the table."""

    by_runtime: dict[str, str] = {}
    bare: list[str] = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, equals, value = (s.strip() for s in part.partition("="))
        if equals:
            runtimes.get(name)
            if not value:
                raise UsageError(f"--lambda-runtime '{part.strip()}': give runtime=identifier, "
                                 "e.g. python=python3.13")
        if (value if equals else name) not in (LATEST, *table()):
            raise UsageError(
                f"--lambda-runtime '{part.strip()}': not one of Lambda's runtime identifiers "
                f"({TABLE}), nor '{LATEST}'; give an identifier (nodejs22.x), "
                "runtime=identifier (python=python3.13) or latest")
        if equals:
            by_runtime[name] = value
        else:
            bare.append(name)
    return by_runtime, bare


def choose(names: list[str], text: str | None, on: date) -> dict[str, Choice]:
    """The identifier each of coldbench's runtimes ``names`` is deployed with on day ``on``,
    given ``--lambda-runtime`` (``text``, None when not given). Raises UsageError for an
    identifier Lambda no longer creates functions with, saying since when and what to use."""

    by_runtime, bare = parse(text)
    choices = {}
    for name in names:
        own = runtimes.get(name).lambda_runtime
        language = get(own).language if get(own) else None
        asked = by_runtime.get(name)
        if asked is None:
            asked = next((token for token in reversed(bare) if language is not None and (
                token == LATEST or get(token).language == language)), None)
        if asked is None:
            choices[name] = _default(name, own, on)
        elif asked == LATEST:
            choices[name] = _latest(name, language, on)
        else:
            choices[name] = _asked(name, get(asked), language, on)
    return choices


def _default(name: str, own: str, on: date) -> Choice:
    runtime = get(own)
    if runtime is None or runtime.status(on) == SUPPORTED:
        return Choice(name, own)        # a runtime of a plug-in may name one the table lacks
    nearest = nearest_supported(own, on)
    if nearest is None:
        if runtime.status(on) != DEPRECATED:
            raise UsageError(refusal(name, runtime, on))
        return Choice(name, own, deprecation_warning(name, runtime, on))
    return Choice(name, nearest.identifier,
                  f"{name}: deploying {nearest.identifier}, not {own} (the runtime's default): "
                  f"{_deprecated(runtime, on)}; {nearest.identifier} is its nearest successor "
                  f"that Lambda supports on {on}")


def _latest(name: str, language: str | None, on: date) -> Choice:
    newest = latest(language, on) if language else None
    if newest is None:
        raise UsageError(f"--lambda-runtime latest: Lambda supports no {language or name} "
                         f"runtime on {on} ({TABLE})")
    return Choice(name, newest.identifier,
                  f"{name}: deploying {newest.identifier}, the newest {newest.language} runtime "
                  f"that Lambda supports on {on} (--lambda-runtime latest)")


def _asked(name: str, runtime: LambdaRuntime, language: str | None, on: date) -> Choice:
    if language is not None and runtime.language != language:
        raise UsageError(f"--lambda-runtime {name}={runtime.identifier}: {runtime.identifier} "
                         f"is a {runtime.language} runtime; {name} needs a {language} one")
    state = runtime.status(on)
    if state in (CREATE_BLOCKED, UPDATE_BLOCKED):
        raise UsageError(refusal(name, runtime, on))
    if state == DEPRECATED:
        return Choice(name, runtime.identifier, deprecation_warning(name, runtime, on))
    return Choice(name, runtime.identifier)


def _deprecated(runtime: LambdaRuntime, on: date) -> str:
    text = f"{runtime.identifier} is deprecated since {runtime.deprecation} (no more patches)"
    if runtime.block_create is not None and runtime.block_create > on:
        text += f" and Lambda blocks creating functions with it from {runtime.block_create}"
    return text


def _instead(name: str, runtime: LambdaRuntime, on: date) -> str:
    nearest = nearest_supported(runtime.identifier, on)
    text = f"its successor is {runtime.successor or 'none'}"
    if nearest is not None:
        text += (f"; the nearest one Lambda supports on {on} is {nearest.identifier}: pass "
                 f"--lambda-runtime {name}={nearest.identifier} (or latest)")
    return text


def deprecation_warning(name: str, runtime: LambdaRuntime, on: date) -> str:
    """What a run with a deprecated identifier says."""
    return f"{name}: {_deprecated(runtime, on)}; {_instead(name, runtime, on)}"


def refusal(name: str, runtime: LambdaRuntime, on: date) -> str:
    """Why an identifier is refused on day ``on``: since when Lambda creates no functions
    with it, and what to use instead."""
    return (f"{name}: Lambda blocks creating functions with {runtime.identifier} since "
            f"{runtime.block_create} (deprecated since {runtime.deprecation}); "
            f"{_instead(name, runtime, on)}; nothing was created")
