"""``--template FILE`` and its companions, as every command that measures or builds
functions takes them: the functions of an app's definition (``coldbench.templates``)."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from coldbench.errors import UsageError


def template_options(function):
    """Add --template, --function-name, --env-vars and --layer-dir to a command."""
    for option in reversed((
        click.option("--template", "template", type=click.Path(path_type=Path),
                     help="Measure the functions of an app's definition: an AWS SAM or "
                          "CloudFormation template (YAML or JSON), a CDK cdk.out folder or "
                          "a Serverless Framework serverless.yml. Each function is a row "
                          "under its own name, at its own memory size unless --memory."),
        click.option("--function-name", "function_names", multiple=True, metavar="NAME",
                     help="With --template: only this function (logical id or Serverless "
                          "name); repeatable. Default: every function."),
        click.option("--env-vars", "env_vars", type=click.Path(path_type=Path),
                     help="With --template: variables in SAM CLI's --env-vars format (JSON: "
                          "\"Parameters\" for every function, or one object per function)."),
        click.option("--layer-dir", "layer_dirs", multiple=True, metavar="ARN=DIR",
                     help="With --template: the local content of a layer given by ARN."),
    )):
        function = option(function)
    return function


def template_settings(template, function_names, env_vars, layer_dirs) -> dict:
    """The RunOptions fields of these options; UsageError for a companion without
    --template."""
    if template is None and (function_names or env_vars or layer_dirs):
        raise UsageError("--function-name, --env-vars and --layer-dir go with --template")
    if template is not None and not own_memory("runtimes"):
        raise UsageError("--template: each function's runtime comes from its definition; "
                         "drop --runtimes (pick functions with --function-name)")
    return {"template": template, "function_names": tuple(function_names),
            "env_vars": env_vars, "layer_dirs": tuple(layer_dirs)}


def own_memory(parameter: str = "memory") -> bool:
    """Whether the option ``parameter`` of the current command was left at its default:
    for the memory option, whether template functions keep their own memory size."""
    source = click.get_current_context().get_parameter_source(parameter)
    return source in (None, ParameterSource.DEFAULT)
