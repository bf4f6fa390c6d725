"""Reports with charts: golden text on constructed samples with known figures, and one real
run's report drawn whole."""

import re
import textwrap
import xml.etree.ElementTree as ET

import pytest

from coldbench.render import report
from coldbench.results.schema import ResultsWriter, load

from conftest import make_idle_sample, make_sample, run_cli

SVG = "{http://www.w3.org/2000/svg}"
RUN = {"run_id": "20261127T060000Z-0000beef", "target": "local",
       "started_at": "2026-11-27T06:00:00+00:00"}


@pytest.fixture
def known_run(tmp_path):
    """python: cold starts 302..352 ms (init 300 + 10 i, Duration 2), warm 0.5..1.0 ms,
    provisioned 3 and 5 ms; go: cold starts 6..16 ms in steps of 2 (init 5 + 2 i, Duration
    1), warm 0.4 and 0.6 ms."""
    samples = [make_sample(init_ms=300.0 + 10 * i, duration_ms=2.0) for i in range(6)]
    samples += [make_sample(mode="warm", duration_ms=d) for d in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)]
    samples += [make_sample(mode="provisioned", duration_ms=d) for d in (3.0, 5.0)]
    samples += [make_sample(runtime="go", init_ms=5.0 + 2 * i) for i in range(6)]
    samples += [make_sample(runtime="go", mode="warm", duration_ms=d) for d in (0.4, 0.6)]
    path = tmp_path / "run.json"
    writer = ResultsWriter(path, run=dict(RUN))
    for sample in samples:
        writer.add(sample)
    writer.close()
    return path


# Figures by hand (numpy's linear interpolation): python as in test_table; go cold p50 11,
# p90 14 + 0.5 x 2 = 15, p99 14 + 0.95 x 2 = 15.9, init p50 10; go warm p50 0.5, p99 0.598.
# Spread (stdev / mean): python provisioned 1.41 / 4 = 35%, go cold 3.74 / 11 = 34%, go warm
# 0.141 / 0.5 = 28%, python warm 0.187 / 0.75 = 25%.
TABLE = """\
| Runtime   | Memory   | Cold Start p50 (p90/p99)   | Init p50 (AWS)   | Warm Invocation p50 (p99)   | Provisioned p50   | n cold/warm/prov   | Documented cold / warm   | Verdict cold / warm   |
|-----------|----------|----------------------------|------------------|-----------------------------|-------------------|--------------------|--------------------------|-----------------------|
| python    | 128 MB   | 327.0 (347.0/351.5)        | 325.0 (84.7)     | 0.75 (0.99)                 | 4.00              | 6/6/2              | 200-500 / 1-5            | inside / faster       |
| go        | 128 MB   | 11.0 (15.0/15.9)           | 10.0 (49.8)      | 0.50 (0.60)                 | -                 | 6/2/0              | 50-100 / <1.00           | faster / inside       |

All figures in ms. Cold Start = Init Duration + Duration of the first invocation; Warm and Provisioned = Duration. AWS: Init Duration of a hello-world function on AWS Lambda (so beside the built-in function only), x86_64, 128 MB, p50 (mean for Node.js 20, whose p50 is not published; maxday/lambda-perf, 2026-08-22).

Warnings:

- the standard deviation is above 10% of the mean in 4 of 5 configuration-modes; worst: python 128 MB provisioned 35%, go 128 MB cold 34%, go 128 MB warm 28%; take more samples or quiet the machine, and read the median with its interval
- fewer than 6 valid samples, too few for a 95% interval of the median in 2 of 5 configuration-modes; python 128 MB provisioned n=2, go 128 MB warm n=2; take at least 6 (--cold, --warm, --provisioned)
"""


def drawn(svg_text: str) -> ET.Element:
    """The parsed chart; it must have drawn something (paths) and kept its text as text."""
    root = ET.fromstring(svg_text)
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f".//{SVG}path")) > 10
    assert root.findall(f".//{SVG}text")
    return root


