"""matplotlib for every chart coldbench draws, loaded when a chart is drawn (it is an
optional dependency: ``coldbench[report]``)."""

from __future__ import annotations

from coldbench.errors import UsageError


def pyplot():
    """matplotlib's pyplot on the Agg backend, or a message that says how to get it."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("charts need matplotlib: pip install 'coldbench[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
