"""A profile document on the terminal: per function, the Init Duration with and without
profiling (the overhead), its three parts, and the items with the most self time. An
icicle chart of the whole tree, as SVG, with the charts' library (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from coldbench.profile.document import tree_of
from coldbench.profile.tree import PART_LABELS, Item, top_items

DEFAULT_TOP = 15


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _signed(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:+.1f}{unit}"


def _overhead(profile: dict) -> str:
    if profile["overhead_ms"] is None:
        return "overhead not measured (no valid sample of both kinds)"
    return (f"overhead {_signed(profile['overhead_ms'], ' ms')} "
            f"({_signed(profile['overhead_pct'], ' %')})")


def render(doc: dict, top: int = DEFAULT_TOP) -> str:
    return "\n".join(render_profile(p, doc["memory_mb"], top) for p in doc["profiles"])


def render_profile(profile: dict, memory_mb: int, top: int = DEFAULT_TOP) -> str:
    init = profile["init_ms"]
    lines = [f"{profile['runtime']}: {profile['function']} ({profile['handler']}) at "
             f"{memory_mb} MB, profiled by {profile['means']}",
             f"Init Duration p50: {ms(init['unprofiled']['p50'])} ms unprofiled "
             f"(n={init['unprofiled']['n']}), {ms(init['profiled']['p50'])} ms profiled "
             f"(n={init['profiled']['n']}); {_overhead(profile)}", ""]
    if profile["split"]:
        rows = [[part["label"], ms(part["ms"]),
                 (part["how"] or "") + (" (the rest)" if part["remainder"] else "")]
                for part in profile["parts"]]
        lines += [tabulate(rows, headers=["part", "p50 ms", "how"], tablefmt="simple",
                           colalign=("left", "right", "left"), disable_numparse=True), ""]
    tree = tree_of(profile)
    if tree is not None:
        rows = [[PART_LABELS[part], _name(item), ms(item.self_ms), ms(item.total_ms)]
                for part, item in top_items(tree, top)]
        if rows:
            lines += [tabulate(rows, headers=["part", "item", "self ms", "cumulative ms"],
                               tablefmt="simple", colalign=("left", "left", "right", "right"),
                               disable_numparse=True), ""]
    return "\n".join(lines) + "\n"


def _name(item: Item) -> str:
    return f"{item.name} ({item.note})" if item.note in ("failed", "unfinished") else item.name


# the icicle chart --------------------------------------------------------------------

MIN_LABEL_SHARE = 0.04     # items narrower than this share of the root carry no label
MIN_DRAWN_SHARE = 0.001    # nor are they drawn below this share (a JVM loads ~1500 classes)


def icicle_svg(doc: dict, path: Path) -> None:
    """An icicle chart per function (root on top, each row a level, width = cumulative
    milliseconds) written to ``path`` as SVG."""
    from coldbench.render.report import pyplot
    plt = pyplot()
    profiles = [p for p in doc["profiles"] if p.get("tree")]
    figure, axes = plt.subplots(len(profiles) or 1, 1, squeeze=False,
                                figsize=(12, 3.2 * max(len(profiles), 1)))
    for ax, profile in zip(axes[:, 0], profiles):
        tree = tree_of(profile)
        width = tree.total_ms or 1.0
        depth = _draw(ax, tree, 0.0, 0, width)
        ax.set_xlim(0, width)
        ax.set_ylim(depth + 0.5, -0.5)
        ax.set_yticks([])
        ax.set_xlabel("ms")
        ax.set_title(f"{profile['runtime']}: {profile['function']} - Init Duration "
                     f"{ms(tree.total_ms)} ms (profiled)", loc="left", fontsize=10)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    figure.tight_layout()
    figure.savefig(path, format="svg")
    plt.close(figure)


def _draw(ax, item: Item, start: float, level: int, width: float) -> int:
    total = item.total_ms or 0.0
    if total <= 0 or total / width < MIN_DRAWN_SHARE:
        return level
    colors = ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974", "#64b5cd")
    ax.barh(level, total, left=start, height=0.9, color=colors[level % len(colors)],
            edgecolor="white", linewidth=0.5)
    if total / width >= MIN_LABEL_SHARE:
        ax.text(start + total / 2, level, f"{item.name}\n{total:.1f} ms", ha="center",
                va="center", fontsize=7, color="white", clip_on=True)
    deepest, offset = level, start
    for child in item.children:
        deepest = max(deepest, _draw(ax, child, offset, level + 1, width))
        offset += child.total_ms or 0.0
    return deepest
