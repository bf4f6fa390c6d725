"""Plug-ins: the runtimes and targets that installed packages register through entry
points (groups ``coldbench.runtimes`` and ``coldbench.targets``), coldbench's own among
them, declared in its pyproject.toml as any other package declares its own."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import metadata
from typing import Callable, Generic, TypeVar

from coldbench.errors import ColdbenchError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """name -> plug-in of one entry-point group, loaded on first use. coldbench's own come
    first, in ``builtin`` order (the order tables list them in); others follow by name."""

    def __init__(self, group: str, kind: str, builtin: tuple[str, ...],
                 make: Callable[[object], T] = lambda loaded: loaded):
        self.group = group
        self.kind = kind                  # "runtime", "target": for messages
        self.builtin = builtin
        self._make = make
        self._loaded: dict[str, T] | None = None
        self._loading = False

    def _load(self) -> dict[str, T]:
        if self._loaded is None:
            if self._loading:
                raise ColdbenchError(f"a {self.kind} plug-in asked for the {self.kind}s while "
                                     "they were being loaded: read them when called, not "
                                     "at import")
            self._loading = True
            try:
                self._loaded = self._discover()
            finally:
                self._loading = False
        return self._loaded

    def _discover(self) -> dict[str, T]:
        found: dict[str, tuple[metadata.EntryPoint, T]] = {}
        for entry in metadata.entry_points(group=self.group):
            if entry.name in found:
                if found[entry.name][0].value == entry.value:
                    continue          # one package seen twice on the path
                raise ColdbenchError(
                    f"{self.kind} '{entry.name}' is registered twice, as "
                    f"{found[entry.name][0].value} and {entry.value}: uninstall one")
            found[entry.name] = entry, self._plugin(entry)
        if not any(name in found for name in self.builtin):
            raise ColdbenchError(f"coldbench's own {self.kind}s are not registered "
                                 f"(entry points '{self.group}'): install coldbench "
                                 "again (pip install -e . in its source folder)")
        order = [n for n in self.builtin if n in found]
        order += sorted(n for n in found if n not in self.builtin)
        return {name: found[name][1] for name in order}

    def _plugin(self, entry: metadata.EntryPoint) -> T:
        try:
            plugin = self._make(entry.load())
        except Exception as exc:
            raise ColdbenchError(f"the {self.kind} plug-in '{entry.name}' ({entry.value}) "
                                 f"failed to load: {type(exc).__name__}: {exc}") from exc
        if getattr(plugin, "name", None) != entry.name:
            raise ColdbenchError(f"the {self.kind} plug-in '{entry.name}' ({entry.value}) "
                                 f"calls itself '{getattr(plugin, 'name', None)}': the entry "
                                 "point's name and the plug-in's must agree")
        return plugin

    def __getitem__(self, name: str) -> T:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"Registry({self.group!r}: {', '.join(self._load())})"
