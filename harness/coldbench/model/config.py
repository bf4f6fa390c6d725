"""A configuration: what is measured (a built function at a memory size, in a variant), its
key and label in results and tables, the order runtimes are shown in, and the plan of
samples taken of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata

from coldbench.model.artifact import Artifact
from coldbench.model.variant import Variant

BUILTIN_FUNCTION = "coldbench"      # the function every runtime ships; others are users'
# coldbench's own runtimes, in the order tables list them; plug-ins follow by name
BUILTIN_RUNTIMES = ("python", "node", "go", "java", "rust", "provided")
RUNTIME_GROUP = "coldbench.runtimes"     # the entry-point group runtimes register in


@lru_cache(maxsize=1)
def _registered_runtimes() -> tuple[str, ...]:
    """The runtimes' names in registry order (``coldbench.plugins.Registry``): coldbench's
    own, then plug-ins by name. Read from the entry points' names: nothing is loaded."""
    names = {entry.name for entry in metadata.entry_points(group=RUNTIME_GROUP)}
    return (tuple(n for n in BUILTIN_RUNTIMES if n in names)
            + tuple(sorted(names - set(BUILTIN_RUNTIMES))))


def runtime_rank(runtime: str) -> tuple[int, str]:
    """Where a runtime sorts: in the order of the runtime registry, a version of one named
    by Lambda's identifier after it ("python", "python3.13": the identifier begins with
    the runtime's name), runtimes it does not know after them, by name."""
    names = _registered_runtimes()
    if runtime in names:
        return (names.index(runtime), "")
    language = max((n for n in names if runtime.startswith(n)), key=len, default=None)
    return (names.index(language), runtime) if language else (len(names), runtime)


@dataclass(frozen=True)
class ConfigKey:
    """One configuration: what the samples of a row of the table have in common."""

    function: str
    runtime: str
    memory_mb: int
    variant: Variant = field(default_factory=Variant)

    @property
    def label(self) -> str:
        """The configuration without its memory size: "python", "fn (python) arm64"."""
        name = (self.runtime if self.function == BUILTIN_FUNCTION
                else f"{self.function} ({self.runtime})")
        variant = self.variant.label()
        return name if variant is None else f"{name} {variant}"

    def __str__(self) -> str:
        return f"{self.label} {self.memory_mb} MB"

    @classmethod
    def of(cls, record: dict) -> "ConfigKey":
        """The configuration a stored record names by its ``function``, ``runtime``,
        ``memory_mb`` and structured ``variant``: a profile of ``run.profiles``."""
        return cls(record["function"], record["runtime"], record["memory_mb"],
                   Variant.from_json(record.get("variant")))

    def to_json(self) -> dict:
        """The key as documents and tables print it: the variant in words (None if empty)."""
        return {"function": self.function, "runtime": self.runtime,
                "memory_mb": self.memory_mb, "variant": self.variant.label()}

    @property
    def order(self) -> tuple:
        """Sort key of tables and charts: runtime, function, variant, memory size."""
        return (*runtime_rank(self.runtime), self.function, self.variant.label() or "",
                self.memory_mb)


@dataclass(frozen=True)
class Config:
    """A configuration to measure: a built function at a memory size, in a variant (what
    else sets it apart on its target; empty where runtime and memory say it all)."""

    artifact: Artifact
    memory_mb: int
    variant: Variant = field(default_factory=Variant)

    @property
    def runtime(self) -> str:
        return self.artifact.function.runtime.name

    @property
    def key(self) -> ConfigKey:
        return ConfigKey(self.artifact.function.name, self.runtime, self.memory_mb,
                         self.variant)


@dataclass(frozen=True)
class Plan:
    """The samples taken of each configuration."""

    cold: int
    warm: int
    provisioned: int
    event: dict
    burst: int = 0                    # invocations sent at once, per configuration, at the end
    idle: tuple[float, ...] = ()      # idle intervals (s), swept at the end
    idle_samples: int = 0             # per configuration and interval

    def total(self, configs: int) -> int:
        return configs * (self.cold + self.warm + self.provisioned + self.burst
                          + len(self.idle) * self.idle_samples)
