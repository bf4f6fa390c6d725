"""The history -> a static site that needs no server and runs no script:

    index.html          per target: the latest run's table, then the cold start of each
                        runtime over time (median and quartiles per memory size), with
                        step changes marked and listed
    data/latest.json    per target: the latest run's metadata and configuration summaries
    data/history.json   every run, the index rows (one per run, configuration and mode) and
                        the step changes found

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
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from coldbench import files
from coldbench.analysis import compare
from coldbench.analysis.summary import summarize_samples
from coldbench.errors import ResultsError, UsageError
from coldbench.model import median
from coldbench.render.report import (PALETTE, Chart, page, profile_charts, pyplot, svg_of,
                                     table_html)
from coldbench.render.table import ms, render
from coldbench.analysis.history import History
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
        if not results.run.get("started_at"):
            continue                        # a trend needs a time
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
                                  "; ".join(changed), region=series.region))
    for step in compare.step_changes([p[2] for p in series.points], comparable, min_change, alpha):
        run_id, started, _ = series.points[step.index]
        found.append(StepMark(series.target, series.key, run_id, started, "step",
                              step.result.text(), step.result.p_value, series.region))
    return sorted(found, key=lambda m: m.started_at)


def trend_chart(target: str, runtime: str, series: list[Series], found: list[StepMark],
                min_change: float = compare.MIN_CHANGE, alpha: float = STEP_ALPHA) -> Chart:
    """One runtime's cold starts over time; ``min_change`` and ``alpha`` as steps were found."""
    plt = pyplot()
    import matplotlib.dates as mdates

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
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    name = f"trend-{target}-{runtime}"
    return Chart(name, f"{runtime}: cold start over time",
                 "Median cold start per run and memory size, quartiles shaded. Red triangles: "
                 f"step changes (Mann-Whitney U, p < {alpha:g}, at least {min_change:.0%}); "
                 "dotted lines: the function code, runtime version or CPU changed.",
                 svg_of(fig, name))


def _quantile(values: list[float], q: float) -> float:
    """numpy's default interpolation, as stats.py computes percentiles."""
    return float(np.percentile(values, q * 100))


def _json_safe(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


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
    targets = sorted({r.run.get("target", "?") for r in runs.values()})
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    all_series = series_of(list(runs.items()))
    all_marks = [m for s in all_series for m in marks(s, runs, min_change, alpha)]

    latest, sections = {}, []
    for target in targets:
        run_id = [i for i in ids if runs[i].run.get("target", "?") == target][-1]
        results = runs[run_id]
        configs = summarize_samples(results.samples)
        latest[target] = {"run": results.run, "run_id": run_id,
                          "configurations": json.loads(render(configs, "json"))}
        parts = [f'<section id="target-{html.escape(target)}">',
                 f"<h2>Target {html.escape(target)}: latest run {html.escape(run_id)}</h2>",
                 f'<p class="note">Started {html.escape(str(results.run.get("started_at")))} on '
                 f'{html.escape(str(results.run.get("host")))} '
                 f'({html.escape(str(results.run.get("cpu")))}).</p>',
                 table_html(configs, f"latest-{target}")]
        for chart in profile_charts(results):        # the latest run's, if it profiled
            parts.append(f'<figure id="{chart.name}">\n<h3>{html.escape(chart.title)}</h3>\n'
                         f"{chart.svg}\n<figcaption>{html.escape(chart.caption)}</figcaption>\n"
                         "</figure>")
        runtimes = sorted({s.key.runtime for s in all_series if s.target == target},
                          key=runtime_rank)
        for runtime in runtimes:
            series = [s for s in all_series if s.target == target and s.key.runtime == runtime]
            found = [m for m in all_marks if m.target == target and m.key.runtime == runtime]
            chart = trend_chart(target, runtime, series, found, min_change, alpha)
            parts.append(f'<figure id="{chart.name}">\n<h3>{html.escape(chart.title)}</h3>\n'
                         f"{chart.svg}\n<figcaption>{html.escape(chart.caption)}</figcaption>\n"
                         "</figure>")
        steps = [m for m in all_marks if m.target == target]
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
        parts.append("</section>")
        sections.append("\n".join(parts))

    index = history.index()
    body = "\n".join([
        "<h1>coldbench: Lambda cold starts over time</h1>",
        f'<p class="note">{len(ids)} runs on {len(targets)} target(s); generated {generated}. '
        'Data: <a href="data/latest.json">data/latest.json</a>, '
        '<a href="data/history.json">data/history.json</a>.</p>',
        *sections])
    documents = {
        "index.html": page("coldbench: cold starts over time", body),
        "data/latest.json": json.dumps({"generated_at": generated, "targets": latest},
                                       indent=1) + "\n",
        "data/history.json": json.dumps({
            "generated_at": generated,
            "runs": history.runs(),
            "index": [{k: _json_safe(v) for k, v in row.items()}
                      for row in index.to_dict("records")],
            "changes": [{"target": m.target, **m.key.to_json(), "region": m.region,
                         "run_id": m.run_id,
                         "started_at": m.started_at, "kind": m.kind, "text": m.text,
                         "p_value": m.p_value} for m in all_marks],
        }, indent=1) + "\n",
    }
    written = {}
    for name, text in documents.items():
        path = Path(site) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        files.replace_file(path, text)
        written[name] = path
    return written
