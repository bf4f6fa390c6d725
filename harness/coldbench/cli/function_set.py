"""``--function-set``, as every command that measures or builds the built-in functions
takes it. Checked by ``measure.options.check``, so a bad name is a usage error (exit 2)
wherever it comes from."""

from __future__ import annotations

import click

from coldbench import function_sets

function_set_option = click.option(
    "--function-set", "function_set", default=function_sets.DEFAULT_SET, show_default=True,
    metavar="SET", help=f"Which built-in functions: {function_sets.help_text()}.")
