"""The language runtimes: every one registered by an entry point in the group
``coldbench.runtimes`` (``name = "module:RuntimeClass"``), coldbench's own included, each
by its language's name ("python", the version the documented comparison names) and by
Lambda's identifiers of the versions it runs ("python3.13": ``Runtime.lambda_runtimes``)."""

from __future__ import annotations

from functools import cache

from coldbench.errors import UsageError
from coldbench.model import BUILTIN_RUNTIMES as BUILTIN
from coldbench.model.config import RUNTIME_GROUP
from coldbench.plugins import Registry
from coldbench.runtimes.base import ImageRecipe, Launch, Runtime

#: name -> Runtime (one instance each), in table order
RUNTIMES: Registry[Runtime] = Registry(
    RUNTIME_GROUP, "runtime", BUILTIN,
    make=lambda loaded: loaded() if isinstance(loaded, type) else loaded)


def get(name: str) -> Runtime:
    """The runtime ``name`` names: a registered one, or a version of one by Lambda's
    identifier (the same instance for the same identifier; the version a language's name
    stands for is that runtime itself). UsageError for neither."""
    if name in RUNTIMES:
        return RUNTIMES[name]
    return _versioned(name)


def find(name: str) -> Runtime | None:
    """The runtime ``name`` names (as ``get``), or None: results may name a runtime that
    is not installed here."""
    try:
        return get(name)
    except UsageError:
        return None


@cache
def _versioned(identifier: str) -> Runtime:
    for runtime in RUNTIMES.values():
        if identifier == runtime.lambda_runtime:
            return runtime              # "python3.12" is "python": one runtime, one name
        if identifier in runtime.lambda_runtimes:
            return runtime.at(identifier)
    raise UsageError(f"unknown runtime '{identifier}': choose from {', '.join(RUNTIMES)}, "
                     f"Lambda's {', '.join(identifiers())}, or 'all'")


def anchor_of(runtime: Runtime) -> Runtime:
    """The runtime whose built-in function and published hello figure anchor the
    prediction of ``runtime``'s functions: itself, or the one it names
    (``Runtime.anchored_on``)."""
    return get(runtime.anchored_on) if runtime.anchored_on else runtime


def identifiers() -> list[str]:
    """Lambda's identifiers every registered runtime runs as, in table order."""
    return [i for runtime in RUNTIMES.values() for i in runtime.lambda_runtimes]


__all__ = ["BUILTIN", "ImageRecipe", "Launch", "Runtime", "RUNTIMES", "anchor_of", "find", "get",
           "identifiers"]
