"""A calibration's validation (``coldbench.analysis.prediction.validation_rows``) and the
anchored model's (``anchored_rows``, ``error_figures``) as the Markdown tables and words
docs/fidelity.md holds."""

from __future__ import annotations

from coldbench.analysis.prediction import anchored_rows, error_figures, validation_rows
from coldbench.calibration import ERROR_QUANTILE, AnchoredModel, Calibration


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


def anchored_table(model: AnchoredModel) -> str:
    """``anchored_rows`` as the markdown table docs/fidelity.md holds."""
    lines = ["| case | Lambda runtime | arch | MB | local init (CPU) | hello here (CPU) | units "
             "| AWS | predicted | error | in fit | out-of-fit error |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in anchored_rows(model):
        oof = r["out_of_fit_error"]
        lines.append(
            f"| {r['case']} | {r['runtime']} | {r['arch']} | {r['memory_mb'] or '-'} "
            f"| {r['local_init_ms']:.1f} ({r['local_cpu_ms']:.0f}) "
            f"| {r['hello_init_ms']:.1f} ({r['hello_cpu_ms']:.0f}) | {r['work_units']:.1f} "
            f"| {r['aws_init_ms']:.1f} ({r['statistic']}) | {r['predicted_ms']:.1f} "
            f"| {r['error']:+.0%} | {'yes' if r['in_fit'] else 'no'} "
            f"| {'-' if oof is None else format(oof, '+.0%')} |")
    return "\n".join(lines) + "\n"


def error_summary(model: AnchoredModel) -> str:
    """``error_figures`` in words, as docs/fidelity.md gives them."""
    f = error_figures(model)
    working = (f" Of them, the {f['held_out_working_n']} whose own init does work beyond "
               f"their hello reference: median |error| "
               f"{f['held_out_working_median_pct']:.0f}%, largest "
               f"{f['held_out_working_max_pct']:.0f}%."
               if f["held_out_working_n"] else "")
    return (f"Held-out cases ({f['held_out_n']}): median |error| "
            f"{f['held_out_median_pct']:.0f}%, largest {f['held_out_max_pct']:.0f}%."
            f"{working} "
            f"Every case out of its fit ({f['out_of_fit_n']}): median |error| "
            f"{f['out_of_fit_median_pct']:.0f}%; stated error +-{f['stated_error_pct']:.0f}% "
            f"(held for {ERROR_QUANTILE:.0%} of them).\n")
