"""What the commands share: the targets' own options, which options the user gave, and a
yes/no question on a terminal."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from coldbench import targets
from coldbench.errors import ColdbenchError
from coldbench.analysis import compare as comparing
from coldbench.model.options import (DEFAULT_COLD, DEFAULT_MEMORY, DEFAULT_PROVISIONED,
                                     DEFAULT_PYTHON_BYTECODE, DEFAULT_TIMEOUT_S, DEFAULT_WARM,
                                     DEFAULT_WORK, PYTHON_BYTECODES)
from coldbench.results.schema import MODES

__all__ = ["HISTORY_HELP", "MEMORY_DEFAULT", "comparison_options", "confirm_on_terminal",
           "given", "history_option", "python_bytecode_option", "sample_options",
           "target_options", "timeout_option", "work_option"]

# --memory unless given: the model's default sizes
MEMORY_DEFAULT = ",".join(map(str, DEFAULT_MEMORY))
HISTORY_HELP = "History folder that RUN names refer to (latest, latest~N, a run id)."


def confirm_on_terminal(question: str) -> bool:
    """Ask on a terminal; without one, the answer is no (--yes is the way to go on)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    return click.confirm(question, default=False, err=True)


# options several commands take -----------------------------------------------------------

def sample_options(per: str = "configuration"):
    """--cold, --warm and --provisioned, with the model's defaults (``RunOptions``): samples
    per ``per``."""
    counts = (("--cold", DEFAULT_COLD, "Cold samples"),
              ("--warm", DEFAULT_WARM, "Warm samples"),
              ("--provisioned", DEFAULT_PROVISIONED, "Provisioned-concurrency samples"))

    def decorate(function):
        for flag, default, what in reversed(counts):
            function = click.option(flag, default=default, show_default=True,
                                    help=f"{what} per {per}.")(function)
        return function
    return decorate


def work_option(help: str = "SHA-256 rounds each invocation computes."):
    """--work, the model's default."""
    return click.option("--work", default=DEFAULT_WORK, show_default=True, help=help)


def timeout_option(help: str = "Seconds allowed for init and for each invocation."):
    """--timeout (``timeout_s``), the model's default."""
    return click.option("--timeout", "timeout_s", default=DEFAULT_TIMEOUT_S, show_default=True,
                        help=help)


def comparison_options(function):
    """--min-change, --alpha and --mode: when a change between two samples counts
    (``analysis.compare``)."""
    for option in reversed((
            click.option("--min-change", default=f"{comparing.MIN_CHANGE:.0%}",
                         show_default=True, help="Smallest change of the median that counts."),
            click.option("--alpha", default=comparing.ALPHA, show_default=True,
                         help="Significance level of the Mann-Whitney U test."),
            click.option("--mode", "modes", default=",".join(MODES), show_default=True,
                         help="Modes to compare, comma-separated."))):
        function = option(function)
    return function


def history_option(help: str = HISTORY_HELP, default: str | None = "results"):
    """--history: a history folder (``coldbench.analysis.history``), ``default`` (also
    from $COLDBENCH_HISTORY) unless None."""
    settings = {"type": click.Path(path_type=Path), "help": help}
    if default is not None:
        settings |= {"default": default, "show_default": True, "envvar": "COLDBENCH_HISTORY"}
    return click.option("--history", "history_dir", **settings)


# the targets' own options ----------------------------------------------------------------

def target_options(command: str):
    """Add the options the registered targets declare for ``command`` ("run", "cleanup"),
    after the command's own (decorate the function with it first); the function takes
    them as ``**settings``."""
    def decorate(function):
        own = set(inspect.signature(function).parameters)
        for option, owners in reversed(targets.options(command)):
            if option.key in own:
                raise ColdbenchError(f"the {'/'.join(owners)} target's option {option.flag} "
                                     f"clashes with an option of coldbench {command}")
            scope = f"{' and '.join(owners)} target{'s' if len(owners) > 1 else ''}"
            settings = {"help": f"{scope}: {option.help}"}
            if option.type is bool:
                settings["is_flag"] = True
            else:
                settings |= {"type": click.Choice(option.choices) if option.choices
                             else option.type, "default": option.default,
                             "show_default": option.default is not None}
            function = click.option(option.flag, option.key, **settings)(function)
        return function
    return decorate


def given(context: click.Context, names) -> set[str]:
    """Which of the parameters ``names`` the user set (on the command line or through a
    variable), not left at their default."""
    return {name for name in names
            if context.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)}


python_bytecode_option = click.option(
    "--python-bytecode", default=DEFAULT_PYTHON_BYTECODE, show_default=True,
    type=click.Choice(PYTHON_BYTECODES),
    help="How a Python function's own and its dependencies' bytecode reaches Lambda "
         "(local and docker targets; the runtime client and the standard library stay as "
         "Lambda's runtime brings them): stale, as SAM, the CDK and the Serverless "
         "Framework deliver it (zip entries dated 1980: every .pyc is rejected and its "
         "module compiled at each cold start); none, no .pyc (sam build's default); "
         "valid, .pyc Python uses (hash-based .pyc, or a zip that keeps the files' dates). "
         "docs/fidelity.md, section 3b.")
