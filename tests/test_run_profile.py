"""`coldbench run --profile` and what reads its profiles: the results file (profiled samples
marked and kept out of every statistic, the tree per configuration), the reports' and the
site's icicle charts, and `compare`'s blame. Two real runs of one Python function, before
and after a change that adds a module sleeping 200 ms at import."""

import json
import shutil

import pytest

from coldbench.analysis import compare
from coldbench.analysis.blame import blame
from coldbench.analysis.summary import summarize_samples
from coldbench.errors import EXIT_OK, EXIT_REGRESSION, EXIT_USAGE
from coldbench.profile.tree import Item, find, part_of
from coldbench.render import compare as comparison_table
from coldbench.results.schema import SCHEMA_VERSION, Results, load
from conftest import FIXTURES, make_sample, run_cli

SLEEP_MS = 200
TOLERANCE = 0.25          # the profiled init carries the profiler's overhead too
# 6 against 6: Mann-Whitney U can reach p < 0.05 with some overlap (4 against 4 needs none)
COLD = 6
RUN = ("--runtime", "python", "--memory", "1769", "--cold", COLD, "--warm", 0,
       "--provisioned", 0, "--work", 0, "--quiet")


def measure(folder, output, *extra):
    result = run_cli("run", "--function", folder, "--handler", "app.handler", *RUN,
                     "--output", output, *extra, timeout=600)
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def before_and_after(tmp_path_factory):
    """The results files of `run --profile` of one function (the same folder, so the same
    configuration) before and after ``import slow_import`` was added to it; and the second
    run's output."""
    root = tmp_path_factory.mktemp("runs")
    folder = root / "orders"
    shutil.copytree(FIXTURES / "blame_python", folder)
    before, after = root / "before.json", root / "after.json"
    measure(folder, before, "--profile")
    shutil.copy(FIXTURES / "profile_python" / "slow_import.py", folder)
    app = folder / "app.py"
    app.write_text(app.read_text().replace("import json\n", "import json\nimport slow_import\n"))
    printed = measure(folder, after, "--profile")
    return before, after, printed.stdout


@pytest.mark.slow
def test_profiled_samples_are_marked_and_kept_out_of_the_statistics(before_and_after):
    _, after, _ = before_and_after
    document = json.loads(after.read_text())
    assert document["schema_version"] == SCHEMA_VERSION == 3
    results = load(after)
    profiled = [s for s in results.samples if s.profiled]
    ordinary = [s for s in results.samples if not s.profiled]
    assert len(profiled) == len(ordinary) == COLD
    assert all(s.mode == "cold" and not s.valid for s in profiled)
    assert all(s.extra["profile"]["tree"]["name"] == "Init Duration" for s in profiled)
    assert all("predicted_aws_init_ms" not in s.extra for s in profiled)
    (config,) = summarize_samples(results.samples)
    assert config.modes["cold"].attempts == COLD and config.modes["cold"].figure.n == COLD
    (entry,) = results.run["profiles"]
    assert (entry["function"], entry["runtime"], entry["memory_mb"]) == ("orders", "python", 1769)
    assert entry["init_ms"]["unprofiled"]["n"] == entry["init_ms"]["profiled"]["n"] == COLD
    assert entry["overhead_ms"] == pytest.approx(
        entry["init_ms"]["profiled"]["p50"] - entry["init_ms"]["unprofiled"]["p50"], abs=0.01)
    item = Item.from_dict(entry["tree"])
    slow = find(part_of(item, "function"), "slow_import")
    assert slow.total_ms == pytest.approx(SLEEP_MS, rel=TOLERANCE)


@pytest.mark.slow
def test_run_prints_the_profile_with_its_overhead_after_the_table(before_and_after):
    _, _, printed = before_and_after
    table, _, profile = printed.partition("Where init time goes")
    assert "orders (python)" in table and "1769 MB" in table
    assert "orders (app.handler) at 1769 MB, profiled by python -X importtime" in profile
    assert "overhead" in profile and "unprofiled (n=6)" in profile
    assert "slow_import" in profile


@pytest.mark.slow
def test_report_prints_the_profile_after_the_table_as_run_did(before_and_after):
    _, after, printed = before_and_after
    shown = run_cli("report", after, "--format", "table")
    assert shown.returncode == EXIT_OK, shown.stderr
    table, found, profile = shown.stdout.partition("Where init time goes")
    assert found and "orders (python)" in table
    # the same text as the run printed, from the saved profiles
    assert found + profile == printed[printed.index("Where init time goes"):]
    assert "Where init time goes" not in run_cli("report", after, "--format", "csv").stdout


