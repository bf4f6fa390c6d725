"""The registry of language runtimes: one line per runtime."""

from __future__ import annotations

from coldbench.errors import UsageError
from coldbench.runtimes.base import Launch, Runtime
from coldbench.runtimes.go import Go
from coldbench.runtimes.java import Java
from coldbench.runtimes.node import Node
from coldbench.runtimes.python import Python
from coldbench.runtimes.rust import Rust

RUNTIMES: dict[str, Runtime] = {r.name: r for r in (Python(), Node(), Go(), Java(), Rust())}


def get(name: str) -> Runtime:
    try:
        return RUNTIMES[name]
    except KeyError:
        raise UsageError(f"unknown runtime '{name}': choose from "
                         f"{', '.join(RUNTIMES)} or 'all'") from None


__all__ = ["Launch", "Runtime", "RUNTIMES", "get"]
