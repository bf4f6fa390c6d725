"""The two pictures a run is read by, for the report and the site:

- the documented comparison: per mode (cold, warm, provisioned), each configuration's
  median with its confidence interval, beside the documented range for its runtime, shaded;
- where init goes: a stacked bar per profiled configuration (`run --profile`) of its
  Init Duration's parts (the runtime starting, the runtime client, the function's own init).

Every figure a picture shows is also SVG text (``report.svg_of``), and every mark carries
an id naming its configuration, so the numbers can be found and checked in the page.
"""

from __future__ import annotations

import re

from coldbench.analysis.stats import CONFIDENCE
from coldbench.analysis.summary import ConfigSummary
from coldbench.render.figure import MODE_COLORS, Chart, pyplot, svg_of
from coldbench.render.table import ms, ordered
from coldbench.model import BUILTIN_FUNCTION, ConfigKey
from coldbench.results.schema import MODES, Results

SHADE = "#d9d9d9"
PART_COLORS = {"runtime": "#7b4fa6", "client": "#e08a1e", "function": "#1f5fa8"}


def mark_id(kind: str, key: ConfigKey) -> str:
    """The id of a configuration's mark in a picture: "p50-cold-python-128"."""
    name = key.runtime if key.function == BUILTIN_FUNCTION else f"{key.function}-{key.runtime}"
    extra = f"-{key.variant.label()}" if key.variant else ""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"{kind}-{name}-{key.memory_mb}{extra}")


def _documented(config: ConfigSummary, mode: str) -> tuple[float, float] | None:
    """The documented range a mode's median is read against. Provisioned concurrency serves
    requests from environments initialised ahead (AWS Lambda Developer Guide, "Configuring
    provisioned concurrency"), so its invocations are read against the warm range."""
    doc = config.documented
    if doc is None:
        return None
    if mode == "cold":
        return doc.cold_low_ms, doc.cold_high_ms
    return doc.warm_low_ms, doc.warm_high_ms


def documented_comparison(configs: list[ConfigSummary], name: str = "documented-comparison"
                          ) -> Chart | None:
    """Per mode, each configuration's p50 and its interval against the documented range."""
    configs = [c for c in ordered(configs)
               if any(m.figure for m in c.modes.values())]
    modes = [m for m in MODES if any(m in c.modes and c.modes[m].figure for c in configs)]
    if not configs or not modes:
        return None
    plt = pyplot()
    rows = len(configs)
    fig, axes = plt.subplots(1, len(modes), figsize=(3.6 * len(modes) + 2.2, 0.42 * rows + 1.4),
                             sharey=True, squeeze=False)
    labels = [f"{c.label} {c.memory_mb} MB" for c in configs]
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for ax, mode in zip(axes[0], modes):
        values = []
        measured = [v for c in configs if mode in c.modes and c.modes[mode].figure
                    for v in (c.modes[mode].figure.ci_low, c.modes[mode].figure.p50) if v]
        floor = min(measured) / 3 if measured else 0.01     # where a band from 0 starts
        for y, config in enumerate(configs):
            documented = _documented(config, mode)
            if documented:
                low, high = documented
                ax.fill_betweenx([y - 0.38, y + 0.38], max(low, floor), high, color=SHADE,
                                 linewidth=0, gid=mark_id(f"doc-{mode}", config.key))
                values += [max(low, floor), high]
            summary = config.modes.get(mode)
            figure = summary.figure if summary else None
            if figure is None:
                continue
            low = figure.ci_low if figure.ci_low is not None else figure.p50
            high = figure.ci_high if figure.ci_high is not None else figure.p50
            ax.errorbar([figure.p50], [y], xerr=[[figure.p50 - low], [high - figure.p50]],
                        fmt="o", color=MODE_COLORS[mode], markersize=5, capsize=3,
                        elinewidth=1.2, gid=mark_id(f"p50-{mode}", config.key))
            ax.annotate(ms(figure.p50), (high, y), textcoords="offset points", xytext=(5, -3),
                        fontsize=7.5, color="#222222", gid=mark_id(f"label-{mode}", config.key))
            values += [figure.p50, low, high]
        positive = [v for v in values if v > 0]
        if positive and max(positive) / min(positive) > 20:
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(min(positive) * 0.8, max(values) * 1.8)
        else:
            ax.set_xlim(0, max(values) * 1.25)
        ax.set_title({"cold": "cold start (Init + Duration)", "warm": "warm (Duration)",
                      "provisioned": "provisioned (Duration)"}[mode], fontsize=10)
        ax.set_xlabel("ms")
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[0][0].set_yticks(range(rows), labels, fontsize=8)
    axes[0][0].invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=SHADE, label="documented range"),
               plt.Line2D([], [], marker="o", color="#555555", linestyle="none",
                          label=f"p50, {CONFIDENCE:.0%} interval")]
    fig.legend(handles=handles, loc="upper center", ncol=2, frameon=False, fontsize=8,
               bbox_to_anchor=(0.5, 1.0 + 0.35 / (rows + 3)))
    fig.tight_layout()
    return Chart(name, "Against the documented comparison",
                 f"Each configuration's median (dot) with its {CONFIDENCE:.0%} confidence "
                 "interval (whiskers), beside the documented range for its runtime (shaded): "
                 "cold starts against the documented cold start range, warm and "
                 "provisioned-concurrency invocations against the documented warm range.",
                 svg_of(fig, name))