@pytest.mark.slow
def test_compare_names_the_slow_import_first(before_and_after):
    before, after, _ = before_and_after
    result = run_cli("compare", before, after, "--allow-different", "code", "--mode", "cold")
    assert result.returncode == EXIT_REGRESSION, result.stdout + result.stderr
    blamed = next(line for line in result.stdout.splitlines() if "grew most" in line)
    assert blamed.startswith("orders (python) 1769 MB cold")
    first = blamed.split("grew most (profiled init): ")[1].split(", ")[0]
    assert first.endswith("ms: slow_import (new)")
    assert int(first.split(" ms")[0]) == pytest.approx(SLEEP_MS, rel=TOLERANCE)

    result = run_cli("compare", before, after, "--allow-different", "code", "--mode", "cold",
                     "--format", "json")
    assert result.returncode == EXIT_REGRESSION
    (found,) = json.loads(result.stdout)
    assert found["base_n"] == found["new_n"] == COLD          # the profiled ones left out
    top = found["blame"][0]
    assert (top["item"], top["new"], top["before_ms"]) == ("slow_import", True, None)
    assert top["delta_ms"] == top["after_ms"] == pytest.approx(SLEEP_MS, rel=TOLERANCE)
    assert [b["delta_ms"] for b in found["blame"]] == sorted(
        (b["delta_ms"] for b in found["blame"]), reverse=True)


@pytest.mark.slow
def test_no_blame_without_a_regression(before_and_after):
    before, _, _ = before_and_after
    result = run_cli("compare", before, before, "--mode", "cold")
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert "grew most" not in result.stdout


@pytest.mark.slow
def test_reports_draw_each_profile_with_its_item_names(before_and_after, tmp_path):
    _, after, _ = before_and_after
    markdown = tmp_path / "report.md"
    assert run_cli("report", after, "--format", "markdown", "--output", markdown).returncode == 0
    chart = tmp_path / "report-charts" / "profile-orders-python-1769-MB.svg"
    assert f"]({chart.parent.name}/{chart.name})" in markdown.read_text()
    svg = chart.read_text()
    assert "slow_import" in svg and "function's own init" in svg and "Init Duration" in svg

    page = run_cli("report", after, "--format", "html").stdout
    figure = page[page.index('<figure id="profile-orders-python-1769-MB">'):]
    figure = figure[:figure.index("</figure>")]
    assert "Where init time goes: orders (python) 1769 MB" in figure
    assert "slow_import" in figure and "Overhead of profiling" in figure


@pytest.mark.slow
def test_without_profiles_there_is_no_profile_chart(before_and_after, tmp_path):
    _, after, _ = before_and_after
    document = json.loads(after.read_text())
    del document["run"]["profiles"]
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(document))
    page = run_cli("report", plain, "--format", "html").stdout
    assert '<figure id="cold-distribution">' in page
    assert "profile-" not in page and "slow_import" not in page


@pytest.mark.slow
def test_the_site_draws_the_latest_runs_profile(before_and_after, tmp_path):
    before, after, _ = before_and_after
    history, site = tmp_path / "history", tmp_path / "site"
    assert run_cli("history", "--history", history, "add", before, after).returncode == 0
    assert run_cli("publish", site, "--history", history).returncode == 0
    page = (site / "local-orders.html").read_text()        # the page of function "orders"
    figure = page[page.index('<figure id="profile-orders-python-1769-MB">'):]
    assert "slow_import" in figure[:figure.index("</figure>")]
    assert page.count('id="profile-') == 1          # the latest run's only
    assert '<figure id="init-parts">' in page


def test_profile_is_refused_off_the_local_target():
    result = run_cli("run", "--target", "docker", "--runtime", "python", "--profile")
    assert result.returncode == EXIT_USAGE
    assert "--profile: profiles are taken on the local target only" in result.stderr
    result = run_cli("run", "--runtime", "python", "--cold", 0, "--profile")
    assert result.returncode == EXIT_USAGE and "set --cold to 1 or more" in result.stderr
    result = run_cli("run", "--runtime", "python", "--api", "rie", "--provisioned", 0,
                     "--profile")
    assert result.returncode == EXIT_USAGE and "--profile needs --api coldbench" in result.stderr


# blame on known trees -----------------------------------------------------------------------

