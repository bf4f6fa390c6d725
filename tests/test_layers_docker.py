"""Layers on the docker target: the merged layers at /opt in the container, read-only, with
the runtime's paths into them, under coldbench's Runtime API (read cold from an image of
their own, on the Lambda-shaped code path) and under AWS's emulator."""

from dataclasses import replace

import pytest

from coldbench import layers
from coldbench.build import Function, build
from coldbench.runtimes import get
from coldbench.targets.docker import plugin as docker_plugin
from coldbench.targets.docker import target as docker_target
from conftest import FIXTURES, invoke_once

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(autouse=True)
def no_container_left(engine):
    yield
    left = [c.name for c in docker_plugin.leftovers(engine)]
    assert not left, f"containers left behind: {left}"


@pytest.mark.parametrize("api, delivery", [("coldbench", "lambda"), ("rie", "host")])
def test_the_container_sees_the_merged_layers_at_opt(engine, tmp_path, api, delivery):
    first = tmp_path / "first" / "python"
    first.mkdir(parents=True)
    (first / "layered.py").write_text("WHO = 'first'\n")
    second = tmp_path / "second"
    (second / "python").mkdir(parents=True)
    (second / "python" / "layered.py").write_text("WHO = 'second'\n")
    (second / "bin").mkdir()
    (second / "bin" / "layer-tool").write_text("#!/bin/sh\necho hi\n")
    (second / "bin" / "layer-tool").chmod(0o755)
    chosen = (layers.load(tmp_path / "first"), layers.load(second))
    function = Function.user(get("python"), FIXTURES / "layer_user", "app.handler")
    artifact = build(replace(function, layers=chosen))
    target = docker_target.DockerTarget(timeout_s=120, images_kind="local", api=api,
                                        delivery=delivery)
    invoked = invoke_once(target, artifact, 512)
    assert invoked.error is None, invoked.error
    response = invoked.response
    assert response["layered"] == "second"
    assert response["layered_file"] == "/opt/python/layered.py"
    assert response["tool"] == "/opt/bin/layer-tool"
    assert response["opt_writable"] is False
    if delivery == "lambda":           # read cold from the layers' own device, counted
        assert invoked.extra["init_read_layers_mb"] > 0
        assert invoked.extra["init_read_mb"] > invoked.extra["init_read_layers_mb"]
