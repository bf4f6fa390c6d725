"""The built-in function sets: which function of each runtime ``--function-set`` measures.

``hello``, the default, is the function every runtime ships (functions/<runtime>/): the
runtime and its client, nothing else. ``realistic`` (functions/realistic/<runtime>/) keeps
the same event and response and does at init what real functions do: it creates an AWS SDK
client, parses a 1 MB JSON document and loads a web-framework-sized set of dependencies
(functions/realistic/README.md). Each set records its samples under its own function name,
so the two never pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coldbench.errors import UsageError
from coldbench.model import BUILTIN_FUNCTION
from coldbench.runtimes.base import BUILTIN_FUNCTIONS, Runtime


@dataclass(frozen=True)
class FunctionSet:
    name: str                                # as --function-set takes it
    function: str                            # the function's name in results
    folder: Callable[[Runtime], Path]        # a runtime's function of this set
    about: str                               # one line, for --help


FUNCTION_SETS: dict[str, FunctionSet] = {s.name: s for s in (
    FunctionSet("hello", BUILTIN_FUNCTION, lambda runtime: runtime.function_dir,
                "the runtime and its client, nothing else"),
    FunctionSet("realistic", "realistic",
                lambda runtime: BUILTIN_FUNCTIONS / "realistic" / runtime.name,
                "an AWS SDK client, a 1 MB JSON document and a framework's dependencies "
                "at init"),
)}
DEFAULT_SET = "hello"


def get(name: str) -> FunctionSet:
    """The set named ``name``; UsageError naming the known ones otherwise."""
    try:
        return FUNCTION_SETS[name]
    except KeyError:
        raise UsageError(f"unknown function set '{name}': choose one of "
                         f"{', '.join(FUNCTION_SETS)}") from None


def help_text() -> str:
    return "; ".join(f"{s.name}: {s.about}" for s in FUNCTION_SETS.values())
