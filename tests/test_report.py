"""Reports with charts, made from a real run's results."""

import html
import re
import xml.etree.ElementTree as ET

import pytest

from coldbench.render import report
from coldbench.results.schema import load
from coldbench.analysis.summary import summarize_samples
from coldbench.render.table import ms, render, rows

from conftest import run_cli

pytestmark = pytest.mark.slow
SVG = "{http://www.w3.org/2000/svg}"


def drawn(svg_text: str) -> ET.Element:
    """The parsed chart; it must have drawn something (paths) and kept its text as text."""
    root = ET.fromstring(svg_text)
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f".//{SVG}path")) > 10
    assert root.findall(f".//{SVG}text")
    return root


def texts(root: ET.Element) -> set[str]:
    return {"".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")}


def test_markdown_report_writes_charts_beside_it(real_run, tmp_path):
    output = tmp_path / "report.md"
    result = run_cli("report", real_run, "--format", "markdown", "--output", output)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    text = output.read_text()
    configs = summarize_samples(load(real_run).samples)
    assert render(configs, "markdown").strip() in text
    charts = sorted((tmp_path / "report-charts").iterdir())
    assert [c.name for c in charts] == ["cold-distribution.svg", "cold-vs-warm.svg",
                                        "local-vs-aws.svg", "memory-curve.svg"]
    for chart in charts:
        assert f"](report-charts/{chart.name})" in text
        drawn(chart.read_text())
    # the bars are labelled with the medians of the table
    labels = texts(ET.fromstring((tmp_path / "report-charts" / "cold-vs-warm.svg").read_text()))
    for config in configs:
        assert ms(config.modes["cold"].figure.p50) in labels


def test_markdown_on_stdout_says_where_the_charts_are(real_run):
    result = run_cli("report", real_run, "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# coldbench report: run ")
    assert "--output FILE.md" in result.stdout


def test_html_report_is_one_self_contained_file(real_run, tmp_path):
    output = tmp_path / "report.html"
    result = run_cli("report", real_run, "--format", "html", "--output", output)
    assert result.returncode == 0, result.stderr
    page = output.read_text()
    assert list(tmp_path.iterdir()) == [output]
    assert not re.search(r"<script|<link|<img|\bsrc=|url\((?!#)|@import", page)
    assert not re.search(r"href=\"(?!#)", page)
    configs = summarize_samples(load(real_run).samples)
    for cells in rows(configs):
        assert "".join(f"<td>{html.escape(c)}</td>" for c in cells) in page
    figures = re.findall(r'<figure id="([a-z-]+)">', page)
    assert figures == ["cold-distribution", "cold-vs-warm", "memory-curve", "local-vs-aws"]
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        drawn(svg)


def test_an_aws_run_has_no_local_versus_aws_chart(real_run):
    results = load(real_run)
    results.run["target"] = "aws"
    assert [c.name for c in report.charts(results)] == ["cold-distribution", "cold-vs-warm",
                                                        "memory-curve"]


def test_table_formats_are_unchanged(real_run, tmp_path):
    result = run_cli("report", real_run, "--format", "csv")
    assert result.returncode == 0 and result.stdout.startswith("function,runtime,memory_mb")
    refused = run_cli("report", real_run, "--format", "csv", "--output", tmp_path / "x.csv")
    assert refused.returncode == 2 and "redirect" in refused.stderr
