"""A run -> a report a person reads: the documented-comparison table plus charts.

- Markdown: the table, and charts as SVG files in a folder beside the report
  (``report.md`` -> ``report-charts/*.svg``); printed to stdout it has no charts.
- HTML: one self-contained file, charts inline as SVG, no script, nothing fetched.

Charts are drawn server-side by matplotlib (``render/figure.py``), text kept as SVG text so
that the numbers in a chart can be searched and tested. The two pictures a run is read by
come first (``render/pictures.py``): the run against the documented comparison, and where
its Init Duration goes when it was profiled.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

from coldbench import files
from coldbench import prices as price_tables
from coldbench.analysis import cost, reference
from coldbench.analysis.stats import CONFIDENCE
from coldbench.analysis.summary import ConfigSummary, summarize_samples
from coldbench.errors import UsageError
from coldbench.model import BUILTIN_FUNCTION, DEFAULT_ARCHITECTURE, ConfigKey
from coldbench.render.figure import MODE_COLORS, PALETTE, Chart, pyplot, svg_of
from coldbench.render.pictures import documented_comparison, init_parts
from coldbench.render.profile import icicle_figure
from coldbench.render.table import footnote, headers, idle_lines, ms, ordered, render, rows
from coldbench.render.warnings import warning_lines
from coldbench.results.schema import Results


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _log_if_wide(ax, values: list[float]) -> None:
    positive = [v for v in values if v and v > 0]
    if positive and max(positive) / min(positive) > 30:
        ax.set_yscale("log")


def cold_distribution(results: Results, configs: list[ConfigSummary]) -> Chart | None:
    plt = pyplot()
    cold: dict = {}
    for s in results.samples:
        if s.valid and s.mode == "cold" and s.figure is not None:
            cold.setdefault(s.key, []).append(s.figure)
    groups, labels = [], []
    for c in ordered(configs):
        if c.key in cold:
            groups.append(cold[c.key])
            labels.append(f"{c.label}\n{c.memory_mb} MB")
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 * len(groups) + 2), 4.2))
    ax.boxplot(groups, widths=0.5, showfliers=False, medianprops={"color": "#b8322a"})
    for i, values in enumerate(groups, start=1):
        jitter = [i + 0.18 * math.sin(k * 2.399) for k in range(len(values))]   # spread, no RNG
        ax.scatter(jitter, values, s=10, color=MODE_COLORS["cold"], alpha=0.6, zorder=3)
    ax.set_xticks(range(1, len(groups) + 1), labels)
    ax.set_ylabel("cold start, ms (Init Duration + Duration)")
    _log_if_wide(ax, [v for g in groups for v in g])
    _style(ax)
    return Chart("cold-distribution", "Cold starts per runtime and memory size",
                 "Every valid cold sample (dots) and their quartiles (boxes; line: median).",
                 svg_of(fig, "cold-distribution"))


def cold_vs_warm(configs: list[ConfigSummary]) -> Chart | None:
    plt = pyplot()
    configs = [c for c in ordered(configs) if any(m.figure for m in c.modes.values())]
    modes = [m for m in ("cold", "warm", "provisioned") if any(m in c.modes for c in configs)]
    if not configs:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(configs) + 2), 4.2))
    width = 0.8 / len(modes)
    values = []
    for j, mode in enumerate(modes):
        xs, heights, low, high = [], [], [], []
        for i, c in enumerate(configs):
            figure = c.modes[mode].figure if mode in c.modes else None
            if figure:
                xs.append(i + (j - (len(modes) - 1) / 2) * width)
                heights.append(figure.p50)
                ci_low = figure.ci_low if figure.ci_low is not None else figure.p50
                ci_high = figure.ci_high if figure.ci_high is not None else figure.p50
                low.append(figure.p50 - ci_low)
                high.append(ci_high - figure.p50)
        values += heights
        bars = ax.bar(xs, heights, width, yerr=[low, high], capsize=2, label=mode,
                      color=MODE_COLORS[mode], error_kw={"elinewidth": 0.8})
        ax.bar_label(bars, [ms(h) for h in heights], fontsize=7, padding=2)
    ax.set_xticks(range(len(configs)), [f"{c.label}\n{c.memory_mb} MB" for c in configs])
    ax.set_ylabel(f"median, ms (whiskers: {CONFIDENCE:.0%} interval)")
    _log_if_wide(ax, values)
    ax.legend(frameon=False)
    _style(ax)
    return Chart("cold-vs-warm", "Cold against warm",
                 "Median cold start (Init Duration + Duration) against the median warm and "
                 "provisioned-concurrency Duration.", svg_of(fig, "cold-vs-warm"))


def memory_curve(results: Results, configs: list[ConfigSummary]) -> Chart | None:

    plt = pyplot()
    prices = price_tables.load()
    per_request = {m.key: cost.lambda_per_request(m, DEFAULT_ARCHITECTURE, prices, cost.COLD_FRACTION)
                   for m in cost.measured(results.samples, prices)}
    series: dict[str, list[ConfigSummary]] = {}      # a line per configuration but memory
    for c in ordered(configs):
        series.setdefault(c.label, []).append(c)
    if not series:
        return None
    fig, (time_ax, cost_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    times = []
    for k, (label, group) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        group = sorted(group, key=lambda c: c.memory_mb)
        for mode, style in (("cold", "--"), ("warm", "-")):
            points = [(c.memory_mb, c.modes[mode].figure.p50) for c in group
                      if mode in c.modes and c.modes[mode].figure]
            if points:
                times += [p[1] for p in points]
                time_ax.plot(*zip(*points), style, marker="o", color=color,
                             label=f"{label} {mode}")
        spend = [(c.memory_mb, per_request[c.key] * 1e6) for c in group if c.key in per_request]
        if spend:
            cost_ax.plot(*zip(*spend), "-", marker="o", color=color, label=label)
            for x, y in spend:
                cost_ax.annotate(price_tables.usd(y), (x, y), textcoords="offset points",
                                 xytext=(0, 5), ha="center", fontsize=7)
    time_ax.set_xlabel("memory, MB")
    time_ax.set_ylabel("median, ms (dashed: cold start; solid: warm)")
    _log_if_wide(time_ax, times)
    cost_ax.set_xlabel("memory, MB")
    cost_ax.set_ylabel(f"USD per 1M invocations (x86_64, {cost.COLD_FRACTION:.0%} cold)")
    for ax in (time_ax, cost_ax):
        _style(ax)
        if ax.get_legend_handles_labels()[1]:     # a side with no line gets no legend
            ax.legend(frameon=False, fontsize=7)
    return Chart("memory-curve", "Time and cost per memory size",
                 f"Left: median time per memory size. Right: what 1M invocations cost on "
                 f"Lambda at that size ({prices.name}), requests plus GB-seconds from the "
                 "measured billed durations.", svg_of(fig, "memory-curve"))


def local_vs_aws(results: Results, configs: list[ConfigSummary]) -> Chart | None:
    if results.run.get("target") == "aws":
        return None
    plt = pyplot()
    smallest: dict[str, ConfigSummary] = {}
    for c in ordered(configs):
        cold = c.modes.get("cold")
        if c.function == BUILTIN_FUNCTION and cold and cold.init and reference.aws_init_ms(c.runtime):
            if c.runtime not in smallest or c.memory_mb < smallest[c.runtime].memory_mb:
                smallest[c.runtime] = c
    if not smallest:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(smallest) + 2), 4.2))
    target = results.run.get("target", "here")
    values = []
    for i, (runtime, c) in enumerate(smallest.items()):
        here = c.modes["cold"].init.p50
        aws = reference.aws_init_ms(runtime)[0]
        values += [here, aws]
        bars = ax.bar([i - 0.2, i + 0.2], [here, aws], 0.4, color=[MODE_COLORS["cold"], "#9a9a9a"])
        ax.bar_label(bars, [ms(here), ms(aws)], fontsize=7, padding=2)
        doc = c.documented
        if doc:
            ax.plot([i + 0.45, i + 0.45], [max(doc.cold_low_ms, 1e-3), doc.cold_high_ms],
                    color="#b8322a", linewidth=3, solid_capstyle="butt")
            values += [doc.cold_high_ms]
    ax.set_xticks(range(len(smallest)),
                  [f"{c.label}\n{c.memory_mb} MB" for c in smallest.values()])
    ax.bar(0, 0, color=MODE_COLORS["cold"], label=f"Init p50, {target}")
    ax.bar(0, 0, color="#9a9a9a", label="Init Duration p50, AWS Lambda 128 MB")
    ax.plot([], [], color="#b8322a", linewidth=3, label="documented cold start range")
    ax.set_ylabel("ms")
    _log_if_wide(ax, values)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(ax)
    return Chart("local-vs-aws", f"This run ({target}) against AWS Lambda",
                 f"Init measured here (smallest memory size measured) against Init Duration "
                 f"on AWS Lambda ({reference.AWS_INIT_SOURCE}), beside the documented cold "
                 "start range.", svg_of(fig, "local-vs-aws"))


def profile_charts(results: Results) -> list[Chart]:
    """An icicle chart of each configuration the run profiled (`run --profile`,
    ``run.profiles``), drawn by the profile's own renderer."""

    found = []
    for profile in results.run.get("profiles") or []:
        if not profile.get("tree"):
            continue
        key = ConfigKey.of(profile)
        name = "profile-" + re.sub(r"[^A-Za-z0-9_]+", "-", str(key)).strip("-")
        init = profile["init_ms"]
        overhead = ("" if profile.get("overhead_ms") is None else
                    f" Overhead of profiling: {profile['overhead_ms']:+.1f} ms (profiled "
                    f"Init Duration p50 {ms(init['profiled']['p50'], 1)} ms against "
                    f"{ms(init['unprofiled']['p50'], 1)} ms unprofiled).")
        found.append(Chart(name, f"Where init time goes: {key}",
                           f"The median of {init['profiled']['n']} profiled cold starts "
                           f"({profile['means']}): Init Duration on top, below it its parts, "
                           "then the modules, packages or classes each loaded; width is "
                           f"cumulative time.{overhead}",
                           svg_of(icicle_figure([profile]), name)))
    return found


