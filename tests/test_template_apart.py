"""An app's functions stay apart after the run, by name: two functions of one runtime at
one memory size (whose rows differ only in the function's name) are two configurations in
`compare`, two in the history and two pages of the site. Only one of them slows down
between the runs (a variable set with --env-vars makes its init sleep), and only it is
called slower."""

import json

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow

HANDLER = """import os
import time

time.sleep(float(os.environ["INIT_SLEEP_S"]))
invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    return {"cold": invocations == 1}
"""

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    MemorySize: 256
    Environment:
      Variables:
        INIT_SLEEP_S: "0"
Resources:
  Alpha:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: alpha/
  Beta:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: beta/
"""


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app")
    for name in ("alpha", "beta"):
        (folder / name).mkdir()
        (folder / name / "app.py").write_text(HANDLER)
    (folder / "template.yaml").write_text(TEMPLATE)
    (folder / "slower.json").write_text(json.dumps({"Alpha": {"INIT_SLEEP_S": "0.25"}}))
    history = folder / "history"
    runs = []
    for index, extra in enumerate(([], ["--env-vars", folder / "slower.json"])):
        output = folder / f"run{index}.json"
        result = run_cli("run", "--template", folder / "template.yaml", *extra, "--cold", 6,
                         "--warm", 2, "--provisioned", 0, "--output", output,
                         "--history", history, "--quiet", timeout=600)
        assert result.returncode == 0, result.stderr
        runs.append(output)
    return folder, runs, history


def test_compare_keeps_template_functions_apart(two_runs):
    folder, (base, new), history = two_runs
    result = run_cli("compare", base, new, "--format", "json")
    rows = {(row["function"], row["mode"]): row for row in json.loads(result.stdout)}
    assert sorted(rows) == [("Alpha", "cold"), ("Alpha", "warm"), ("Beta", "cold"),
                            ("Beta", "warm")]
    assert rows[("Alpha", "cold")]["regression"]
    assert rows[("Alpha", "cold")]["new_p50"] > rows[("Alpha", "cold")]["base_p50"] + 200
    assert not rows[("Beta", "cold")]["regression"]
    assert rows[("Beta", "cold")]["new_n"] == 6


def test_history_and_site_keep_template_functions_apart(two_runs, tmp_path):
    folder, runs, history = two_runs
    import csv
    with (history / "index.csv").open() as index:
        rows = list(csv.DictReader(index))
    assert {(row["function"], row["runtime"], row["memory_mb"], row["mode"]) for row in rows} \
        == {(name, "python", "256", mode) for name in ("Alpha", "Beta")
            for mode in ("cold", "warm")}
    assert len(rows) == 2 * 2 * 2                   # runs x functions x modes
    site = tmp_path / "site"
    result = run_cli("publish", site, "--history", history)
    assert result.returncode == 0, result.stderr
    alpha, beta = (site / "local-Alpha.html").read_text(), (site / "local-Beta.html").read_text()
    assert "Alpha" in alpha and "Beta" not in alpha
    assert "Beta" in beta and "Alpha" not in beta
