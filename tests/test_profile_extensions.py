"""External extensions in `coldbench profile` and in `compare`'s blame, with a real
extension (the Go extension of the tests, in a layer) under coldbench's Extensions API:
the extensions are a part of Init Duration beside the runtime's, each with its register
and ready instants, and an extension that registers 300 ms later is the item blamed."""

import json
import sys

import pytest

from coldbench.analysis.blame import blame
from coldbench.profile.tree import Item, Reading, add_extensions, assemble, find, part_of, parts_ms

from conftest import ROOT, run_cli

sys.path.insert(0, str(ROOT / "benchmarks"))
from extension_costs import go_extension  # noqa: E402

SAMPLES = 3
LATER_MS = 300


def _layer(folder, delay_ms: int = 0):
    """A layer named ``probe`` whose extension ``probe`` (the Go extension, started by a
    bash script that may sleep first) registers ``delay_ms`` late."""
    layer = folder / "probe"
    (layer / "extensions").mkdir(parents=True)
    (layer / "bin").mkdir()
    binary = layer / "bin" / "probe-extension"
    binary.write_bytes(go_extension().read_bytes())
    binary.chmod(0o755)
    start = layer / "extensions" / "probe"
    pause = f"sleep {delay_ms / 1000:.3f}\n" if delay_ms else ""
    start.write_text(f"#!/bin/bash\n{pause}exec -a probe /opt/bin/probe-extension\n")
    start.chmod(0o755)
    return layer


@pytest.mark.slow
def test_profile_shows_the_extensions_as_a_part_of_init_duration(tmp_path):
    layer = _layer(tmp_path)
    document, chart = tmp_path / "profile.json", tmp_path / "profile.svg"
    result = run_cli("profile", "--runtime", "python", "--layer", layer, "--samples", SAMPLES,
                     "--output", document, "--chart", chart, "--quiet")
    assert result.returncode == 0, result.stderr
    (profile,) = json.loads(document.read_text())["profiles"]
    assert [p["part"] for p in profile["parts"]] == ["extensions", "runtime", "client",
                                                      "function"]
    (probe,) = profile["extensions"]
    assert probe["name"] == "probe" and probe["n"] == SAMPLES
    assert 0 < probe["registered_ms"] <= probe["ready_ms"] < profile["init_ms"]["profiled"]["p50"]
    tree = Item.from_dict(profile["tree"])
    assert [part.name for part in tree.children][0] == "extensions"
    extensions = part_of(tree, "extensions")
    assert [item.name for item in extensions.children] == ["probe"]
    # the extensions' part and the runtime's parts add up to Init Duration
    for sample in profile["profiled_samples"]:
        assert sum(sample["parts"].values()) == pytest.approx(sample["init_ms"], abs=0.01)
        assert sample["parts"]["extensions"] >= 0
        # the instants as the cold sample recorded them, and the part they make
        (recorded,) = sample["extensions"]
        assert recorded["name"] == "probe" and recorded["registered_ms"] <= recorded["ready_ms"]
        assert sample["parts"]["extensions"] == pytest.approx(
            sample["extension_registration_ms"] + max(
                0.0, recorded["ready_ms"] - sample["extension_registration_ms"]
                - sample["runtime_init_ms"]), abs=0.01)
    assert probe["registered_ms"] == pytest.approx(sorted(
        s["extensions"][0]["registered_ms"] for s in profile["profiled_samples"])[1], abs=0.01)
    assert "probe" in result.stdout and "registered p50 ms" in result.stdout
    assert "extensions" in result.stdout.split("registered p50 ms")[0]
    assert "extensions" in chart.read_text()