def charts(results: Results, configs: list[ConfigSummary] | None = None) -> list[Chart]:
    """Every chart the run has data for."""
    configs = summarize_samples(results.samples) if configs is None else configs
    drawn = [documented_comparison(configs), init_parts(results),
             cold_distribution(results, configs), cold_vs_warm(configs),
             memory_curve(results, configs), local_vs_aws(results, configs)]
    return [c for c in drawn if c is not None] + profile_charts(results)


# -- documents -----------------------------------------------------------------------------

def run_title(run: dict) -> str:
    return f"coldbench report: run {run.get('run_id') or run.get('started_at') or '(unnamed)'}"


def run_facts(run: dict) -> list[tuple[str, str]]:
    plan = run.get("plan", {})
    versions = ", ".join(f"{k} {v}" for k, v in run.get("runtime_versions", {}).items())
    facts = [("Target", run.get("target")), ("Started", run.get("started_at")),
             ("Host", f"{run.get('host', '?')} ({run.get('cpu', '?')}, "
                      f"{run.get('cpus', '?')} CPUs)"),
             ("Runtimes", versions),
             ("Samples per configuration", ", ".join(f"{k} {plan[k]}" for k in
                                                     ("cold", "warm", "provisioned") if k in plan)),
             ("coldbench", run.get("coldbench_version"))]
    return [(k, str(v)) for k, v in facts if v]


