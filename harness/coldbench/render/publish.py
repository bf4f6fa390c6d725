"""The history -> a static site that needs no server and runs no script:

    index.html          every page, with the latest run of each; the A/B comparisons
    <target>-<function set>.html
                        one page per target and function set (the built-in functions, the
                        realistic ones, a function of your own): the latest run's table,
                        the picture of it against the documented comparison, where its init
                        goes (when profiled), the cold start of each runtime over time
                        (median and quartiles per memory size) with step changes marked and
                        listed, and every run, linked to its report
    runs/<run id>.html  each run's report (``render/report.py``); an A/B run's has its
                        comparison on top (``coldbench ab``, kept with ``history add``)
    data/latest.json    per target: the latest run's metadata and configuration summaries
    data/history.json   every run, the index rows (one per run, configuration and mode) and
                        the step changes found

A/B runs (two versions in one run) are shown as comparisons, not in the trends.

Step changes are found by ``compare.step_changes``: consecutive runs of one target,
configuration and mode whose cold starts differ significantly (Mann-Whitney U, p <
``STEP_ALPHA``: stricter than `coldbench compare`'s ``compare.ALPHA``, as a trend tests every
consecutive pair) and by at least the minimum change (``compare.MIN_CHANGE`` unless told).
A pair whose function code, runtime version, target or CPU model differ is not tested; it
is marked as a change of environment instead.

Every file is replaced whole (write, then rename), so a reader never sees half a file.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from coldbench import files
from coldbench.analysis import ab as ab_analysis
from coldbench.analysis import compare
from coldbench.analysis.stats import CONFIDENCE
from coldbench.analysis.summary import summarize_samples
from coldbench.analysis.history import History
from coldbench.errors import ResultsError, UsageError
from coldbench.model import median
from coldbench.render import compare as comparison_table
from coldbench.render.compare import blamed_text, change_text, difference_text, verdict
from coldbench.render.figure import PALETTE, Chart, pyplot, svg_of
from coldbench.render.pictures import documented_comparison, init_parts
from coldbench.render.report import html_report, page, profile_charts, table_html
from coldbench.render.table import ms, render
from coldbench.results.schema import ConfigKey, Results, region_of, runtime_rank

TREND_MODE = "cold"
STEP_ALPHA = 0.01          # stricter than compare's 0.05: a trend tests every consecutive pair


@dataclass(frozen=True)
class StepMark:
    target: str
    key: ConfigKey
    run_id: str
    started_at: str
    kind: str                  # "step" or "environment"
    text: str                  # "1.34x slower", or what changed
    p_value: float | None = None
    region: str | None = None  # AWS: the series' region

    @property
    def element_id(self) -> str:
        return (f"{self.kind}-{self.target}-{self.key.runtime}-{self.key.memory_mb}"
                f"{_id_part(self.key.variant.label())}{_region_part(self.key, self.region)}"
                f"-{self.run_id}")


def _id_part(variant: str | None) -> str:
    """The variant as part of an element id ("x86_64 SnapStart" -> "-x86_64-SnapStart")."""
    return "" if variant is None else "-" + re.sub(r"[^A-Za-z0-9_]+", "-", variant)


def _shows_region(key: ConfigKey, region: str | None) -> bool:
    """A series' region is said beside its configuration unless the variant says it (a
    run in several regions)."""
    return bool(region) and key.variant.region != region


def _region_part(key: ConfigKey, region: str | None) -> str:
    return f"-{region}" if _shows_region(key, region) else ""


@dataclass
class Series:
    target: str
    key: ConfigKey
    points: list[tuple[str, str, list[float]]]    # (run_id, started_at, figures), oldest first
    region: str | None = None                     # AWS: regions are never pooled

    @property
    def label(self) -> str:
        return f"{self.key}{f' ({self.region})' if _shows_region(self.key, self.region) else ''}"


def _when(started_at: str) -> datetime:
    return datetime.fromisoformat(started_at)


def series_of(runs: list[tuple[str, Results]], mode: str = TREND_MODE) -> list[Series]:
    """One series per target, configuration and (AWS) region: the figures of ``mode`` in
    each run."""
    found: dict[tuple[str, str | None, ConfigKey], Series] = {}
    for run_id, results in runs:
        if not results.run.get("started_at") or ab_analysis.is_ab(results):
            continue                        # a trend needs a time; an A/B run is a comparison
        target = results.run.get("target", "?")
        per_config: dict[tuple[str | None, ConfigKey], list[float]] = {}
        for s in results.samples:
            if s.mode == mode:
                values = per_config.setdefault((region_of(s, results.run), s.key), [])
                if s.valid and s.figure is not None:
                    values.append(s.figure)
        for (region, key), values in per_config.items():
            series = found.setdefault((target, region, key), Series(target, key, [], region))
            series.points.append((run_id, results.run.get("started_at", ""), values))
    return list(found.values())


def marks(series: Series, runs: dict[str, Results], min_change: float = compare.MIN_CHANGE,
          alpha: float = STEP_ALPHA) -> list[StepMark]:
    """Step changes and changes of environment along one series."""
    comparable, found = [True], []
    for (prev_id, _, _), (run_id, started, _) in zip(series.points, series.points[1:]):
        where = {"region": series.region} if series.region else {}
        changed = compare.differences(runs[prev_id].run | where, runs[run_id].run | where,
                                      series.key.function, series.key.runtime)
        comparable.append(not changed)
        if changed:
            found.append(StepMark(series.target, series.key, run_id, started, "environment",
                                  "; ".join(difference_text(d) for d in changed),
                                  region=series.region))
    for step in compare.step_changes([p[2] for p in series.points], comparable, min_change, alpha):
        run_id, started, _ = series.points[step.index]
        found.append(StepMark(series.target, series.key, run_id, started, "step",
                              change_text(step.result), step.result.p_value, series.region))
    return sorted(found, key=lambda m: m.started_at)


def trend_chart(target: str, runtime: str, series: list[Series], found: list[StepMark],
                min_change: float = compare.MIN_CHANGE, alpha: float = STEP_ALPHA) -> Chart:
    """One runtime's cold starts over time; ``min_change`` and ``alpha`` as steps were found."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    values = []
    for k, s in enumerate(sorted(series, key=lambda s: (s.key.order, s.region or ""))):
        color = PALETTE[k % len(PALETTE)]
        points = [(_when(started), sorted(v)) for _, started, v in s.points if v]
        if not points:
            continue
        xs = [p[0] for p in points]
        p50 = [median(v) for _, v in points]
        low = [_quantile(v, 0.25) for _, v in points]
        high = [_quantile(v, 0.75) for _, v in points]
        values += p50
        label = s.label.removeprefix(f"{runtime} ")     # the chart is the runtime's
        part = f"{s.key.memory_mb}{_id_part(s.key.variant.label())}{_region_part(s.key, s.region)}"
        ax.fill_between(xs, low, high, color=color, alpha=0.15, linewidth=0)
        ax.plot(xs, p50, "-o", color=color, markersize=3.5, label=label,
                gid=f"trend-{target}-{runtime}-{part}")
        ax.annotate(ms(p50[-1]), (xs[-1], p50[-1]), textcoords="offset points", xytext=(6, -3),
                    fontsize=8, color=color,
                    gid=f"last-{target}-{runtime}-{part}")
        by_run = {run_id: (_when(started), median(v)) for run_id, started, v in s.points if v}
        for mark in found:
            if mark.key != s.key or mark.region != s.region or mark.run_id not in by_run:
                continue
            x, y = by_run[mark.run_id]
            if mark.kind == "step":
                ax.scatter([x], [y], s=90, marker="v" if "slower" in mark.text else "^",
                           color="#b8322a", zorder=4, gid=mark.element_id)
                ax.annotate(mark.text, (x, y), textcoords="offset points", xytext=(0, 9),
                            ha="center", fontsize=8, color="#b8322a")
            else:
                ax.axvline(x, color="#888888", linestyle=":", linewidth=1, gid=mark.element_id)
    ax.set_ylabel("cold start, ms (median; band: quartiles)")
    if values and min(values) > 0 and max(values) / min(values) > 30:
        ax.set_yscale("log")
    time_axis(ax, [_when(started) for s in series for _, started, v in s.points if v])
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    name = f"trend-{target}-{runtime}"
    return Chart(name, f"{runtime}: cold start over time",
                 "Median cold start per run and memory size, quartiles shaded. Red triangles: "
                 f"step changes (Mann-Whitney U, p < {alpha:g}, at least {min_change:.0%}); "
                 "dotted lines: the function code, runtime version or CPU changed.",
                 svg_of(fig, name))


