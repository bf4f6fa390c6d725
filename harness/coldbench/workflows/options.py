"""What a `coldbench run` is asked to do, checked before anything is built or started, so
bad input leaves nothing half-written. The chosen target checks its own options
(``Target.check_options``)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from coldbench import build, function_sets, layers, runtimes, targets, templates
from coldbench.errors import UsageError
from coldbench.model.config import Config
from coldbench.model.options import (DEFAULT_MEMORY, OWN_URL_TARGETS, URL_TARGETS, VIAS,
                                     RunOptions)
from coldbench.targets.base import Bursts, SweepsIdle

__all__ = ["DEFAULT_MEMORY", "MEMORY_MAX_MB", "MEMORY_MIN_MB", "RunOptions", "check",
           "functions", "parse_memory", "parse_runtimes"]

MEMORY_MIN_MB, MEMORY_MAX_MB = 128, 10240
# "Configure Lambda function timeout": up to a maximum value of 900 seconds (15 minutes)
MAX_TIMEOUT_S = 900


def parse_runtimes(text: str) -> list[str]:
    """``--runtimes``: names and Lambda's identifiers, 'all' standing for every runtime
    `all` takes, at the versions its name stands for ("all,python3.13": and python3.13)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    names = [found for name in names for found in (
        [n for n, runtime in runtimes.RUNTIMES.items() if runtime.in_all]
        if name == "all" else [name])]
    # each runtime by its own name: python3.12 is python
    names = [runtimes.get(name).name for name in names]
    if not names:
        raise UsageError("no runtime given: pass --runtimes all or a list such as python,go")
    return list(dict.fromkeys(names))


