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
            writer.add(make_sample(runtime="go", init_ms=(99.0 + i) * factor,
                                   duration_ms=1.0 * factor,
                                   variant=Variant(architecture=variant)))
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
    page = (site / "local-coldbench.html").read_text()
    assert 'id="step-local-go-128-arm64-' + RUN_IDS[2] + '"' in page
    assert re.search(r"step changes \(Mann-Whitney U, p &lt; 0\.01, at least 25%\)", page)
    # a change below the minimum is no step
    publish(history, site, min_change=0.6)
    assert json.loads((site / "data" / "history.json").read_text())["changes"] == []
    assert "at least 60%" in (site / "local-coldbench.html").read_text()


def tick_labels(started: list[str]) -> tuple[list[str], str]:
    """The time axis of a trend of runs started at these times: its tick labels and title."""
    from datetime import datetime

    from coldbench.render.figure import pyplot
    from coldbench.render.publish import time_axis

    plt = pyplot()
    when = [datetime.fromisoformat(s) for s in started]
    fig, ax = plt.subplots()
    ax.plot(when, range(len(when)))
    time_axis(ax, when)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    title = ax.get_xlabel()
    plt.close(fig)
    return labels, title


def test_time_axes_read_well_for_runs_seconds_hours_or_months_apart():
    seconds, title = tick_labels(["2026-12-06T19:27:00+00:00", "2026-12-06T19:27:33+00:00"])
    assert title == "run started (2026-12-06, UTC)"
    assert seconds and all(re.fullmatch(r"19:2[6-8]:\d\d", t) for t in seconds), seconds
    hours, title = tick_labels(["2026-12-06T06:00:00+00:00", "2026-12-06T18:00:00+00:00"])
    assert title == "run started (2026-12-06, UTC)"
    assert hours and all(re.fullmatch(r"\d\d:\d\d", t) for t in hours), hours
    months, title = tick_labels(["2026-03-01T06:00:00+00:00", "2026-11-30T06:00:00+00:00"])
    assert title == "run started (2026, UTC)"
    assert months and all(re.fullmatch(r"[A-Z][a-z]{2} \d\d", t) for t in months), months
    years, _ = tick_labels(["2024-01-01T06:00:00+00:00", "2026-11-30T06:00:00+00:00"])
    assert years and all(re.fullmatch(r"20\d\d-\d\d", t) for t in years), years


def test_each_target_and_function_set_has_a_page_and_every_run_a_report(tmp_path):
    from test_ab import ab_results

    history = History(tmp_path / "results")
    for day, run_id in enumerate(RUN_IDS[:2], start=1):
        kept(history, tmp_path, run_id, day, 1.0)
    ab = ab_results()
    ab.run |= {"run_id": "20261105T060000Z-ab000001", "started_at": "2026-11-05T06:00:00+00:00",
               "ended_at": "2026-11-05T06:01:00+00:00", "completed": True}
    path = tmp_path / "ab.json"
    writer = ResultsWriter(path, run=ab.run)
    for s in ab.samples:
        writer.add(s)
    writer.close()
    history.add(path)
    site = tmp_path / "site"
    written = publish(history, site)
    assert sorted(written) == sorted([
        "index.html", "local-coldbench.html", "data/latest.json", "data/history.json",
        *(f"runs/{i}.html" for i in [*RUN_IDS[:2], "20261105T060000Z-ab000001"])])
    index = (site / "index.html").read_text()
    assert '<a href="local-coldbench.html">coldbench</a>' in index
    assert f'<a href="runs/{RUN_IDS[1]}.html">{RUN_IDS[1]}</a>' in index
    # the A/B run is a comparison, listed with its verdict, and in no trend
    assert re.search(r'runs/20261105T060000Z-ab000001\.html.*main → 4c5d6e7f8a9b.*'
                     r'1 regression<', index, re.S)
    page = (site / "local-coldbench.html").read_text()
    assert "orders" not in page and "ab000001" not in page
    for run_id in RUN_IDS[:2]:
        assert f'<a href="runs/{run_id}.html">{run_id}</a>' in page
    report = (site / "runs" / "20261105T060000Z-ab000001.html").read_text()
    assert "<h2>A/B: main → 4c5d6e7f8a9b</h2>" in report
    assert '<td class="regression">2.57x slower</td>' in report
    assert 'id="documented-comparison"' in report
