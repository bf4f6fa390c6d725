"""`coldbench mitigate`: a known answer on a real runtime (a 10 MB package the function
never imports is found with its size, and a build without it is measured), the rows that
do not apply on the local target, and bad input."""

import json
import random
import re

import pytest

from coldbench.analysis import mitigation
from coldbench.errors import EXIT_FAILED_SAMPLES, EXIT_OK, EXIT_USAGE
from coldbench.runtimes.node import node_package_of, node_packages
from conftest import run_cli, shows

UNUSED_BYTES = 10_000_000
COLD = 3


def function_with_unused_package(folder, size=UNUSED_BYTES):
    """A Python function that imports a small package of its task root and carries a
    ``size``-byte one (10 MB) it never imports (made here, the same bytes every time)."""
    folder.mkdir()
    (folder / "app.py").write_text(
        "import os\n\nimport helper\n\nPROVISIONED = os.environ.get("
        "\"AWS_LAMBDA_INITIALIZATION_TYPE\") == \"provisioned-concurrency\"\n\n\n"
        "def handler(event, context):\n"
        "    return {\"cold\": helper.invocations() == 1 and not PROVISIONED}\n")
    (folder / "helper").mkdir()
    (folder / "helper" / "__init__.py").write_text(
        "_count = 0\n\n\ndef invocations():\n    global _count\n    _count += 1\n"
        "    return _count\n")
    (folder / "bigpkg").mkdir()
    (folder / "bigpkg" / "__init__.py").write_text("from bigpkg.tables import TABLE\n")
    (folder / "bigpkg" / "tables.py").write_text("TABLE = {}\n")
    (folder / "bigpkg" / "data.bin").write_bytes(random.Random(9).randbytes(size))
    return folder


@pytest.fixture(scope="module")
def mitigated(tmp_path_factory):
    """One real `coldbench mitigate` of that function, with its JSON document."""
    folder = function_with_unused_package(tmp_path_factory.mktemp("mitigate") / "bloated")
    output = folder.parent / "mitigate.json"
    result = run_cli("mitigate", "--runtime", "python", "--function", folder,
                     "--memory", "512,1769", "--cold", COLD, "--warm", 3, "--provisioned", 2,
                     "--profile-samples", 1, "--compare", "go", "--output", output, "--quiet",
                     timeout=300)
    return result, json.loads(output.read_text())


def measured_column(table: str, strategy: str) -> str:
    """The text of a row's Measured cell, its wrapped lines joined."""
    found, inside = [], False
    for line in table.splitlines():
        if not line.startswith("|"):
            inside = False
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0]:
            inside = cells[0] == strategy
        if inside:
            found.append(cells[2])
    return " ".join(filter(None, found))


def row(doc: dict, key: str) -> dict:
    return next(r for r in doc["strategies"] if r["strategy"] == key)


@pytest.mark.slow
def test_the_unused_package_is_listed_with_its_size(mitigated):
    result, doc = mitigated
    assert result.returncode == EXIT_OK, result.stderr
    package = row(doc, "package")
    assert package["figures"]["unused"] == ["bigpkg"]
    (big,) = [p for p in package["figures"]["packages"] if p["name"] == "bigpkg"]
    assert big["size_bytes"] == pytest.approx(UNUSED_BYTES, rel=0.01)
    # the package the handler imports was loaded, so it is not listed
    assert {p["name"] for p in package["figures"]["packages"]} >= {"helper", "bigpkg"}
    assert "helper" in doc["loaded"] and "bigpkg" not in doc["loaded"]
    shown = measured_column(result.stdout, "Smaller deployment packages")
    assert "bigpkg 10.0 MB" in shown
    assert "not loaded by these events is not proof of unused" in shown


@pytest.mark.slow
def test_the_trimmed_build_is_measured_and_shown(mitigated):
    result, doc = mitigated
    package = row(doc, "package")
    trimmed = [s for s in package["samples"] if s.get("variant") == {"version": "trimmed"}]
    before = [s for s in package["samples"] if s.get("variant") is None]
    assert len(trimmed) == len(before) == COLD
    assert all(s["error"] is None and s["init_ms"] > 0 for s in trimmed + before)
    figures = package["figures"]
    assert figures["cold_start_trimmed"]["n"] == figures["cold_start_before"]["n"] == COLD
    assert figures["cold_start_trimmed"]["p50_ms"] > 0
    shown = measured_column(result.stdout, "Smaller deployment packages")
    # read without spaces: the cell wraps where the numbers' widths put it, inside "->" too
    cell = re.search(r"coldstartp50([\d.,]+)ms\(n(\d+)\)->([\d.,]+)ms\(n(\d+)\)",
                     shown.replace(" ", ""))
    assert cell, shown
    before_ms, before_n, after_ms, after_n = cell.groups()
    assert (int(before_n), int(after_n)) == (COLD, COLD)
    for shown_ms, key in ((before_ms, "cold_start_before"), (after_ms, "cold_start_trimmed")):
        assert shows(shown_ms, figures[key]["p50_ms"]), (shown_ms, figures[key])
    # a package never imported is never read: init reads no more code with it than without
    # (where the code is delivered as on Lambda, which counts what init reads)
    if "init_read_mb_before" in figures:
        assert figures["init_read_mb_trimmed"] == pytest.approx(
            figures["init_read_mb_before"], abs=0.5)
        # so on Lambda, where a .zip is fetched whole before init, the 10 MB cost no Init
        # Duration: only what init reads is priced (calibration, code delivery)
        assert abs(figures["predicted_aws_init_change_ms"]) < 10
        assert "never loaded cost no Init Duration" in shown