def texts(root: ET.Element) -> set[str]:
    return {"".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")}


def test_markdown_report_writes_charts_beside_it(known_run, tmp_path):
    output = tmp_path / "report.md"
    result = run_cli("report", known_run, "--format", "markdown", "--output", output)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    text = output.read_text()
    assert text.startswith(textwrap.dedent("""\
        # coldbench report: run 20261127T060000Z-0000beef

        - Target: local
        - Started: 2026-11-27T06:00:00+00:00
        """))
    assert f"## Documented comparison\n\n{TABLE}" in text
    charts = sorted((tmp_path / "report-charts").iterdir())
    assert [c.name for c in charts] == ["cold-distribution.svg", "cold-vs-warm.svg",
                                        "documented-comparison.svg", "local-vs-aws.svg",
                                        "memory-curve.svg"]
    for chart in charts:
        assert f"](report-charts/{chart.name})" in text
        drawn(chart.read_text())
    # the bars are labelled with the medians: cold, warm and provisioned
    labels = texts(ET.fromstring((tmp_path / "report-charts" / "cold-vs-warm.svg").read_text()))
    assert {"327.0", "0.75", "4.00", "11.0", "0.50"} <= labels
    # and the whiskers are the interval the table's statistics use
    assert "median, ms (whiskers: 95% interval)" in labels


def test_markdown_on_stdout_says_where_the_charts_are(known_run):
    result = run_cli("report", known_run, "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# coldbench report: run 20261127T060000Z-0000beef\n")
    assert result.stdout.endswith(
        f"{TABLE}\nCharts: write the report with --output FILE.md to get them as SVG files "
        "beside it, or use --format html for one self-contained file.\n")


def test_html_report_is_one_self_contained_file(known_run, tmp_path):
    output = tmp_path / "report.html"
    result = run_cli("report", known_run, "--format", "html", "--output", output)
    assert result.returncode == 0, result.stderr
    page = output.read_text()
    assert sorted(tmp_path.iterdir()) == [output, known_run]
    assert not re.search(r"<script|<link|<img|\bsrc=|url\((?!#)|@import", page)
    assert not re.search(r"href=\"(?!#)", page)
    assert ('<tr data-function="coldbench" data-runtime="go" data-memory-mb="128">'
            "<td>go</td><td>128 MB</td><td>11.0 (15.0/15.9)</td><td>10.0 (49.8)</td>"
            "<td>0.50 (0.60)</td><td>-</td><td>6/2/0</td><td>50-100 / &lt;1.00</td>"
            "<td>faster / inside</td></tr>") in page
    assert "<td>python</td><td>128 MB</td><td>327.0 (347.0/351.5)</td>" in page
    assert page.index('data-runtime="python"') < page.index('data-runtime="go"')
    assert ("<li>fewer than 6 valid samples, too few for a 95% interval of the median in 2 of 5 "
            "configuration-modes; python 128 MB provisioned n=2, go 128 MB warm n=2; ") in page
    figures = re.findall(r'<figure id="([a-z-]+)">', page)
    assert figures == ["documented-comparison", "cold-distribution", "cold-vs-warm",
                       "memory-curve", "local-vs-aws"]
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        drawn(svg)


def test_the_memory_curve_prices_what_lambda_bills(known_run):
    """1M invocations of python at 128 MB, 1 % cold: requests $0.20, plus 0.125 GB x billed
    seconds x $0.0000166667; billed ms = 0.99 x 1 (every warm Duration bills 1 ms) + 0.01 x
    mean(ceil(init + Duration)) = 0.99 + 0.01 x 327 = 4.26 ms -> $0.20888 -> "$0.21"."""
    [chart] = [c for c in report.charts(load(known_run)) if c.name == "memory-curve"]
    assert {"$0.21", "USD per 1M invocations (x86_64, 1% cold)"} <= texts(ET.fromstring(chart.svg))


def test_an_aws_run_has_no_local_versus_aws_chart(known_run):
    results = load(known_run)
    results.run["target"] = "aws"
    assert [c.name for c in report.charts(results)] == [
        "documented-comparison", "cold-distribution", "cold-vs-warm", "memory-curve"]


def test_table_formats_are_unchanged(known_run, tmp_path):
    result = run_cli("report", known_run, "--format", "csv")
    assert result.returncode == 0
    assert result.stdout.splitlines()[1].startswith(
        "coldbench,python,128,cold,cold_start_ms,6,302.0,327.0,347.0,351.5,352.0,327.0,")
    refused = run_cli("report", known_run, "--format", "csv", "--output", tmp_path / "x.csv")
    assert refused.returncode == 2 and "redirect" in refused.stderr


@pytest.mark.slow
def test_a_real_runs_report_draws_every_chart(real_run, tmp_path):
    output = tmp_path / "report.html"
    result = run_cli("report", real_run, "--format", "html", "--output", output)
    assert result.returncode == 0, result.stderr
    page = output.read_text()
    assert re.findall(r'<figure id="([a-z-]+)">', page) == [
        "documented-comparison", "cold-distribution", "cold-vs-warm", "memory-curve",
        "local-vs-aws"]
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        drawn(svg)
    assert page.count('<tr data-function="coldbench"') == 4     # python and go, 2 sizes each


# the figures of test_aws_idle's keep-warm lines: after 5m 1 of 5 cold (Init 280 + Duration
# 20), 4 warm (Duration 2.5, billed 3 ms: 8,760 pings a month cost $0.0019); after 1h 2 cold
IDLE_LINES = [
    "python arm64 512 MB, idle 5m: cold after idle 1 of 5 (20%), cold start p50 300.0 ms; "
    "keep-warm pings every 5m would keep calls at 20% cold instead of 100% after 1h, for "
    "8,760 pings ($0.0019) a month per environment kept warm",
    "python arm64 512 MB, idle 1h: cold after idle 2 of 2 (100%), cold start p50 320.0 ms; "
    "keep-warm pings every 1h would keep calls at 100% cold, for 730 pings (at least "
    "$0.00015) a month per environment kept warm"]


@pytest.fixture
def idle_run(tmp_path):
    samples = ([make_idle_sample(300.0, False, 2.5) for _ in range(4)]
               + [make_idle_sample(300.0, True, 20.0, 280.0)]
               + [make_idle_sample(3600.0, True, 20.0, 300.0) for _ in range(2)])
    path = tmp_path / "idle.json"
    writer = ResultsWriter(path, run=dict(RUN, target="aws"))
    for sample in samples:
        writer.add(sample)
    writer.close()
    return path


def test_reports_of_an_idle_run_have_its_keep_warm_lines(idle_run, tmp_path):
    result = run_cli("report", idle_run, "--format", "markdown", "--output", tmp_path / "r.md")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "r.md").read_text()
    # a Markdown list below the table (lines of their own, not one run-on paragraph)
    assert "\n\n" + "\n".join(f"- {line}" for line in IDLE_LINES) + "\n\nWarnings:" in text
    output = tmp_path / "r.html"
    assert run_cli("report", idle_run, "--format", "html", "--output", output).returncode == 0
    page = output.read_text()
    assert ('<ul class="idle">' + "".join(f"<li>{line}</li>" for line in IDLE_LINES)
            + "</ul>") in page
    assert page.index('<ul class="idle">') < page.index('<ul class="warnings">')
    # too few samples after idle: the option that takes more of them is --idle-samples
    assert ("python arm64 idle 1h 512 MB cold n=2, python arm64 idle 5m 512 MB warm n=4; "
            "take at least 6 (--idle-samples)\n"
            in text), text


def test_too_few_samples_names_the_options_of_each_kind_of_configuration(idle_run, known_run):
    from coldbench.analysis.summary import summarize_samples
    from coldbench.render.warnings import warning_lines

    both = load(idle_run).samples + load(known_run).samples
    [line] = [w for w in warning_lines(summarize_samples(both)) if w.startswith("fewer")]
    assert line.endswith("take at least 6 (--cold, --warm, --provisioned; --idle-samples "
                         "for the idle ones)"), line
