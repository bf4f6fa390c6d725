"""A profile document on the terminal: per function, the Init Duration with and without
profiling (the overhead), its parts (the external extensions' beside the runtime's three,
where it has extensions, with each extension's register and ready instants), and the items
with the most self time. An
icicle chart of the whole tree, as SVG, with the charts' library (matplotlib)."""

from __future__ import annotations

import io
from pathlib import Path

from tabulate import tabulate

from coldbench import files
from coldbench.profile.tree import PART_LABELS, Item, top_items
from coldbench.render.figure import pyplot
from coldbench.render.table import ms
from coldbench.workflows.profile_document import tree_of

DEFAULT_TOP = 15


def _signed(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:+.1f}{unit}"


def _overhead(profile: dict) -> str:
    if profile["overhead_ms"] is None:
        return "overhead not measured (no valid sample of both kinds)"
    return (f"overhead {_signed(profile['overhead_ms'], ' ms')} "
            f"({_signed(profile['overhead_pct'], ' %')})")


def render(doc: dict, top: int = DEFAULT_TOP) -> str:
    return "\n".join(render_profile(p, p.get("memory_mb", doc["memory_mb"]), top)
                     for p in doc["profiles"])


RUN_TOP = 5                # items per configuration after `run --profile`'s table


def render_run(run: dict, top: int = RUN_TOP) -> str:
    """The profiles of a results file (``run.profiles``), as `run --profile` prints them
    after its table."""
    profiles = run.get("profiles") or []
    head = (f"\nWhere init time goes: {run.get('plan', {}).get('cold', '?')} profiled cold "
            "samples per configuration, taken after the samples above and kept out of their "
            "figures; overhead: profiled Init Duration p50 against the unprofiled cold "
            "samples'.\n\n")
    return head + "\n".join(render_profile(p, p["memory_mb"], top) for p in profiles)


def render_profile(profile: dict, memory_mb: int, top: int = DEFAULT_TOP) -> str:
    init = profile["init_ms"]
    lines = [f"{profile['runtime']}: {profile['function']} ({profile['handler']}) at "
             f"{memory_mb} MB, profiled by {profile['means']}",
             f"Init Duration p50: {ms(init['unprofiled']['p50'], 1)} ms unprofiled "
             f"(n={init['unprofiled']['n']}), {ms(init['profiled']['p50'], 1)} ms profiled "
             f"(n={init['profiled']['n']}); {_overhead(profile)}", ""]
    if profile["split"]:
        rows = [[part["label"], ms(part["ms"], 1),
                 (part["how"] or "") + (" (the rest)" if part["remainder"] else "")]
                for part in profile["parts"]]
        lines += [tabulate(rows, headers=["part", "p50 ms", "how"], tablefmt="simple",
                           colalign=("left", "right", "left"), disable_numparse=True), ""]
    if profile.get("extensions"):
        rows = [[e["name"], ms(e["registered_ms"], 1), ms(e["ready_ms"], 1), e["n"]]
                for e in profile["extensions"]]
        lines += [tabulate(rows, headers=["extension", "registered p50 ms", "ready p50 ms", "n"],
                           tablefmt="simple", colalign=("left", "right", "right", "right"),
                           disable_numparse=True),
                  "(ms from the start of init; the runtime starts once every extension has "
                  "registered)", ""]
    tree = tree_of(profile)
    if tree is not None:
        rows = [[PART_LABELS[part], _name(item), ms(item.self_ms, 1), ms(item.total_ms, 1)]
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
    plt = pyplot()
    figure = icicle_figure(doc["profiles"])
    drawn = io.StringIO()
    figure.savefig(drawn, format="svg")
    plt.close(figure)
    files.replace_file(path, drawn.getvalue())


def icicle_figure(profiles: list[dict]):
    """The icicle charts of ``profiles`` (those with a tree), one below the other, as a
    matplotlib figure: for the file above, and for the reports and the site."""
    plt = pyplot()
    profiles = [p for p in profiles if p.get("tree")]
    # a row of 0.28 inch per level, so that a deep tree (a package importing dozens of
    # modules) keeps its labels apart
    heights = [max(2.4, 0.8 + 0.28 * (_depth(tree_of(p), tree_of(p).total_ms or 1.0) + 1))
               for p in profiles] or [3.2]
    figure, axes = plt.subplots(len(heights), 1, squeeze=False, figsize=(12, sum(heights)),
                                gridspec_kw={"height_ratios": heights})
    for ax, profile in zip(axes[:, 0], profiles):
        tree = tree_of(profile)
        width = tree.total_ms or 1.0
        depth = _draw(ax, tree, 0.0, 0, width)
        ax.set_xlim(0, width)
        ax.set_ylim(depth + 0.5, -0.5)
        ax.set_yticks([])
        ax.set_xlabel("ms")
        memory = f" at {profile['memory_mb']} MB" if profile.get("memory_mb") else ""
        ax.set_title(f"{profile['runtime']}: {profile['function']}{memory} - Init Duration "
                     f"{ms(tree.total_ms, 1)} ms (profiled)", loc="left", fontsize=10)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    figure.tight_layout()
    return figure


def _depth(item: Item, width: float, level: int = 0) -> int:
    """The deepest level ``_draw`` draws below ``item``."""
    if (item.total_ms or 0.0) <= 0 or (item.total_ms or 0.0) / width < MIN_DRAWN_SHARE:
        return level
    return max([level] + [_depth(child, width, level + 1) for child in item.children])


def _draw(ax, item: Item, start: float, level: int, width: float,
          drawn_ms: float | None = None) -> int:
    """Draw ``item`` (``drawn_ms`` wide, else its cumulative time) and what is below it."""
    total = drawn_ms if drawn_ms is not None else (item.total_ms or 0.0)
    if total <= 0 or total / width < MIN_DRAWN_SHARE:
        return level
    colors = ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974", "#64b5cd")
    ax.barh(level, total, left=start, height=0.9, color=colors[level % len(colors)],
            edgecolor="white", linewidth=0.5)
    if total / width >= MIN_LABEL_SHARE:
        ax.text(start + total / 2, level, f"{item.name}\n{item.total_ms or 0.0:.1f} ms", ha="center",
                va="center", fontsize=7, color="white", clip_on=True)
    deepest, offset = level, start
    # children that ran in parallel (external extensions) overlap: drawn side by side,
    # they are narrowed to their parent's width
    covered = sum(child.total_ms or 0.0 for child in item.children)
    scale = min(1.0, total / covered) if covered > 0 else 1.0
    for child in item.children:
        share = (child.total_ms or 0.0) * scale
        deepest = max(deepest, _draw(ax, child, offset, level + 1, width, share))
        offset += share
    return deepest
