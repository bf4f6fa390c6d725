"""`coldbench profile`: known answers on real runtimes (a module, package or class that
costs 200 ms at init is found by name, with 200 ms), and the parsers of each language's
own profiling output."""

import json

import pytest

from coldbench.errors import EXIT_FAILED_SAMPLES, EXIT_OK, ResultsError
from coldbench.files import check_file
from coldbench.workflows import profile_document as document
from coldbench.profile.probes import Capture, go, java, python
from coldbench.profile.tree import Item, Reading, assemble, find, median_tree, part_of
from conftest import run_cli

SLEEP_MS = 200
TOLERANCE = 0.15
SAMPLES = 2


def profile(tmp_path, fixture: str, runtime: str, *extra) -> tuple[int, dict, str]:
    output = tmp_path / "profile.json"
    result = run_cli("profile", "--runtime", runtime, "--function", fixture, "--samples",
                     SAMPLES, "--output", output, "--quiet", *extra, timeout=600)
    doc = json.loads(output.read_text())
    assert doc["schema"] == document.SCHEMA and doc["version"] == document.VERSION
    return result.returncode, doc, result.stdout + result.stderr


def assert_known_answer(doc: dict, name: str) -> Item:
    """``name`` is in the function's own init with its 200 ms, in the median tree and in
    every profiled sample's."""
    (found,) = doc["profiles"]
    trees = [document.tree_of(found)] + [Item.from_dict(s["tree"])
                                         for s in found["profiled_samples"]]
    for tree in trees:
        item = find(part_of(tree, "function"), name)
        assert item is not None, f"{name} not in the function's init"
        assert item.total_ms == pytest.approx(SLEEP_MS, rel=TOLERANCE)
    return find(part_of(trees[0], "function"), name)


def assert_parts_add_up(doc: dict) -> None:
    """The parts of every profiled sample add up to its Init Duration; the overhead is the
    difference of the medians."""
    (found,) = doc["profiles"]
    for sample in found["profiled_samples"]:
        assert sum(sample["parts"].values()) == pytest.approx(sample["init_ms"], abs=0.01)
    init = found["init_ms"]
    assert init["unprofiled"]["n"] == init["profiled"]["n"] == SAMPLES
    assert found["overhead_ms"] == pytest.approx(
        init["profiled"]["p50"] - init["unprofiled"]["p50"], abs=0.01)


# known answers, real runtimes ------------------------------------------------------------

@pytest.mark.slow
def test_python_module_that_sleeps_at_import(tmp_path, fixture_function):
    status, doc, output = profile(tmp_path, fixture_function("profile_python"), "python")
    assert status == EXIT_OK, output
    item = assert_known_answer(doc, "slow_import")
    assert item.self_ms == pytest.approx(SLEEP_MS, rel=TOLERANCE)
    assert_parts_add_up(doc)
    parts = {p["part"]: p for p in doc["profiles"][0]["parts"]}
    assert parts["function"]["ms"] == pytest.approx(SLEEP_MS, rel=TOLERANCE)
    assert parts["runtime"]["remainder"] and parts["client"]["ms"] > 0
    assert "slow_import" in output and "overhead" in output


@pytest.mark.slow
@pytest.mark.parametrize("handler, module", [("cjs.handler", "slow_cjs.js"),
                                             ("esm.handler", "slow_esm.mjs")])
def test_node_module_that_sleeps_while_it_loads(tmp_path, fixture_function, handler, module):
    status, doc, output = profile(tmp_path, fixture_function("profile_node"), "node",
                                  "--handler", handler)
    assert status == EXIT_OK, output
    item = assert_known_answer(doc, module)
    assert item.self_ms == pytest.approx(SLEEP_MS, rel=TOLERANCE)
    assert_parts_add_up(doc)
    parts = {p["part"]: p["ms"] for p in doc["profiles"][0]["parts"]}
    # the handler's module holds the slow one: the function's part is at least as long
    assert parts["function"] >= item.total_ms
    assert parts["runtime"] > 0 and parts["client"] > 0


@pytest.mark.slow
def test_java_class_with_a_slow_static_initialiser(tmp_path, fixture_function):
    status, doc, output = profile(tmp_path, fixture_function("profile_java"), "java",
                                  "--handler", "fixture.Handler::handleRequest")
    assert status == EXIT_OK, output
    item = assert_known_answer(doc, "fixture.Slow")
    assert item.note.startswith("static initialiser")
    jar = find(part_of(document.tree_of(doc["profiles"][0]), "function"),
               "profile-fixture-1.0.0.jar")
    assert jar is not None and find(jar, "fixture.Slow") is not None
    assert_parts_add_up(doc)


@pytest.mark.slow
def test_go_package_with_a_slow_init(tmp_path, fixture_function):
    status, doc, output = profile(tmp_path, fixture_function("profile_go"), "go")
    assert status == EXIT_OK, output
    assert_known_answer(doc, "coldbench/fixtures/profile_go/slowinit")
    assert_parts_add_up(doc)


@pytest.mark.slow
def test_failing_init_keeps_its_partial_profile_and_exits_as_run_does(tmp_path,
                                                                      fixture_function):
    status, doc, output = profile(tmp_path, fixture_function("profile_init_error"), "python")
    # `coldbench run` exits so when a configuration has no valid sample
    assert status == EXIT_FAILED_SAMPLES
    assert "error: python: RuntimeError: configuration missing" in output
    (found,) = doc["profiles"]
    assert len(found["errors"]) == 2 * SAMPLES
    assert {e["phase"] for e in found["errors"]} == {"init"}
    assert found["init_ms"]["profiled"]["n"] == 0
    assert_known_answer(doc, "slow_import")       # what loaded before the failure


