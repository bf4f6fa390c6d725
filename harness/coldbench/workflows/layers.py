"""A run's configurations with layers (``--layer``), and with ``--layer-overhead`` the same
function with each prefix of its layers: none, A, A+B, ... Each prefix is a configuration
of its own (its variant names its layers: ``Variant.layers``), so the measurement
interleaves them (A B C A B C) and every layer's overhead is the difference between a
prefix and the one before it (``analysis/layers.py``)."""

from __future__ import annotations

import zipfile
from dataclasses import replace

from coldbench import layers
from coldbench.build import Artifact, Layer
from coldbench.environments.extensions_api import not_executable
from coldbench.errors import UsageError
from coldbench.model import Config, Variant


def variant(chosen: tuple[Layer, ...]) -> Variant:
    """The variant of a function with these layers: their names, in order."""
    return Variant(layers=tuple(layer.name for layer in chosen))


def check(artifacts: list[Artifact]) -> None:
    """Lambda's limits on each built function with its layers (UsageError naming the
    sizes), and extensions that can be started, before anything is measured; the layers
    are merged into their /opt now (cached)."""
    for artifact in artifacts:
        chosen = artifact.function.layers
        if chosen:
            layers.check_limits(chosen, layers.function_bytes(artifact))
            for path in not_executable(layers.merge(chosen))[:1]:
                relative = f"extensions/{path.name}"
                raise UsageError(f"--layer {_holder(chosen, relative)}: {relative} is not "
                                 f"executable: Lambda could not start it (chmod +x it, or "
                                 f"zip it with its mode)")


def _holder(chosen: tuple[Layer, ...], relative: str) -> str:
    """The last of ``chosen`` that holds ``relative`` (later layers over earlier)."""
    for layer in reversed(chosen):
        if layer.source.is_dir():
            if (layer.source / relative).exists():
                return str(layer.source)
        else:
            with zipfile.ZipFile(layer.source) as archive:
                if relative in archive.namelist():
                    return str(layer.source)
    return "+".join(layer.name for layer in chosen)


def configs(artifacts: list[Artifact], memory: list[int], overhead: bool) -> list[Config]:
    """Every configuration to measure: each function at each memory size, and with
    ``overhead`` once per prefix of its layers."""
    found = []
    for memory_mb in memory:
        for artifact in artifacts:
            chosen = artifact.function.layers
            if not overhead or not chosen:
                found.append(Config(artifact, memory_mb, variant(chosen)))
                continue
            for count in range(len(chosen) + 1):
                prefix = chosen[:count]
                with_prefix = replace(artifact, function=replace(artifact.function,
                                                                 layers=prefix))
                found.append(Config(with_prefix, memory_mb, variant(prefix)))
    return found
