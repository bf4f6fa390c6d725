"""A calibration's validation (``coldbench.analysis.prediction.validation_rows``) as the
Markdown table docs/fidelity.md holds."""

from __future__ import annotations

from coldbench.analysis.prediction import validation_rows
from coldbench.calibration import Calibration


def markdown_table(calibration: Calibration) -> str:
    """``validation_rows`` as the markdown table docs/fidelity.md holds."""
    lines = ["| runtime | local init p50 | read MB | AWS p50 | predicted (all) | error "
             "| predicted (leave-one-out) | error |",
             "|---|---|---|---|---|---|---|---|"]
    for row in validation_rows(calibration):
        loo = row["loo_predicted_ms"]
        lines.append(
            f"| {row['runtime']} | {row['local_init_ms']:.1f} | {row['init_read_mb']:.2f} "
            f"| {row['aws_init_ms']:.1f} | {row['predicted_ms']:.1f} | {row['error']:+.0%} "
            f"| {'-' if loo is None else f'{loo:.1f}'} "
            f"| {'-' if row['loo_error'] is None else format(row['loo_error'], '+.0%')} |")
    return "\n".join(lines) + "\n"