def time_axis(ax, when: list[datetime]) -> None:
    """A time axis that reads well whether the runs are seconds or months apart: ticks in
    UTC with as much of the date and time as the span needs, the rest said once below."""
    import matplotlib.dates as mdates

    when = [w.astimezone(timezone.utc) for w in when]
    if not when:
        return
    first, last = min(when), max(when)
    span = last - first
    if span < timedelta(minutes=1):              # one run, or runs seconds apart: pad
        pad = timedelta(seconds=30) if span else timedelta(hours=1)
        ax.set_xlim(first - pad, last + pad)
        span += 2 * pad
    if span <= timedelta(minutes=10):
        shape, below = "%H:%M:%S", f"{first:%Y-%m-%d}, UTC"
    elif span <= timedelta(days=1):
        shape, below = "%H:%M", f"{first:%Y-%m-%d}" + (
            "" if first.date() == last.date() else f" to {last:%Y-%m-%d}") + ", UTC"
    elif span <= timedelta(days=20):
        shape, below = "%b %d\n%H:%M", f"{first:%Y}, UTC"
    elif span <= timedelta(days=400):
        shape, below = "%b %d", f"{first:%Y}" + ("" if first.year == last.year
                                                 else f" to {last:%Y}") + ", UTC"
    else:
        shape, below = "%Y-%m", "UTC"
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7, tz=timezone.utc)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter(shape, tz=timezone.utc))
    ax.set_xlabel(f"run started ({below})")