def charts_folder(output: Path) -> Path:
    """Where the charts of a markdown report written to ``output`` go."""
    return output.with_name(f"{output.stem}-charts")


def markdown(results: Results, output: Path | None = None) -> tuple[str, dict[Path, str]]:
    """The report as Markdown, and the chart files to write beside ``output``."""

    configs = summarize_samples(results.samples)
    lines = [f"# {run_title(results.run)}", ""]
    lines += [f"- {k}: {v}" for k, v in run_facts(results.run)]
    lines += ["", "## Documented comparison", "", render(configs, "markdown").rstrip()]
    warnings = warning_lines(configs) + results.run.get("notes", [])
    if warnings:
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in warnings]
    files: dict[Path, str] = {}
    if output is None:
        lines += ["", "Charts: write the report with --output FILE.md to get them as SVG "
                  "files beside it, or use --format html for one self-contained file."]
    else:
        folder = charts_folder(output)
        for chart in charts(results, configs):
            path = folder / f"{chart.name}.svg"
            files[path] = chart.svg
            lines += ["", f"## {chart.title}", "", f"![{chart.title}]({folder.name}/{path.name})",
                      "", chart.caption]
    return "\n".join(lines) + "\n", files


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #222; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
.scroll { overflow-x: auto; max-width: 100%; display: inline-block; vertical-align: top;
          border: 1px solid #b9c3cf; border-radius: 4px;
          background: linear-gradient(to left, #fff 1.5em, transparent 3em) local,
                      linear-gradient(to left, rgba(0,0,0,.12), transparent 1em) scroll; }
.scroll table { margin: 0; border-style: hidden; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { white-space: normal; vertical-align: bottom; }
a { color: #1f5fa8; } .nav { font-size: 13px; } .regression { color: #b8322a; font-weight: 600; }
th { background: #f3f3f3; }
figure { margin: 2em 0; } figure svg { max-width: 100%; height: auto; }
figcaption, .note { color: #555; font-size: 13px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.warnings li { color: #8a4b00; }
"""


def page(title: str, body: str) -> str:
    """A standalone HTML page: inline style, no script, nothing fetched."""
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"{body}\n</body>\n</html>\n")


def table_html(configs: list[ConfigSummary], table_id: str = "comparison") -> str:
    """The documented-comparison table as HTML; cells carry their configuration."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers(configs))
    body = []
    for config, cells in zip(ordered(configs), rows(configs)):
        attrs = (f' data-function="{html.escape(config.function)}" data-runtime="{config.runtime}"'
                 f' data-memory-mb="{config.memory_mb}"')
        body.append(f"<tr{attrs}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    table = (f'<table id="{table_id}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
             + "\n".join(body) + "\n</tbody>\n</table>")
    return f'<div class="scroll">{table}</div>\n<p class="note">{html.escape(footnote(configs))}</p>'


def figure_html(chart: Chart) -> str:
    return (f'<figure id="{chart.name}">\n<h2>{html.escape(chart.title)}</h2>\n{chart.svg}\n'
            f"<figcaption>{html.escape(chart.caption)}</figcaption>\n</figure>")


def html_report(results: Results) -> str:
    """The report as one self-contained HTML page."""
    configs = summarize_samples(results.samples)
    facts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
                    for k, v in run_facts(results.run))
    warnings = warning_lines(configs) + results.run.get("notes", [])
    parts = [f"<h1>{html.escape(run_title(results.run))}</h1>", f'<dl class="facts">{facts}</dl>',
             "<h2>Documented comparison</h2>", table_html(configs)]
    if idle_lines(configs):         # --idle: cold after idle time, and keep-warm pings
        parts.append('<ul class="idle">' + "".join(f"<li>{html.escape(line)}</li>"
                                                   for line in idle_lines(configs)) + "</ul>")
    if warnings:
        parts.append('<ul class="warnings">' + "".join(f"<li>{html.escape(w)}</li>"
                                                        for w in warnings) + "</ul>")
    parts += [figure_html(chart) for chart in charts(results, configs)]
    return page(run_title(results.run), "\n".join(parts))


def write(results: Results, fmt: str, output: Path | None = None,
          force: bool = False) -> str | None:
    """Render the report (``markdown`` or ``html``): the text when ``output`` is None,
    else written there (each file whole, then renamed), markdown charts beside it; a file
    that exists (the report, a chart) is replaced only with ``force``."""
    if fmt not in ("html", "markdown"):
        raise ValueError(fmt)
    if output is None:
        return html_report(results) if fmt == "html" else markdown(results)[0]
    with files.writing(("--output", output), force=force) as (output,):
        if fmt == "markdown":               # its charts are outputs too
            folder = files.check_folder(charts_folder(output), "--output")
            if folder.is_dir() and any(folder.iterdir()) and not force:
                raise UsageError(f"--output {output}: its charts' folder {folder} holds "
                                 "files: pass --force to replace them")
        text, charts_of = (html_report(results), {}) if fmt == "html" else markdown(results,
                                                                                   output)
        for path, svg in charts_of.items():
            path.parent.mkdir(exist_ok=True)
            files.replace_file(path, svg)
        files.replace_file(output, text)
    return None
