"""What the commands share: the targets' own options, which options the user gave, and a
yes/no question on a terminal."""

from __future__ import annotations

import inspect
import sys

import click
from click.core import ParameterSource

from coldbench import targets
from coldbench.errors import ColdbenchError
from coldbench.model.options import DEFAULT_PYTHON_BYTECODE, PYTHON_BYTECODES

__all__ = ["confirm_on_terminal", "given", "target_options"]


def confirm_on_terminal(question: str) -> bool:
    """Ask on a terminal; without one, the answer is no (--yes is the way to go on)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    return click.confirm(question, default=False, err=True)


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
