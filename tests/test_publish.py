"""The published site from a history of constructed runs with a known step: where the step
is marked, and that captions state the test actually applied. (test_publish_browser.py
loads a real run's site in a browser.)"""

import json
import re

from conftest import make_sample

from coldbench.model import Variant
from coldbench.render.publish import publish
from coldbench.analysis.history import History
from coldbench.results.schema import ResultsWriter

RUN_IDS = [f"2026110{day}T060000Z-step000{day}" for day in range(1, 5)]


def kept(history, tmp_path, run_id, day, scale):
    """A run with go at 128 MB (arm64 and x86_64): 8 cold starts of 100..107 ms x scale."""
    path = tmp_path / f"{run_id}.json"
    writer = ResultsWriter(path, run={
        "run_id": run_id, "target": "local", "started_at": f"2026-11-0{day}T06:00:00+00:00",
        "ended_at": f"2026-11-0{day}T06:01:00+00:00", "completed": True, "cpu": "AMD EPYC",
        "runtime_versions": {"go": "go1.26.8"}})
    for variant, factor in (("arm64", scale), ("x86_64", 1.0)):
        for i in range(8):
            writer.add(make_sample(runtime="go", memory_mb=128, mode="cold",
                              init_ms=(99.0 + i) * factor, duration_ms=1.0 * factor,
                              e2e_ms=None, billed_ms=None, max_memory_mb=None, cold=True,
                              error=None, variant=Variant(architecture=variant)))
    writer.close()
    history.add(path)


def test_a_step_is_marked_where_it_happened_and_captions_follow_the_options(tmp_path):
    history = History(tmp_path / "results")
    for day, (run_id, scale) in enumerate(zip(RUN_IDS, (1.0, 1.0, 1.5, 1.5)), start=1):
        kept(history, tmp_path, run_id, day, scale)
    site = tmp_path / "site"
    publish(history, site, min_change=0.25)
    changes = json.loads((site / "data" / "history.json").read_text())["changes"]
    assert [(c["variant"], c["memory_mb"], c["run_id"], c["kind"], c["text"])
            for c in changes] == [("arm64", 128, RUN_IDS[2], "step", "1.50x slower")]
    page = (site / "index.html").read_text()
    assert 'id="step-local-go-128-arm64-' + RUN_IDS[2] + '"' in page
    assert re.search(r"step changes \(Mann-Whitney U, p &lt; 0\.01, at least 25%\)", page)
    # a change below the minimum is no step
    publish(history, site, min_change=0.6)
    assert json.loads((site / "data" / "history.json").read_text())["changes"] == []
    assert "at least 60%" in (site / "index.html").read_text()
