"""The language runtimes: every one registered by an entry point in the group
``coldbench.runtimes`` (``name = "module:RuntimeClass"``), coldbench's own included."""

from __future__ import annotations

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
    try:
        return RUNTIMES[name]
    except KeyError:
        raise UsageError(f"unknown runtime '{name}': choose from "
                         f"{', '.join(RUNTIMES)} or 'all'") from None


__all__ = ["BUILTIN", "ImageRecipe", "Launch", "Runtime", "RUNTIMES", "get"]