def tree(*function_items: Item, runtime_self: float = 20.0) -> Item:
    function = Item("function's own init", 1.0, 1.0 + sum(i.total_ms for i in function_items),
                    list(function_items))
    runtime = Item("runtime starting", runtime_self, runtime_self)
    return Item("Init Duration", 0.0, runtime.total_ms + function.total_ms, [runtime, function])


def test_a_new_import_is_charged_whole_and_what_it_imports_is_not_named_again():
    base = tree(Item("app", 2.0, 2.0))
    new = tree(Item("app", 2.0, 214.0, [Item("pandas", 12.0, 212.0, [
        Item("numpy", 150.0, 150.0), Item("pytz", 50.0, 50.0)])]), runtime_self=23.0)
    found = blame(base, new)
    assert [(b.item, round(b.delta_ms), b.new) for b in found] == [
        ("pandas", 212, True), ("runtime starting", 3, False)]
    assert comparison_table.blamed_text(found[0]) == "+212 ms: pandas (new)"


def test_an_item_in_both_runs_is_charged_with_its_own_growth_only():
    base = tree(Item("app", 2.0, 42.0, [Item("config", 40.0, 40.0)]))
    new = tree(Item("app", 2.5, 142.5, [Item("config", 140.0, 140.0)]))
    found = blame(base, new)
    assert [(b.item, b.before_ms, b.after_ms, b.delta_ms) for b in found] == [
        ("config", 40.0, 140.0, 100.0)]        # app's 0.5 ms is below the noise floor


def test_compare_blames_only_regressions_of_configurations_both_runs_profiled():
    def run(values, profile_tree):
        samples = [make_sample(init_ms=v) for v in values]
        profiles = [] if profile_tree is None else [{
            "function": "coldbench", "runtime": "python", "memory_mb": 128, "variant": None,
            "tree": profile_tree.to_dict()}]
        return Results(run={"target": "local", "profiles": profiles}, samples=samples)

    slow = tree(Item("app", 2.0, 202.0, [Item("slow", 200.0, 200.0)]))
    fast = tree(Item("app", 2.0, 2.0))
    quick, slower = [100.0 + i for i in range(8)], [300.0 + i for i in range(8)]
    [c] = compare.compare(run(quick, fast), run(slower, slow))
    assert c.regression and [b.item for b in c.blame] == ["slow"]
    assert "grew most (profiled init): +200 ms: slow (new)" in comparison_table.render([c])
    [c] = compare.compare(run(quick, None), run(slower, slow))
    assert c.regression and c.blame == []
    [c] = compare.compare(run(slower, slow), run(quick, fast))
    assert not c.regression and c.blame == []


def test_a_new_package_is_named_whole_however_little_its_own_code_takes():
    base = tree()
    new = tree(Item("app", 0.0, 300.4, [Item("pandas", 0.4, 300.4, [
        Item("numpy", 180.0, 180.0), Item("pandas.core.frame", 120.0, 120.0)])]))
    assert [comparison_table.blamed_text(b) for b in blame(base, new)] == ["+300 ms: pandas (new)"]


def test_a_new_module_that_only_holds_its_imports_passes_the_blame_to_them():
    base = tree()                     # the handler's module imported nothing the profiler saw
    new = tree(Item("app", 0.0, 203.0, [Item("slow_import", 200.0, 200.0),
                                        Item("yaml", 3.0, 3.0)]))
    found = blame(base, new)
    assert [(b.item, b.delta_ms, b.new) for b in found] == [("slow_import", 200.0, True),
                                                          ("yaml", 3.0, True)]


# the Node.js probe's ES module hooks ---------------------------------------------------------

@pytest.mark.slow
def test_a_commonjs_handler_is_profiled_without_the_es_module_hooks_thread(tmp_path):
    """The hooks' thread costs tens of ms: a CommonJS handler's loads are timed without it
    (no ES module, the client's own included, is itemised), an ES module handler's with it."""
    def names(handler):
        output = tmp_path / f"{handler}.json"
        result = run_cli("profile", "--runtime", "node", "--function",
                         FIXTURES / "profile_node", "--handler", handler, "--samples", 1,
                         "--output", output, "--quiet", timeout=600)
        assert result.returncode == EXIT_OK, result.stdout + result.stderr
        (profile,) = json.loads(output.read_text())["profiles"]
        found = []

        def walk(item):
            found.append(item["name"])
            for child in item.get("children", []):
                walk(child)
        walk(profile["tree"])
        return found

    commonjs = names("cjs.handler")
    assert "slow_cjs.js" in commonjs and not any(n.endswith(".mjs") for n in commonjs)
    assert "slow_esm.mjs" in names("esm.handler")
