"""The two pictures a run is read by (render/pictures.py), as a person sees them: a real
profiled run published and reported, loaded in headless Chromium, each picture drawn and
carrying the run's own numbers."""

import json
import re

import numpy as np
import pytest

from coldbench.render.publish import report_name
from coldbench.analysis.history import History
from coldbench.model import ConfigKey
from coldbench.results.schema import load

from conftest import run_cli, shows
from test_publish_browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """A real run with profiles (python and go at two memory sizes), kept and published."""
    root = tmp_path_factory.mktemp("pictures")
    path = root / "run.json"
    done = run_cli("run", "--runtimes", "python,go", "--memory", "128,1769", "--cold", "6",
                   "--warm", "6", "--provisioned", "6", "--profile", "--quiet",
                   "--output", path)
    assert done.returncode == 0, done.stderr
    History(root / "results").add(path)
    done = run_cli("publish", root / "site", "--history", root / "results")
    assert done.returncode == 0, done.stderr
    return load(path), root / "site"


def texts(dom: str, element_id: str) -> list[str]:
    """The SVG texts inside the group with this id."""
    group = re.search(rf'<g id="{re.escape(element_id)}">(.*?)</g>', dom, re.S)
    assert group, f"no {element_id} in the page"
    return [t.strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", group.group(1))]


def name(key: ConfigKey) -> str:
    return f"{key.runtime}-{key.memory_mb}"


@pytest.mark.parametrize("page", ["local-coldbench.html", "report"])
def test_the_pictures_carry_the_run_numbers(profiled, tmp_path, page):
    results, site = profiled
    if page == "report":
        page = report_name(results.run["run_id"])
    shown = chromium("--dump-dom", (site / page).as_uri(), tmp_path=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    dom = shown.stdout
    figure = re.search(r'<figure id="documented-comparison">(.*?)</figure>', dom, re.S)
    assert figure and "<svg" in figure.group(1)
    latest = json.loads((site / "data" / "latest.json").read_text())["targets"]["local"]
    assert len(latest["configurations"]) == 4
    for config in latest["configurations"]:
        key = ConfigKey(config["function"], config["runtime"], config["memory_mb"])
        for mode in ("cold", "warm", "provisioned"):
            p50 = config["modes"][mode]["figure"]["p50"]
            (label,) = texts(figure.group(1), f"label-{mode}-{name(key)}")
            assert shows(label, p50), (label, p50)
            assert f'<g id="p50-{mode}-{name(key)}">' in figure.group(1)
            assert f'<g id="doc-{mode}-{name(key)}">' in figure.group(1)   # the shaded range

    init = re.search(r'<figure id="init-parts">(.*?)</figure>', dom, re.S)
    assert init and "<svg" in init.group(1)
    profiles = results.run["profiles"]
    assert len(profiles) == 4
    widest = max(sum(p["ms"] or 0 for p in profile["parts"]) for profile in profiles)
    for profile in profiles:
        key = ConfigKey.of(profile)
        parts = {p["part"]: p["ms"] for p in profile["parts"] if p["ms"]}
        (total,) = texts(init.group(1), f"init-total-{name(key)}")
        assert total.endswith(" ms") and shows(total, sum(parts.values())), (total, parts)
        for part, value in parts.items():
            assert f'<g id="init-{part}-{name(key)}">' in init.group(1)
            if value > 0.06 * widest:                  # wide enough to be labelled
                (label,) = texts(init.group(1), f"init-{part}-ms-{name(key)}")
                assert shows(label, value), (label, value)


def test_the_pictures_are_painted(profiled, tmp_path):
    from PIL import Image

    _, site = profiled
    shot = tmp_path / "page.png"
    done = chromium("--window-size=1280,2200", f"--screenshot={shot}",
                    (site / "local-coldbench.html").as_uri(), tmp_path=tmp_path)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    shaded = int(((abs(r - 0xd9) < 4) & (abs(g - 0xd9) < 4) & (abs(b - 0xd9) < 4)).sum())
    purple = int(((abs(r - 0x7b) < 12) & (abs(g - 0x4f) < 12) & (abs(b - 0xa6) < 12)).sum())
    assert shaded > 5000 and purple > 300, (shaded, purple)