# the parsers, on each language's own output ------------------------------------------------

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   _io
import time:       300 |        400 | _frozen_importlib_external
import time:       200 |        200 | runpy
import time:        50 |         50 |   awslambdaric.helpers
import time:      1000 |       1050 | awslambdaric
import time:     20000 |      20000 |   b
import time:      5000 |      25000 | a
import time:       700 |        700 |   half_done
import time:        10 |         10 | traceback_helper
"""


def capture(tmp_path, log: str = "", end_ns: int | None = None, handler: str = "app.handler",
            source=None) -> Capture:
    return Capture(log=log, folder=tmp_path, exec_ns=0, end_ns=end_ns, task_root=tmp_path,
                   source=source or tmp_path, handler=handler)


def test_importtime_lines_become_a_tree_and_parts(tmp_path):
    (tmp_path / "app.py").write_text("import a\n")
    reading = python.read(capture(tmp_path, IMPORTTIME, end_ns=40_000_000))
    assert [i.name for i in reading.items["runtime"]] == ["_frozen_importlib_external", "runpy"]
    assert [i.name for i in reading.items["client"]] == ["awslambdaric"]
    (app,) = reading.items["function"]
    assert app.name == "app"
    assert [c.name for c in app.children] == ["a", "(failed import)", "traceback_helper"]
    a = app.children[0]
    assert (a.self_ms, a.total_ms, a.children[0].name) == (5.0, 25.0, "b")
    # half_done was imported by an import that failed: traceback_helper cannot hold it
    assert app.children[1].children[0].name == "half_done"
    tree = assemble(reading, 40.0)
    assert part_of(tree, "runtime").total_ms == pytest.approx(40.0 - 1.05 - 25.71)


def test_inittrace_lines_are_split_by_whose_package(tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/fn\n\ngo 1.26\n")
    log = ("init runtime @0.010 ms, 0.005 ms clock, 0 bytes, 0 allocs\n"
           "init github.com/aws/aws-lambda-go/lambda @0.5 ms, 1.5 ms clock, 10 bytes, 1 allocs\n"
           "init example.com/fn/slow @2.1 ms, 200 ms clock, 0 bytes, 0 allocs\n"
           "init github.com/other/lib @202 ms, 3 ms clock, 0 bytes, 0 allocs\n")
    reading = go.read(capture(tmp_path, log, end_ns=250_000_000, source=tmp_path))
    assert [i.name for i in reading.items["function"]] == ["example.com/fn/slow",
                                                            "github.com/other/lib"]
    assert reading.parts["function"] == pytest.approx(203.0)
    assert [i.name for i in reading.items["client"]] == ["github.com/aws/aws-lambda-go/lambda"]
    assert reading.parts["runtime"] == pytest.approx(0.015)
    assert reading.remainder == "client"


def test_java_intervals_go_to_the_class_whose_event_starts_them(tmp_path, monkeypatch):
    monkeypatch.setattr(java, "class_index", lambda root: ({"fixture.Slow": "fn.jar",
                                                            "fixture.Handler": "fn.jar"},
                                                           {"fn.jar"}))
    main = "com.amazonaws.services.lambda.runtime.api.client.AWSLambda"
    ms = 1_000_000
    (tmp_path / java.FILE).write_text(
        f"[{10 * ms}ns] java.lang.Object source: shared objects file\n"
        f"[{40 * ms}ns] {main} source: shared objects file\n"
        f"[{60 * ms}ns] fixture.Handler source: file:/task/lib/fn.jar\n"
        f"[{61 * ms}ns] 12 Initializing 'fixture/Handler' (0x0)\n"
        f"[{62 * ms}ns] fixture.Slow source: file:/task/lib/fn.jar\n"
        f"[{63 * ms}ns] 13 Initializing 'fixture/Slow' (0x0)\n"
        f"[{263 * ms}ns] java.util.Formatter source: jrt:/java.base\n")
    reading = java.read(capture(tmp_path, end_ns=300 * ms))
    (jar,) = reading.items["function"]
    slow = find(jar, "fixture.Slow")
    assert slow.total_ms == pytest.approx(201.0) and slow.note == "static initialiser 200.0 ms"
    assert reading.parts == {"runtime": 40.0, "function": pytest.approx(203.0)}
    assert reading.items["runtime"][0].total_ms == 10.0       # exec to the first class


def test_median_tree_matches_items_by_path():
    def sample(ms):
        return Item("root", 0.0, ms, [Item("a", ms, ms)])
    merged = median_tree([sample(1.0), sample(3.0), sample(2.0)])
    assert (merged.children[0].total_ms, merged.children[0].samples) == (2.0, 3)


def test_profile_documents_of_another_version_are_refused(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"schema": document.SCHEMA, "version": 99}))
    with pytest.raises(ResultsError, match="version 99"):
        document.load(path)
    with pytest.raises(ResultsError, match="--force"):      # the --output check of files.py
        check_file(path, force=False)


def test_a_runtime_without_a_probe_is_one_item(tmp_path):
    from coldbench.profile.probes import for_runtime
    from coldbench.runtimes import get
    probe = for_runtime(get("rust"))
    reading = probe.read(capture(tmp_path, end_ns=80_000_000))
    tree = assemble(reading, 80.0)
    assert not reading.split
    assert part_of(tree, "function").children[0].total_ms == 80.0
    assert isinstance(reading, Reading)