@pytest.mark.slow
def test_compare_blames_the_extension_that_grew(tmp_path):
    runs = []
    for name, delay in (("before", 0), ("after", LATER_MS)):
        layer = _layer(tmp_path / name, delay)
        output = tmp_path / f"{name}.json"
        result = run_cli("run", "--runtime", "python", "--layer", layer, "--memory", "1769",
                         "--cold", SAMPLES + 2, "--warm", "0", "--provisioned", "0",
                         "--profile", "--output", output, "--quiet")
        assert result.returncode == 0, result.stderr
        runs.append(output)
    result = run_cli("compare", *runs, "--mode", "cold", "--allow-different", "code",
                     "--format", "json")
    assert result.returncode == 3, (result.stdout, result.stderr)
    (regression,) = [c for c in json.loads(result.stdout) if c.get("blame")]
    top = regression["blame"][0]
    assert (top["item"], top["part"]) == ("probe", "extensions"), regression["blame"]
    assert LATER_MS - 100 <= top["delta_ms"] <= LATER_MS + 150, top
    text = run_cli("compare", *runs, "--mode", "cold", "--allow-different", "code").stdout
    assert "extension probe" in text.split("grew most")[1], text
    # what the base run's tree held of it
    before = json.loads(runs[0].read_text())["run"]["profiles"][0]
    assert find(Item.from_dict(before["tree"]), "probe") is not None


def _tree(registered_ms: float, ready_ms: float, runtime_init_ms: float, init_ms: float,
          registration_ms: float | None = None) -> tuple[dict, Item]:
    extra = {"extensions": [{"name": "probe", "events": ["INVOKE", "SHUTDOWN"],
                             "registered_ms": registered_ms, "ready_ms": ready_ms}],
             "extension_registration_ms": registration_ms or registered_ms + 1.0,
             "runtime_init_ms": runtime_init_ms}
    reading = Reading(parts={"runtime": 10.0, "client": 5.0}, items={}, remainder="function")
    add_extensions(reading, extra)
    return parts_ms(reading, init_ms), assemble(reading, init_ms)


def test_the_extensions_part_is_the_wait_for_registration_and_for_a_late_readiness():
    # registered at 50 ms, the runtime started at 51 and was ready 100 ms later (151);
    # the extension was ready at 60: init held up by 51 ms of the extensions' part
    parts, tree = _tree(50.0, 60.0, 100.0, 151.0)
    assert parts == {"extensions": 51.0, "runtime": 10.0, "client": 5.0, "function": 85.0}
    assert [c.name for c in tree.children] == ["extensions", "runtime starting",
                                               "runtime client", "function's own init"]
    assert part_of(tree, "extensions").children[0].total_ms == 50.0
    # ready 40 ms after the runtime: init waited for it, and the extension is charged
    parts, tree = _tree(50.0, 191.0, 100.0, 191.0)
    assert parts["extensions"] == 91.0 and parts["function"] == 85.0
    assert part_of(tree, "extensions").children[0].self_ms == 90.0


def test_blame_names_an_extension_that_grew():
    _, before = _tree(50.0, 60.0, 100.0, 151.0)
    _, after = _tree(250.0, 260.0, 100.0, 351.0)
    (top, *_) = blame(before, after)
    assert (top.item, top.part, top.delta_ms) == ("probe", "extensions", 200.0)
    assert top.text() == "+200 ms: extension probe"


def test_the_icicle_keeps_parallel_extensions_inside_their_part():
    from coldbench.render.profile import icicle_figure
    extra = {"extensions": [{"name": n, "events": [], "registered_ms": 50.0, "ready_ms": 55.0}
                            for n in ("one", "two")],
             "extension_registration_ms": 51.0, "runtime_init_ms": 100.0}
    reading = Reading(parts={"runtime": 10.0, "client": 5.0}, items={}, remainder="function")
    add_extensions(reading, extra)
    tree = assemble(reading, 151.0)
    figure = icicle_figure([{"runtime": "python", "function": "f", "tree": tree.to_dict()}])
    bars = [patch for patch in figure.axes[0].patches]
    extension_bars = [b for b in bars if round(b.get_y() + b.get_height() / 2) == 2]
    assert len(extension_bars) == 2
    assert max(b.get_x() + b.get_width() for b in extension_bars) <= 51.0 + 1e-6
    assert [t.get_text() for t in figure.axes[0].texts if t.get_text().startswith("one")] == [
        "one\n50.0 ms"]
