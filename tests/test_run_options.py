"""A run's options are made once and never written afterwards: the checks (``workflows.options
.check``, each target's ``check_options``, ``read_template``) return what to run with."""

import dataclasses

import pytest

from conftest import ROOT
from coldbench.model import RunOptions
from coldbench.targets.local.plugin import HOST_WITHOUT_LIMITS
from coldbench.workflows.options import check, read_template

SAM = ROOT / "examples" / "sam-app" / "template.yaml"


def test_run_options_cannot_be_written():
    options = RunOptions(runtimes=["python"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.provisioned = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.notes = ("adjusted",)


def test_a_check_that_adjusts_returns_a_copy_and_leaves_the_request_alone():
    settings = {"delivery": None}
    asked = RunOptions(runtimes=["python"], target="local", limits=False,
                       target_options=settings, defaulted=frozenset({"delivery"}))
    checked = check(asked)
    assert checked.target_options["delivery"] == "host"
    assert HOST_WITHOUT_LIMITS in checked.notes
    assert check(checked).notes.count(HOST_WITHOUT_LIMITS) == 1      # said once
    assert asked.notes == () and asked.target_options is settings
    assert settings == {"delivery": None}


def test_the_template_is_read_into_a_copy_once():
    asked = RunOptions(runtimes=[], template=SAM)
    found = read_template(asked)
    # the example app: OrdersFunction (python, 256 MB), InventoryFunction (go, 512 MB)
    assert [f.name for f in found.template_functions] == ["OrdersFunction", "InventoryFunction"]
    assert found.runtimes == ["python", "go"] and found.memory == [256, 512]
    assert len(found.notes) == 2 and "placeholders" in found.notes[0]
    assert read_template(found) is found
    assert asked.template_functions is None and asked.runtimes == [] and asked.notes == ()
