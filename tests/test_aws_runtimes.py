"""Which Lambda runtime identifier the AWS target deploys, by AWS's deprecation schedule
(data/lambda-runtimes-2026-12.csv), on a given day: defaults, `latest`, refusals and
warnings, and the AWS reference figure that follows the identifier deployed."""

from datetime import date

import pytest

from conftest import make_sample

from coldbench.analysis import reference
from coldbench.analysis.summary import summarize_samples
from coldbench.errors import UsageError
from coldbench.model import Variant
from coldbench.render.table import HEADERS, rows
from coldbench.targets.aws import lambda_runtimes as schedule
from coldbench.workflows.options import RunOptions, check

DEC_2026 = date(2026, 12, 1)
GUIDE_ROWS = ["python", "node", "java"]


def test_the_table_holds_every_identifier_asked_for_with_consistent_dates():
    wanted = {f"python3.{n}" for n in range(9, 15)} | {"nodejs18.x", "nodejs20.x", "nodejs22.x",
              "nodejs24.x", "java8.al2", "java11", "java17", "java21", "java25", "dotnet8",
              "dotnet10", "provided.al2", "provided.al2023", "ruby3.2", "ruby3.3", "ruby3.4"}
    table = schedule.table()
    assert wanted <= set(table)
    for runtime in table.values():
        assert runtime.deprecation <= runtime.block_create <= runtime.block_update, runtime
        if runtime.successor:
            following = table[runtime.successor]
            assert following.language == runtime.language
            assert following.version > runtime.version
    # AWS's published schedule
    assert table["nodejs18.x"].deprecation == date(2025, 9, 1)
    assert table["nodejs20.x"].deprecation == date(2026, 4, 30)


@pytest.mark.parametrize("day, status", [
    (date(2026, 4, 29), "supported"), (date(2026, 4, 30), "deprecated"),
    (date(2027, 1, 31), "deprecated"), (date(2027, 2, 1), "create-blocked"),
    (date(2027, 3, 3), "update-blocked")])
def test_the_status_of_an_identifier_follows_its_dates(day, status):
    assert schedule.status("nodejs20.x", day) == status


def test_defaults_on_2026_12_01_are_the_guide_rows_lambda_supports_else_the_nearest_successor():
    choices = schedule.choose(GUIDE_ROWS, None, DEC_2026)
    assert {name: c.identifier for name, c in choices.items()} == {
        "python": "python3.12", "node": "nodejs22.x", "java": "java21"}
    assert choices["python"].note is None and choices["java"].note is None
    note = choices["node"].note
    assert note.startswith("node: deploying nodejs22.x, not nodejs20.x")
    assert "deprecated since 2026-04-30" in note and "from 2027-02-01" in note
    # when Node.js 22 is deprecated in its turn, the default moves on again
    assert schedule.choose(["node"], None, date(2027, 5, 1))["node"].identifier == "nodejs24.x"


def test_latest_is_the_newest_supported_per_language():
    choices = schedule.choose(GUIDE_ROWS + ["go"], "latest", DEC_2026)
    assert {name: c.identifier for name, c in choices.items()} == {
        "python": "python3.14", "node": "nodejs24.x", "java": "java25", "go": "provided.al2023"}
    assert "--lambda-runtime latest" in choices["node"].note
    assert schedule.choose(["node"], "node=latest", DEC_2026)["node"].identifier == "nodejs24.x"


def test_a_bare_identifier_applies_to_the_runtimes_of_its_language():
    choices = schedule.choose(["python", "node"], "nodejs24.x", DEC_2026)
    assert choices["node"].identifier == "nodejs24.x" and choices["node"].note is None
    assert choices["python"].identifier == "python3.12"
    with pytest.raises(UsageError, match="nodejs22.x is a nodejs runtime; python needs a python"):
        schedule.choose(["python"], "python=nodejs22.x", DEC_2026)


def test_a_deprecated_identifier_is_taken_with_a_warning():
    choice = schedule.choose(["node"], "nodejs18.x", DEC_2026)["node"]
    assert choice.identifier == "nodejs18.x"
    assert choice.note == (
        "node: nodejs18.x is deprecated since 2025-09-01 (no more patches) and Lambda blocks "
        "creating functions with it from 2027-02-01; its successor is nodejs20.x; the nearest "
        "one Lambda supports on 2026-12-01 is nodejs22.x: pass --lambda-runtime "
        "node=nodejs22.x (or latest)")


def test_an_identifier_lambda_creates_no_functions_with_is_refused_with_its_date_and_successor():
    with pytest.raises(UsageError) as refused:
        schedule.choose(["node"], "node=nodejs18.x", date(2027, 2, 1))
    assert str(refused.value) == (
        "node: Lambda blocks creating functions with nodejs18.x since 2027-02-01 (deprecated "
        "since 2025-09-01); its successor is nodejs20.x; the nearest one Lambda supports on "
        "2027-02-01 is nodejs22.x: pass --lambda-runtime node=nodejs22.x (or latest); "
        "nothing was created")
    with pytest.raises(UsageError, match="since 2024-01-09 .* successor is python3.8"):
        schedule.choose(["python"], "python3.7", DEC_2026)


def aws_options(**settings) -> RunOptions:
    return RunOptions(runtimes=["python", "node"], target="aws",
                      target_options={"region": "us-east-1", "today": DEC_2026, **settings})


def test_the_run_checks_say_which_identifier_and_why_once():
    options = check(check(aws_options()))     # the checks may run more than once
    assert [n for n in options.notes if "nodejs22.x" in n] == [
        schedule.choose(["node"], None, DEC_2026)["node"].note]
    with pytest.raises(UsageError, match="functions with nodejs14.x since 2024-01-09"):
        check(aws_options(lambda_runtimes="node=nodejs14.x"))


def test_the_aws_reference_follows_the_identifier_deployed():
    assert reference.aws_init_ms("node") == (138.5, "mean")            # nodejs20.x's row
    assert reference.aws_init_ms("node", "nodejs22.x") == (140.3, "p50")
    assert reference.aws_init_ms("node", "nodejs24.x") == (135.2, "mean")
    assert reference.aws_init_ms("go", "provided.al2023") == (49.8, "p50")
    assert reference.aws_init_ms("python", "python3.9") is None         # no figure, not another's

    (config,) = summarize_samples([
        make_sample(runtime="node", init_ms=150.0, duration_ms=2.0, e2e_ms=300.0,
                    billed_ms=152.0, max_memory_mb=60.0, variant=Variant(architecture="x86_64"),
                    extra={"lambda_runtime": "nodejs22.x"}) for _ in range(2)])
    assert config.lambda_runtime == "nodejs22.x"
    (row,) = rows([config])
    assert row[HEADERS.index("Init p50 (AWS)")] == "150.0 (140.3)"
