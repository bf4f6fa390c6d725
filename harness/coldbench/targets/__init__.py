"""The places coldbench runs functions: every one a ``targets.base.Target``, plugged in by
a ``targets.base.TargetPlugin`` registered by an entry point in the group
``coldbench.targets``, coldbench's own included. What the command line offers for
targets (options, the checks that an option given is for the chosen target, `coldbench
cleanup`) is gathered here from the registered plug-ins, so
adding a target changes neither the command line nor the measurement. Heavy client
libraries (docker, boto3) are imported only when a target uses them."""

from __future__ import annotations

from coldbench.errors import UsageError
from coldbench.plugins import Registry
from coldbench.targets.base import (Environment, Invoked, Leftover, NotSearched, Option,
                                    Target, TargetPlugin)

# coldbench's own, in the order --help lists them; plug-ins follow by name
BUILTIN = ("local", "docker", "aws")

#: name -> the target's plug-in
TARGETS: Registry[type[TargetPlugin]] = Registry("coldbench.targets", "target", BUILTIN)


def get(name: str) -> type[TargetPlugin]:
    """The plug-in of the target called ``name``."""
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target '{name}': choose from {', '.join(TARGETS)}") from None


def make(name: str, options) -> Target:
    """The target called ``name``, configured from the run's options."""
    return get(name).from_options(options)


def options(command: str) -> list[tuple[Option, list[str]]]:
    """Every option the registered targets declare for ``command`` ("run" or "cleanup"),
    once per flag, with the names of the targets that take it."""
    found: dict[str, tuple[Option, list[str]]] = {}
    for name, target in TARGETS.items():
        for option in _declared(target, command):
            found.setdefault(option.flag, (option, []))[1].append(name)
    return list(found.values())


def settings(target: type[TargetPlugin], command: str, values: dict) -> dict:
    """The values of the options ``target`` takes for ``command``, by key."""
    return {option.key: values.get(option.key) for option in _declared(target, command)}


def refuse_others(chosen: str, command: str, given: set[str]) -> None:
    """UsageError naming the first option in ``given`` (keys the user set explicitly) that
    is not for target ``chosen``: "--copies is for --target aws"."""
    own = {option.key for option in _declared(get(chosen), command)}
    for option, owners in options(command):
        if option.key in given and option.key not in own:
            raise UsageError(f"{option.flag} is for --target {' or '.join(owners)}")


def find_leftovers(values: dict, chosen: str | None = None,
                   skipped=lambda name, reason: None) -> list[tuple[type[TargetPlugin], Leftover]]:
    """What killed runs left behind: of target ``chosen``, or of every target, each given
    the values of its cleanup options. A target that cannot search without a setting not
    given is skipped (``skipped(name, reason)``) unless it was chosen."""
    found = []
    for name in [chosen] if chosen else list(TARGETS):
        target = get(name)
        try:
            leftovers = target.find_leftovers(settings(target, "cleanup", values))
        except NotSearched as exc:
            if chosen:
                raise
            skipped(name, str(exc))
            continue
        found += [(target, leftover) for leftover in leftovers]
    return found


def _declared(target: type[TargetPlugin], command: str) -> tuple[Option, ...]:
    return target.run_options if command == "run" else target.cleanup_options


__all__ = ["BUILTIN", "Environment", "Invoked", "Leftover", "NotSearched", "Option", "Target",
           "TARGETS", "TargetPlugin", "find_leftovers", "get", "make", "options", "refuse_others",
           "settings"]
