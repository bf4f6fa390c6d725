"""The places coldbench runs functions. Each module implements ``targets.base.Target``;
heavy client libraries (docker, boto3) are imported only when their target is chosen."""

from __future__ import annotations

import importlib

from coldbench.errors import UsageError
from coldbench.targets.base import Environment, Invoked, Target

# name -> module with a `from_options(options) -> Target` function
TARGETS = {
    "local": "coldbench.targets.local.plugin",
    "docker": "coldbench.targets.docker.plugin",
    "aws": "coldbench.targets.aws.plugin",
}


def make(name: str, options) -> Target:
    """The target called ``name``, configured from the run's options."""
    if name not in TARGETS:
        raise UsageError(f"unknown target '{name}': choose from {', '.join(TARGETS)}")
    return importlib.import_module(TARGETS[name]).from_options(options)


__all__ = ["Environment", "Invoked", "Target", "TARGETS", "make"]