def parse_memory(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        try:
            size = int(part)
        except ValueError:
            raise UsageError(f"memory size '{part}' is not a whole number of MB") from None
        if not MEMORY_MIN_MB <= size <= MEMORY_MAX_MB:
            raise UsageError(f"memory size {size} MB is outside Lambda's "
                             f"{MEMORY_MIN_MB}..{MEMORY_MAX_MB} MB")
        sizes.append(size)
    return list(dict.fromkeys(sizes))


def check(options: RunOptions) -> RunOptions:
    """UsageError for what cannot be run; else the options to run with: ``--template``
    read, and the chosen target's rules applied, which may adjust what the user left at its
    default (``options`` itself is never changed)."""
    if options.profile and options.target != "local":     # before the target's own checks
        raise UsageError(f"--profile: profiles are taken on the local target only (each "
                         f"runtime's own profiler is switched on in its launch there); drop "
                         f"--profile or use --target local, not {options.target}")
    if options.template is not None:
        options = read_template(options)
    if options.via not in VIAS:
        raise UsageError(f"unknown --via '{options.via}': choose {', '.join(VIAS)}")
    if options.via == "url" and options.target not in URL_TARGETS + OWN_URL_TARGETS:
        raise UsageError(f"--via url: function URLs are served on this machine for the "
                         f"{' and '.join(URL_TARGETS)} targets, and created for "
                         f"{' and '.join(OWN_URL_TARGETS)}, not {options.target}")
    if options.via == "url" and options.profile:
        raise UsageError("--via url and --profile exclude each other: profile the function "
                         "through the Invoke API")
    options = targets.get(options.target).check_options(options)
    if min(options.cold, options.warm, options.provisioned, options.burst) < 0:
        raise UsageError("sample counts (--cold, --warm, --provisioned, --burst) cannot be "
                         "negative")
    if options.cold + options.warm + options.provisioned + options.burst == 0 \
            and not options.idle:
        raise UsageError("nothing to measure: --cold, --warm and --provisioned are all 0")
    if options.burst and not targets.get(options.target).can(Bursts):
        takers = [name for name, plugin in targets.TARGETS.items() if plugin.can(Bursts)]
        raise UsageError(f"--burst: the {options.target} target starts one environment at "
                         f"a time; bursts are for --target {' or '.join(takers) or '(none)'}")
    if options.idle and not targets.get(options.target).can(SweepsIdle):
        takers = [name for name, plugin in targets.TARGETS.items() if plugin.can(SweepsIdle)]
        raise UsageError(f"--idle: the {options.target} target keeps no environment between "
                         f"invocations; idle sweeps are for --target "
                         f"{' or '.join(takers) or '(none)'}")
    if options.idle_samples < 1:
        raise UsageError("--idle-samples must be at least 1")
    if not (math.isfinite(options.timeout_s) and 0 < options.timeout_s <= MAX_TIMEOUT_S):
        raise UsageError(f"--timeout {options.timeout_s:g}: give seconds above 0 and at most "
                         f"{MAX_TIMEOUT_S}, Lambda's largest function timeout")
    for size in options.memory:
        if not MEMORY_MIN_MB <= size <= MEMORY_MAX_MB:
            raise UsageError(f"memory size {size} MB is outside Lambda's "
                             f"{MEMORY_MIN_MB}..{MEMORY_MAX_MB} MB")
    if options.work < 0:
        raise UsageError("--work must be a non-negative number of SHA-256 rounds")
    if options.profile and options.target_options.get("api") == "rie":
        raise UsageError("--profile needs --api coldbench: under the emulator (--api rie) "
                         "there is no Init Duration to split")
    if options.profile and not options.cold:
        raise UsageError("--profile takes as many profiled cold samples as --cold asks for: "
                         "set --cold to 1 or more")
    if options.function_dir is not None and len(options.runtimes) != 1:
        raise UsageError("--function needs exactly one --runtime")
    if options.layer_overhead and not options.layers:
        raise UsageError("--layer-overhead measures what the function's layers add: give "
                         "them with --layer PATH (repeatable, in order)")
    if len(options.layers) > layers.MAX_LAYERS:     # the sizes wait for the build
        layers.check_limits(options.layers, 0)
    function_sets.get(options.function_set)
    if options.function_dir is not None and options.function_set != function_sets.DEFAULT_SET:
        raise UsageError("--function and --function-set exclude each other: measure your "
                         "own function or a built-in set")
    return options


def read_template(options: RunOptions) -> RunOptions:
    """``options`` with ``--template`` read (once): its functions that can run, the
    runtimes they need, their memory sizes (unless --memory was given), and a note for each
    that cannot run."""
    if options.template_functions is not None:
        return options
    if options.function_dir is not None or options.function_set != function_sets.DEFAULT_SET:
        raise UsageError("--template measures the functions of an app's definition: drop "
                         "--function and --function-set")
    app = templates.read(options.template, options.env_vars, options.layer_dirs)
    app = app.select(options.function_names)
    found = app.functions()
    # on Lambda, without --arch, each function is deployed for its own architecture
    deployed_as_defined = (options.target == "aws"
                           and "architectures" in options.defaulted)
    options = options.adjusted(*app.notes, *app.function_notes(deployed_as_defined),
                               template_functions=found,
                               runtimes=list(dict.fromkeys(f.runtime.name for f in found)))
    if options.template_memory:
        options = options.adjusted(memory=sorted({f.configuration.memory_mb for f in found}))
    return options


def configurations(options: RunOptions, artifacts: list[build.Artifact]) -> list[Config]:
    """What is measured: every function at every memory size; a template's functions at
    their own memory size each, unless --memory was given."""
    if options.template is not None and options.template_memory:
        return [Config(a, a.function.configuration.memory_mb) for a in artifacts]
    return [Config(a, m) for m in options.memory for a in artifacts]


def functions(options: RunOptions) -> list[build.Function]:
    """The functions to build and measure, each with the run's layers (a template's
    functions as its definition makes them)."""
    if options.template is not None:
        options = read_template(options)
        return [replace(function, layers=function.layers + tuple(options.layers),
                        runtime=function.runtime.building_for(options))
                for function in options.template_functions]
    if options.function_dir is not None:
        chosen = [build.Function.user(runtimes.get(options.runtimes[0]).building_for(options),
                                      options.function_dir, options.handler)]
    else:
        chosen = [build.Function.builtin(runtimes.get(name).building_for(options),
                                         options.function_set)
                  for name in options.runtimes]
    return [replace(function, layers=tuple(options.layers)) for function in chosen]


def parse_layers(paths, envs=(), handlers=()) -> tuple[build.Layer, ...]:
    """``--layer`` paths as layers, in order, with what ``--layer-env LAYER:NAME=VALUE``
    and ``--layer-handler LAYER:HANDLER`` set up with each (LAYER: its name, the folder's
    or the zip's without .zip); UsageError for one that is not a layer."""
    loaded = [layers.load(Path(path)) for path in paths]
    by_name = {layer.name: index for index, layer in enumerate(loaded)}

    def target(option: str, text: str) -> tuple[int, str]:
        name, _, rest = text.partition(":")
        if name not in by_name or not rest:
            raise UsageError(f"{option} {text}: expected LAYER:{'NAME=VALUE' if option.endswith('env') else 'HANDLER'}"
                             f" with LAYER one of the --layer names "
                             f"({', '.join(by_name) or 'none given'})")
        return by_name[name], rest

    for text in envs:
        index, setting = target("--layer-env", text)
        variable, equals, value = setting.partition("=")
        if not equals or not variable:
            raise UsageError(f"--layer-env {text}: expected LAYER:NAME=VALUE")
        loaded[index] = replace(loaded[index], env=(*loaded[index].env, (variable, value)))
    for text in handlers:
        index, handler = target("--layer-handler", text)
        loaded[index] = replace(loaded[index], handler=handler)
    return tuple(loaded)