@pytest.mark.slow
def test_the_other_rows_are_measured(mitigated):
    _, doc = mitigated
    provisioned = row(doc, "provisioned")["figures"]
    assert provisioned["provisioned"]["n"] == 2 and provisioned["cold_start"]["n"] == COLD
    assert provisioned["removed_ms"] > 0
    sizes = row(doc, "memory")["figures"]["sizes"]
    assert [s["memory_mb"] for s in sizes] == [512, 1769]
    assert all(s["usd_per_million"] > 0 and s["cold_start"]["n"] == COLD for s in sizes)
    # more memory costs more per million for a function whose duration hardly changes
    assert sizes[1]["usd_per_million"] > sizes[0]["usd_per_million"]
    assert row(doc, "runtime")["figures"]["built_in"]["go"]["n"] == COLD


@pytest.mark.slow
def test_aws_only_rows_say_so_on_local(mitigated):
    result, doc = mitigated
    for key in ("snapstart", "keep_warm"):
        found = row(doc, key)
        assert not found["applies"] and found["samples"] == []
        assert found["measured"] == ["applies to --target aws only"]
    for name in ("SnapStart", "Keep-warm pings"):
        assert measured_column(result.stdout, name) == "applies to --target aws only"


@pytest.mark.parametrize("args, says", [
    (["--runtime", "cobol"], "cobol"),
    (["--runtime", "python", "--memory", "64"], "64 MB"),
    (["--runtime", "python", "--cold", "0"], "--cold"),
    (["--runtime", "python", "--compare", "go,cobol"], "cobol"),
    (["--runtime", "python", "--function", "/nonexistent/function"], "not a readable folder"),
    (["--runtime", "python", "--target", "aws"], "--target aws needs --region"),
    (["--runtime", "python", "--keep-warm", "10m"], "--keep-warm is for --target aws"),
    (["--runtime", "python", "--target", "aws", "--region", "us-east-1", "--keep-warm", "soon"],
     "--keep-warm"),
])
def test_bad_input_exits_2_before_measuring(tmp_path, args, says):
    output = tmp_path / "mitigate.json"
    result = run_cli("mitigate", *args, "--output", output, "--quiet", timeout=120)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not output.exists()


def test_node_module_paths_name_their_package():
    """Module paths as the Node.js profile names them, to the package they lie in."""
    assert node_package_of("node_modules/lodash/index.js") == "lodash"
    assert (node_package_of("node_modules/@aws-sdk/client-s3/dist/index.js")
            == "@aws-sdk/client-s3")
    assert node_package_of("node_modules/a/node_modules/b/x.js") == "a"
    assert node_package_of("/var/task/node_modules/ms/index.js") == "ms"
    assert node_package_of("index.js") is None and node_package_of("node:fs") is None



def test_node_packages_leave_out_the_clients_own(tmp_path):
    """node_modules packages of a built task root: the runtime interface client and what
    only it depends on (the lock file says) are Lambda's runtime's, not the function's."""
    from coldbench import runtimes
    from coldbench.build import Artifact, Function

    root = tmp_path / "task"
    sizes = {"aws-lambda-ric": 10, "ric-only": 20, "shared": 30, "mine": 40,
             "@scope/unused": 50_000}
    for name, size in sizes.items():
        (root / "node_modules" / name).mkdir(parents=True)
        (root / "node_modules" / name / "index.js").write_bytes(b"x" * size)
    (root / "node_modules" / "mine" / "node_modules" / "nested").mkdir(parents=True)
    lock = {"packages": {
        "": {"dependencies": {"aws-lambda-ric": "3.3.0", "mine": "1", "@scope/unused": "1"}},
        "node_modules/aws-lambda-ric": {"dependencies": {"ric-only": "1", "shared": "1"}},
        "node_modules/ric-only": {},
        "node_modules/shared": {},
        "node_modules/mine": {"dependencies": {"nested": "1"}},
        "node_modules/mine/node_modules/nested": {"dependencies": {"shared": "1"}},
        "node_modules/@scope/unused": {}}}
    (root / "package-lock.json").write_text(json.dumps(lock))
    node = runtimes.get("node")
    artifact = Artifact(Function("fn", node, tmp_path, "index.handler"), root, "0", "node")
    found = {p.name: p for p in node_packages(artifact)}
    assert set(found) == {"mine", "shared", "@scope/unused"}
    assert found["@scope/unused"].size_bytes == 50_000
    assert found["@scope/unused"].paths == ("node_modules/@scope/unused",)


@pytest.mark.slow
def test_a_function_whose_init_fails_exits_1_with_its_error(tmp_path, fixture_function):
    output = tmp_path / "mitigate.json"
    result = run_cli("mitigate", "--runtime", "python", "--function",
                     fixture_function("init_error"), "--memory", "1769", "--cold", 1, "--warm",
                     1, "--provisioned", 1, "--profile-samples", 1, "--compare", "none",
                     "--output", output, "--quiet", timeout=120)
    assert result.returncode == EXIT_FAILED_SAMPLES, result.stderr
    assert "no valid cold sample of" in result.stderr and "RuntimeError" in result.stderr
    doc = json.loads(output.read_text())
    package = row(doc, "package")
    assert not package["applies"] and "no profiled cold start finished" in package["measured"][0]
    provisioned = row(doc, "provisioned")["samples"]
    assert provisioned and all(s["error"] for s in provisioned)


def test_every_strategy_of_the_guide_has_a_row():
    """The data file names the strategies the table shows, in its order, with the guide's
    words where the reference data holds them."""
    keys = [s.key for s in mitigation.guide()]
    assert keys == ["provisioned", "memory", "package", "runtime", "snapstart", "keep_warm"]
    words = {s.key: s.guide_says for s in mitigation.guide()}
    assert words["provisioned"] == "~0ms (always warm)"
    assert "remove unused dependencies" in words["package"]
    assert any("Source" in line for line in mitigation.guide_source())