def _quantile(values: list[float], q: float) -> float:
    """numpy's default interpolation, as stats.py computes percentiles."""
    return float(np.percentile(values, q * 100))


def _json_safe(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "run"


def page_name(target: str, function: str) -> str:
    """The file of a target's and function set's page: "local-coldbench.html"."""
    return f"{_slug(target)}-{_slug(function)}.html"


def report_name(run_id: str) -> str:
    return f"runs/{_slug(run_id)}.html"


def _figure(chart: Chart, level: int = 3) -> str:
    return (f'<figure id="{chart.name}">\n<h{level}>{html.escape(chart.title)}</h{level}>\n'
            f"{chart.svg}\n<figcaption>{html.escape(chart.caption)}</figcaption>\n</figure>")


def _only(results: Results, function: str) -> Results:
    """The part of a run that measured one function set, its profiles too."""
    run = dict(results.run)
    if run.get("profiles"):
        run["profiles"] = [p for p in run["profiles"] if p.get("function") == function]
    return Results(run, [s for s in results.samples if s.function == function])


def _nav(up: str = "") -> str:
    return f'<p class="nav"><a href="{up}index.html">coldbench: all pages</a></p>'


def _runs_table(rows: list[tuple[str, Results]], up: str = "") -> str:
    """Every run of a page, newest first, each linked to its report."""
    items = "".join(
        f'<tr><td>{html.escape(str(r.run.get("started_at") or "?"))}</td>'
        f'<td><a href="{up}{report_name(run_id)}">{html.escape(run_id)}</a></td>'
        f'<td>{html.escape(str(r.run.get("host") or "?"))}</td>'
        f'<td>{html.escape(str(r.run.get("cpu") or "?"))}</td>'
        f'<td>{len(r.samples)}</td></tr>' for run_id, r in reversed(rows))
    return (f'<div class="scroll"><table class="runs"><thead><tr><th>Started (UTC)</th>'
            f"<th>Run (its report)</th><th>Host</th><th>CPU</th><th>Samples</th></tr></thead>"
            f"<tbody>{items}</tbody></table></div>")


def ab_section(results: Results) -> str:
    """An A/B run's comparison: the table `coldbench ab` prints, as HTML."""
    found = ab_analysis.compare(results)
    versions = html.escape(_ab_versions(results))
    regressions = sum(c.regression for c in found)
    rows = "".join(
        f"<tr><td>{html.escape(c.key.label)}</td><td>{c.key.memory_mb} MB</td><td>{c.mode}</td>"
        f"<td>{ms(c.base_p50)} ({c.base_n})</td><td>{ms(c.new_p50)} ({c.new_n})</td>"
        f"<td>{comparison_table.ratio_text(c.result)}</td>"
        f"<td>{f'{c.result.p_value:.3g}' if c.result else '-'}</td>"
        f'<td class="{"regression" if c.regression else ""}">{html.escape(verdict(c))}</td></tr>'
        for c in found)
    blamed = "".join(f"<li>{html.escape(str(c.key))} {c.mode}: "
                     + html.escape(", ".join(blamed_text(b) for b in c.blame)) + "</li>"
                     for c in found if c.blame)
    return (f'<section class="ab"><h2>A/B: {versions}</h2>'
            f'<p class="verdict">{regressions} regression{"s" if regressions != 1 else ""} '
            f"(head against base: Mann-Whitney U, p &lt; {compare.ALPHA:g}, at least "
            f"{compare.MIN_CHANGE:.0%})</p>"
            f'<div class="scroll"><table class="ab-comparison"><thead><tr><th>Runtime</th>'
            f"<th>Memory</th><th>Mode</th><th>Base p50 (n)</th><th>Head p50 (n)</th>"
            f"<th>Head/base ({CONFIDENCE:.0%} interval)</th><th>p</th><th>Verdict</th></tr>"
            f"</thead><tbody>{rows}</tbody></table></div>" + (f"<p>Grew most (profiled init):</p><ul>{blamed}</ul>"
                                 if blamed else "") + "</section>")


def run_report(results: Results) -> str:
    """A run's page on the site: its report, an A/B run's comparison on top."""
    text = html_report(results)
    top = _nav("../") + (ab_section(results) if ab_analysis.is_ab(results) else "")
    return text.replace("<body>\n", "<body>\n" + top + "\n", 1)


SITE_FILES = ("index.html", "data/latest.json", "data/history.json")


def is_site(folder: Path) -> bool:
    """Whether ``folder`` holds a site this function wrote: its data/history.json is
    one, whatever else the folder holds."""
    try:
        document = json.loads((folder / "data/history.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and {"generated_at", "runs", "index",
                                           "changes"} <= document.keys()


def check_site(site: Path, force: bool = False) -> None:
    """UsageError unless ``site`` can take the site: a folder that can be written (or
    made), that is empty, holds a site published before, or ``force`` is given."""
    files.check_folder(site, "SITE")
    if site.is_dir() and any(site.iterdir()) and not is_site(site) and not force:
        raise UsageError(f"SITE {site} holds files that are not a coldbench site: choose an "
                         "empty or new folder, or pass --force to write the site among them")
    for name in SITE_FILES:
        if (site / name).is_dir() or (site / name).is_symlink():
            raise UsageError(f"SITE {site}: {name} is a folder or a link; the site would "
                             "replace it")


def publish(history: History, site: Path, min_change: float = compare.MIN_CHANGE,
            alpha: float = STEP_ALPHA, force: bool = False) -> dict[str, Path]:
    """Write the site for ``history`` into ``site``; returns the files written. The
    folder is checked first (``check_site``) and claimed while it is written."""
    site = Path(site)
    check_site(site, force)
    site.mkdir(parents=True, exist_ok=True)
    with files.Claim(site, "SITE"):
        return _publish(history, site, min_change, alpha)


def _publish(history: History, site: Path, min_change: float, alpha: float) -> dict[str, Path]:
    ids = history.run_ids_on_disk()
    if not ids:
        raise ResultsError(f"the history in {history.root} holds no run: add runs with "
                           f"`coldbench run --history {history.root}` first")
    runs = {run_id: history.load_run(run_id) for run_id in ids}
    trend_ids = [i for i in ids if not ab_analysis.is_ab(runs[i])]
    ab_ids = [i for i in ids if ab_analysis.is_ab(runs[i])]
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    all_series = series_of([(i, runs[i]) for i in trend_ids])
    all_marks = [m for s in all_series for m in marks(s, runs, min_change, alpha)]

    documents: dict[str, str] = {}
    latest, listed = {}, []
    for target in sorted({runs[i].run.get("target", "?") for i in trend_ids}):
        of_target = [i for i in trend_ids if runs[i].run.get("target", "?") == target]
        run_id = of_target[-1]
        configs = summarize_samples(runs[run_id].samples)
        latest[target] = {"run": runs[run_id].run, "run_id": run_id,
                          "configurations": json.loads(render(configs, "json"))}
        functions = sorted({s.function for i in of_target for s in runs[i].samples})
        for function in functions:
            with_it = [i for i in of_target if any(s.function == function
                                                   for s in runs[i].samples)]
            name = page_name(target, function)
            documents[name] = target_page(target, function, [(i, runs[i]) for i in with_it],
                                          all_series, all_marks, min_change, alpha)
            listed.append((target, function, name, with_it[-1], len(with_it)))
    for run_id in ids:
        documents[report_name(run_id)] = run_report(runs[run_id])

    pages = "".join(
        f'<tr><td>{html.escape(target)}</td><td><a href="{name}">{html.escape(function)}</a>'
        f'</td><td><a href="{report_name(last)}">{html.escape(last)}</a></td>'
        f"<td>{count}</td></tr>" for target, function, name, last, count in listed)
    ab_rows = "".join(
        f'<tr><td>{html.escape(str(runs[i].run.get("started_at")))}</td>'
        f'<td><a href="{report_name(i)}">{html.escape(i)}</a></td>'
        f"<td>{html.escape(_ab_versions(runs[i]))}</td>"
        f"<td>{_ab_verdict(runs[i])}</td></tr>" for i in reversed(ab_ids))
    body = "\n".join([
        "<h1>coldbench: Lambda cold starts over time</h1>",
        f'<p class="note">{len(ids)} runs; generated {generated}. '
        'Data: <a href="data/latest.json">data/latest.json</a>, '
        '<a href="data/history.json">data/history.json</a>.</p>',
        "<h2>Pages: one per target and function set</h2>",
        '<div class="scroll"><table id="pages"><thead><tr><th>Target</th><th>Function set'
        "</th><th>Latest run (its report)</th><th>Runs</th></tr></thead>"
        f"<tbody>{pages}</tbody></table></div>",
        *([f'<h2>A/B comparisons</h2><div class="scroll"><table id="ab-runs"><thead><tr>'
           f"<th>Started (UTC)</th><th>Run (its report)</th><th>Base → head</th>"
           f"<th>Verdict</th></tr></thead><tbody>{ab_rows}</tbody></table></div>"]
          if ab_ids else [])])
    index = history.index()
    documents["index.html"] = page("coldbench: cold starts over time", body)
    documents["data/latest.json"] = json.dumps({"generated_at": generated, "targets": latest},
                                               indent=1) + "\n"
    documents["data/history.json"] = json.dumps({
        "generated_at": generated,
        "runs": history.runs(),
        "index": [{k: _json_safe(v) for k, v in row.items()}
                  for row in index.to_dict("records")],
        "changes": [{"target": m.target, **m.key.to_json(), "region": m.region,
                     "run_id": m.run_id,
                     "started_at": m.started_at, "kind": m.kind, "text": m.text,
                     "p_value": m.p_value} for m in all_marks],
    }, indent=1) + "\n"
    written = {}
    for name, text in documents.items():
        path = Path(site) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        files.replace_file(path, text)
        written[name] = path
    return written


def _ab_versions(results: Results) -> str:
    described = results.run.get("ab") or {}
    return " → ".join(str((described.get(v) or {}).get("ref", v)) for v in ("base", "head"))


def _ab_verdict(results: Results) -> str:
    found = ab_analysis.compare(results)
    regressions = sum(c.regression for c in found)
    if regressions:
        plural = "s" if regressions != 1 else ""
        return f'<span class="regression">{regressions} regression{plural}</span>'
    return "no regression" if any(c.result is not None for c in found) else "nothing compared"


def target_page(target: str, function: str, rows: list[tuple[str, Results]],
                all_series: list[Series], all_marks: list[StepMark],
                min_change: float, alpha: float) -> str:
    """The page of one target and function set."""
    run_id, results = rows[-1]
    shown = _only(results, function)
    configs = summarize_samples(shown.samples)
    parts = [_nav(), f'<section id="target-{html.escape(target)}">',
             f"<h1>{html.escape(function)} on the {html.escape(target)} target</h1>",
             f'<h2>Latest run: <a href="{report_name(run_id)}">{html.escape(run_id)}</a></h2>',
             f'<p class="note">Started {html.escape(str(results.run.get("started_at")))} on '
             f'{html.escape(str(results.run.get("host")))} '
             f'({html.escape(str(results.run.get("cpu")))}).</p>',
             table_html(configs, f"latest-{target}")]
    for chart in (documented_comparison(configs), init_parts(shown)):
        if chart is not None:
            parts.append(_figure(chart))
    parts += [_figure(chart) for chart in profile_charts(shown)]
    mine = [s for s in all_series if s.target == target and s.key.function == function]
    for runtime in sorted({s.key.runtime for s in mine}, key=runtime_rank):
        series = [s for s in mine if s.key.runtime == runtime]
        found = [m for m in all_marks if m.target == target and m.key.runtime == runtime
                 and m.key.function == function]
        parts.append(_figure(trend_chart(target, runtime, series, found, min_change, alpha)))
    steps = [m for m in all_marks if m.target == target and m.key.function == function]
    if steps:
        items = "".join(
            f"<tr><td>{html.escape(m.started_at)}</td>"
            f"<td>{html.escape(m.key.label)}"
            f"{f' ({m.region})' if _shows_region(m.key, m.region) else ''}</td>"
            f"<td>{m.key.memory_mb} MB</td><td>{html.escape(m.text)}</td>"
            f"<td>{'' if m.p_value is None else f'{m.p_value:.3g}'}</td></tr>" for m in steps)
        parts.append(f'<h3>Changes</h3>\n<table class="steps"><thead><tr><th>Run started</th>'
                     f"<th>Runtime</th><th>Memory</th><th>Change</th><th>p</th></tr></thead>"
                     f"<tbody>{items}</tbody></table>")
    parts += ["<h2>Runs</h2>", _runs_table(rows), "</section>"]
    return page(f"coldbench: {function} on {target}", "\n".join(parts))
