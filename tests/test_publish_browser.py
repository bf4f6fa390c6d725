"""The published site as a person sees it: loaded in headless Chromium, its charts drawn and
the numbers it shows equal to its JSON. The history is a real run kept four times, with a
step in python's cold starts from the third on."""

import copy
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from coldbench.analysis.history import History

from conftest import run_cli, shows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_IDS = [f"2026110{day}T060000Z-site000{day}" for day in range(1, 5)]
STEP_AT = 2          # from this run on, python's init is longer than any before: a sure step


def chromium(*args, tmp_path) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed: apt-get install chromium (scripts/setup --test)")
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def site(real_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    document = json.loads(real_run.read_text())
    history = History(root / "results")
    shift = 2 * max(s["init_ms"] for s in document["samples"]
                    if s["runtime"] == "python" and s["init_ms"] is not None)
    for i, run_id in enumerate(RUN_IDS):
        run = copy.deepcopy(document)
        run["run"] |= {"run_id": run_id, "started_at": f"2026-11-0{i + 1}T06:00:00+00:00",
                       "ended_at": f"2026-11-0{i + 1}T06:01:00+00:00"}
        if i >= STEP_AT:
            for s in run["samples"]:
                if s["runtime"] == "python" and s["init_ms"] is not None:
                    s["init_ms"] += shift
        path = root / f"{run_id}.json"
        path.write_text(json.dumps(run))
        history.add(path)
    result = run_cli("publish", root / "site", "--history", root / "results")
    assert result.returncode == 0, result.stderr
    return root / "site"


class Cells(HTMLParser):
    """The rows of one table, as {(runtime, memory_mb): [cell texts]}."""

    def __init__(self, table_id):
        super().__init__()
        self.table_id, self.inside, self.rows, self.key, self.cell = table_id, False, {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.inside = attrs.get("id") == self.table_id
        elif self.inside and tag == "tr" and "data-runtime" in attrs:
            self.key = (attrs["data-runtime"], int(attrs["data-memory-mb"]))
            self.rows[self.key] = []
        elif self.inside and tag == "td" and self.key:
            self.cell = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[self.key].append(self.cell)
            self.cell = None
        elif tag == "table":
            self.inside = False


def test_the_site_renders_its_charts_and_numbers_in_a_browser(site, tmp_path):
    result = chromium("--dump-dom", (site / "local-coldbench.html").as_uri(), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    latest = json.loads((site / "data" / "latest.json").read_text())["targets"]["local"]
    history = json.loads((site / "data" / "history.json").read_text())
    assert latest["run_id"] == RUN_IDS[-1] and len(history["runs"]) == 4

    # the latest table shows the latest run's figures, as latest.json has them
    parser = Cells("latest-local")
    parser.feed(dom)
    assert len(parser.rows) == len(latest["configurations"]) == 4
    for config in latest["configurations"]:
        cells = parser.rows[(config["runtime"], config["memory_mb"])]
        cold, warm = config["modes"]["cold"]["figure"], config["modes"]["warm"]["figure"]
        # "p50 (p90/p99)", each the figure rounded to the digits shown
        shown = re.fullmatch(r"(\S+) \((\S+)/(\S+)\)", cells[2])
        assert shown and all(shows(text, cold[k]) for text, k in zip(shown.groups(),
                                                                     ("p50", "p90", "p99"))), \
            (cells[2], cold)
        # after the predicted AWS Init column, where the run predicts one (local, the
        # Lambda-shaped code path)
        predicted = config["modes"]["cold"].get("predicted_init") is not None
        shown = re.fullmatch(r"(\S+) \((\S+)\)", cells[5 if predicted else 4])
        assert shown and shows(shown[1], warm["p50"]) and shows(shown[2], warm["p99"]), \
            (cells, warm)

    # a trend chart per runtime, drawn as SVG in the page
    for runtime in ("python", "go"):
        figure = re.search(rf'<figure id="trend-local-{runtime}">(.*?)</figure>', dom, re.S)
        assert figure, f"no trend chart for {runtime}"
        assert "<svg" in figure.group(1)
        for memory in (128, 1024):
            # one line through the four runs, a marker on each
            line = re.search(rf'<g id="trend-local-{runtime}-{memory}">\s*<path d="([^"]+)"(.*?)</g>',
                             figure.group(1), re.S)
            assert line, f"no line for {runtime} {memory} MB"
            assert re.findall(r"[ML]", line.group(1)) == ["M", "L", "L", "L"]
            assert line.group(2).count("<use") == len(RUN_IDS)
            # the last point is labelled with the latest median of history.json
            latest_p50 = next(row["p50"] for row in history["index"]
                              if row["run_id"] == RUN_IDS[-1] and row["runtime"] == runtime
                              and row["memory_mb"] == memory and row["mode"] == "cold")
            label = re.search(rf'<g id="last-local-{runtime}-{memory}">.*?<text[^>]*>([^<]+)</text>',
                              figure.group(1), re.S)
            assert label and shows(label.group(1).strip(), latest_p50), (label, latest_p50)

        # the time axis says when, in UTC, with the date: runs days apart
        assert "run started (2026, UTC)" in figure.group(1)
        assert "Nov 02" in figure.group(1)

    # the index leads to the page, each run to its report
    index = chromium("--dump-dom", (site / "index.html").as_uri(), tmp_path=tmp_path).stdout
    assert '<a href="local-coldbench.html">coldbench</a>' in index
    for run_id in RUN_IDS:
        assert f'<a href="runs/{run_id}.html">{run_id}</a>' in dom
        report = chromium("--dump-dom", (site / "runs" / f"{run_id}.html").as_uri(),
                          tmp_path=tmp_path).stdout
        assert f"run {run_id}" in report and 'id="documented-comparison"' in report

    # the step in python's cold starts is detected, marked where it happened, and only there
    steps = [c for c in history["changes"] if c["kind"] == "step"]
    assert {(c["runtime"], c["memory_mb"], c["run_id"]) for c in steps} == {
        ("python", 128, RUN_IDS[STEP_AT]), ("python", 1024, RUN_IDS[STEP_AT])}
    for c in steps:
        assert c["text"].endswith("x slower")
        assert f'id="step-local-python-{c["memory_mb"]}-{RUN_IDS[STEP_AT]}"' in dom
    assert 'id="step-local-go-' not in dom


def test_the_page_is_painted(site, tmp_path):
    import numpy as np
    from PIL import Image

    shot = tmp_path / "site.png"
    result = chromium("--window-size=1280,2400", f"--screenshot={shot}",
                      (site / "local-coldbench.html").as_uri(), tmp_path=tmp_path)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    ink = float(((r + g + b) < 600).mean())
    red = int(((r > 150) & (g < 90) & (b < 90)).sum())       # step markers
    blue = int(((b > 130) & (r < 80)).sum())                 # the first series' lines
    assert ink > 0.02 and red > 50 and blue > 200, (ink, red, blue)
