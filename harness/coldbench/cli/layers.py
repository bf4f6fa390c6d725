"""The options that give a command's functions their layers: ``--layer PATH`` (repeatable,
in order) and the function setup a layer's own instructions add with it."""

from __future__ import annotations

from pathlib import Path

import click


def layer_options(function):
    """``--layer PATH``, repeatable, in order (``layer_paths``), and the function setup
    that goes with a layer (``layer_envs``, ``layer_handlers``)."""
    function = click.option(
        "--layer-handler", "layer_handlers", multiple=True, metavar="LAYER:HANDLER",
        help="The handler a layer's setup gives the function wherever the layer is (e.g. "
             "datadog:datadog_lambda.handler.handler); LAYER is the --layer's name (its "
             "folder's, or its zip's without .zip).")(function)
    function = click.option(
        "--layer-env", "layer_envs", multiple=True, metavar="LAYER:NAME=VALUE",
        help="A variable a layer's setup adds to the function wherever the layer is (e.g. "
             "otel:AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument). Repeatable.")(function)
    return click.option(
        "--layer", "layer_paths", multiple=True, type=click.Path(path_type=Path),
        help="A Lambda layer for the function: a folder or a .zip, as aws lambda "
             "publish-layer-version takes it. Repeatable, in order: later layers over "
             "earlier ones, at /opt.")(function)


def parsed_layers(settings: dict):
    """The layers of ``layer_options``' values (popped from ``settings``)."""
    from coldbench.workflows.options import parse_layers
    return parse_layers(settings.pop("layer_paths"), settings.pop("layer_envs"),
                        settings.pop("layer_handlers"))
