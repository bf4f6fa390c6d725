"""What every chart of coldbench is drawn with: matplotlib on the Agg backend (imported only
when a chart is drawn), its colours, and the SVG a chart becomes, text kept as text so that
the numbers in a chart can be searched and tested."""

from __future__ import annotations

import io
from dataclasses import dataclass

from coldbench.errors import UsageError

MODE_COLORS = {"cold": "#1f5fa8", "warm": "#e08a1e", "provisioned": "#3a9a4a"}
PALETTE = ["#1f5fa8", "#e08a1e", "#3a9a4a", "#b8322a", "#7b4fa6", "#5b5b5b"]


@dataclass(frozen=True)
class Chart:
    name: str        # file stem, and the id of its figure in HTML
    title: str
    caption: str
    svg: str


def pyplot():
    """matplotlib's pyplot on the Agg backend, or a message that says how to get it."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("charts need matplotlib: pip install 'coldbench[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def svg_of(figure, name: str) -> str:
    """A figure as an <svg> element: text kept as text, ids unique to ``name``, no date."""
    plt = pyplot()
    out = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(figure)
    text = out.getvalue()
    return text[text.index("<svg"):]