def init_parts(results: Results, name: str = "init-parts") -> Chart | None:
    """A stacked bar per profiled configuration: where its Init Duration goes."""
    profiles = [p for p in results.run.get("profiles") or []
                if any(part.get("ms") for part in p.get("parts") or [])]
    if not profiles:
        return None
    profiles.sort(key=lambda p: ConfigKey.of(p).order)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(profiles) + 1.6))
    labels, totals = [], []
    widest = max(_total(p) for p in profiles)     # a segment's label needs room on the axis
    for y, profile in enumerate(profiles):
        key = ConfigKey.of(profile)
        labels.append(f"{key.label} {key.memory_mb} MB")
        left = 0.0
        for part in profile["parts"]:
            width = part.get("ms") or 0.0
            if width <= 0:
                continue
            ax.barh([y], [width], left=left, height=0.6, color=PART_COLORS.get(part["part"]),
                    gid=mark_id(f"init-{part['part']}", key))
            if width > 0.06 * widest:
                ax.text(left + width / 2, y, ms(width), ha="center", va="center",
                        fontsize=7.5, color="white", gid=mark_id(f"init-{part['part']}-ms", key))
            left += width
        totals.append(left)
        ax.annotate(f"{ms(left)} ms", (left, y), textcoords="offset points", xytext=(5, -3),
                    fontsize=8, gid=mark_id("init-total", key))
    ax.set_yticks(range(len(profiles)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(right=max(totals) * 1.18)
    ax.set_xlabel("ms of Init Duration (profiled cold starts, median per part)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    parts = {part["part"]: part["label"] for p in profiles for part in p["parts"]}
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=PART_COLORS.get(k), label=v)
                       for k, v in parts.items()],
              loc="upper center", bbox_to_anchor=(0.5, -0.5 / (len(profiles) + 1) - 0.12),
              ncol=len(parts), frameon=False, fontsize=8)
    return Chart(name, "Where Init Duration goes",
                 "Per profiled configuration (run --profile), the median of its profiled cold "
                 "starts split into the runtime starting, the runtime client, and the "
                 "function's own init; numbers in ms. Profiled cold starts include the "
                 "profiler's overhead (the profiles below say how much).", svg_of(fig, name))


def _total(profile: dict) -> float:
    return sum(part.get("ms") or 0.0 for part in profile["parts"])
