"""Configuration summaries -> the documented-comparison table, or JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from tabulate import tabulate

from coldbench.analysis import reference
from coldbench.analysis.idle import after_idle, keep_warm_lines
from coldbench.analysis.summary import ConfigSummary
from coldbench.prices import load
from coldbench.results.schema import BUILTIN_FUNCTION

HEADERS = ["Runtime", "Memory", "Cold Start p50 (p90/p99)", "Init p50 (AWS)",
           "Warm Invocation p50 (p99)", "Provisioned p50", "n cold/warm/prov",
           "Documented cold / warm", "Verdict cold / warm"]

FOOTNOTE = ("All figures in ms. Cold Start = Init Duration + Duration of the first invocation; "
            "Warm and Provisioned = Duration. AWS: Init Duration of a hello-world function on "
            "AWS Lambda (so beside the built-in function only), x86_64, 128 MB, "
            f"p50 (mean for Node.js 20, whose p50 is not published; {reference.AWS_INIT_SOURCE}).")
# The column of runs whose cold samples carry a prediction (local, --delivery lambda)
PREDICTED = "Predicted AWS Init"
PREDICTED_NOTE = ("Predicted AWS Init: what AWS Lambda would report as Init Duration, p50, "
                  "predicted from the local samples by the calibration in use, with the "
                  "range its stated error allows (docs/fidelity.md).")


# The column of runs invoked through function URLs (--via url)
URL = "URL Request p50 cold / warm"
URL_NOTE = ("URL Request: what the HTTP client waited for the function URL's answer (a "
            "cold request holds the environment's creation, Init Duration and Duration).")


def predicts(configs: list[ConfigSummary]) -> bool:
    return any(m.predicted_init is not None for c in configs for m in c.modes.values())


def via_url(configs: list[ConfigSummary]) -> bool:
    return any(m.url is not None for c in configs for m in c.modes.values())


def headers(configs: list[ConfigSummary]) -> list[str]:
    """The table's columns: ``HEADERS``, the predicted Init and the URL request where
    there are some."""
    found = HEADERS[:3] + ([URL] if via_url(configs) else []) + HEADERS[3:4]
    return found + ([PREDICTED] if predicts(configs) else []) + HEADERS[4:]


def footnote(configs: list[ConfigSummary], run: dict | None = None) -> str:
    notes = [FOOTNOTE, *([PREDICTED_NOTE] if predicts(configs) else []),
             *([URL_NOTE] if via_url(configs) else []), *versions_note(configs, run or {})]
    return " ".join(notes)


def versions_note(configs: list[ConfigSummary], run: dict) -> list[str]:
    """Which Lambda runtime, on which local toolchain, each runtime of the table ran as
    (the run's ``lambda_runtimes`` and ``runtime_versions``); none where the run says none."""
    identifiers, toolchains = run.get("lambda_runtimes") or {}, run.get("runtime_versions") or {}
    parts = []
    for name in dict.fromkeys(c.runtime for c in configs):
        identifier, toolchain = identifiers.get(name), toolchains.get(name)
        said = f"{name} = {identifier}" if identifier and identifier != name else name
        details = [toolchain] if toolchain else []
        figure = reference.aws_init_ms(name)
        if name not in ("node", "nodejs20.x") and figure is not None and figure[1] == "mean":
            details.append("AWS: the mean, no p50 is published")
        if identifier or details:
            parts.append(f"{said} ({'; '.join(details)})" if details else said)
    return [f"Runtimes as run: {', '.join(parts)}."] if parts else []


def ms(value: float | None, decimals: int | None = None) -> str:
    """Milliseconds as every table shows them: "-" for none; with ``decimals``, that many
    (profiles: one); else 2 decimals below 10 ms, 1 below a second, whole with thousands
    separators above."""
    if value is None:
        return "-"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    if value < 10:
        return f"{value:.2f}"
    if value < 1000:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _range(low: float, high: float) -> str:
    return f"<{ms(high)}" if low == 0 else f"{low:g}-{high:g}"


def ordered(configs: list[ConfigSummary]) -> list[ConfigSummary]:
    """In table order (``ConfigKey.order``)."""
    return sorted(configs, key=lambda c: c.key.order)


def _row(config: ConfigSummary, predicted: bool = False, url: bool = False) -> list[str]:
    cold, warm, prov = (config.modes.get(m) for m in ("cold", "warm", "provisioned"))
    cold_cell = "-"
    if cold and cold.figure:
        f = cold.figure
        cold_cell = f"{ms(f.p50)} ({ms(f.p90)}/{ms(f.p99)})"
    elif cold:
        cold_cell = "failed"
    # AWS's published figure is of a hello-world function: beside coldbench's own only
    aws = (reference.aws_init_ms(config.runtime, config.lambda_runtime)
           if config.function == BUILTIN_FUNCTION else None)
    init_cell = f"{ms(cold.init.p50) if cold and cold.init else '-'} ({ms(aws[0]) if aws else '-'})"
    predicted_cell = "-"
    if cold and cold.predicted_init:
        predicted_cell = ms(cold.predicted_init.p50)
        if cold.predicted_range:
            low, high = cold.predicted_range
            predicted_cell += f" ({ms(low)}-{ms(high)})"
    warm_cell = "-"
    if warm and warm.figure:
        warm_cell = f"{ms(warm.figure.p50)} ({ms(warm.figure.p99)})"
    elif warm:
        warm_cell = "failed"
    prov_cell = ms(prov.figure.p50) if prov and prov.figure else ("failed" if prov else "-")
    counts = "/".join(str(m.figure.n if m and m.figure else 0) for m in (cold, warm, prov))
    failures = sum(m.failures for m in config.modes.values())
    if failures:
        counts += f" ({failures} failed)"
    doc = config.documented
    doc_cell = verdict_cell = "-"
    if doc:
        doc_cell = f"{_range(doc.cold_low_ms, doc.cold_high_ms)} / {_range(doc.warm_low_ms, doc.warm_high_ms)}"
        cold_verdict = (reference.verdict(cold.figure.p50, doc.cold_low_ms, doc.cold_high_ms)
                        if cold and cold.figure else "-")
        warm_verdict = (reference.verdict(warm.figure.p50, doc.warm_low_ms, doc.warm_high_ms)
                        if warm and warm.figure else "-")
        verdict_cell = f"{cold_verdict} / {warm_verdict}"
    url_cell = " / ".join(ms(m.url.p50) if m and m.url else "-" for m in (cold, warm))
    return [config.label, f"{config.memory_mb} MB", cold_cell, *([url_cell] if url else []),
            init_cell,
            *([predicted_cell] if predicted else []), warm_cell, prov_cell,
            counts, doc_cell, verdict_cell]


def rows(configs: list[ConfigSummary]) -> list[list[str]]:
    """The table's cells, row by row in table order (``headers`` names the columns)."""
    predicted, url = predicts(configs), via_url(configs)
    return [_row(c, predicted, url) for c in ordered(configs)]


def render(configs: list[ConfigSummary], fmt: str, run: dict | None = None) -> str:
    """The table as ``fmt``: table, markdown, json or csv; ``run`` (the results' run
    metadata), when given, says under the table which version each runtime ran as."""
    configs = ordered(configs)
    if fmt in ("table", "markdown"):
        text = tabulate(rows(configs), headers=headers(configs),
                        tablefmt="github" if fmt == "markdown" else "simple",
                        disable_numparse=True)
        return f"{text}\n\n{footnote(configs, run)}\n" + idle_text(
            configs, "- " if fmt == "markdown" else "")
    if fmt == "json":
        return json.dumps([_as_json(c) for c in configs], indent=1) + "\n"
    if fmt == "csv":
        return _as_csv(configs)
    raise ValueError(fmt)


def idle_lines(configs: list[ConfigSummary]) -> list[str]:
    """For a run with --idle: per configuration and interval, the share of calls after
    that much idle time that were cold, and what keep-warm pings would buy (none without)."""

    found = after_idle(configs)
    return keep_warm_lines(found, load()) if found else []


def idle_text(configs: list[ConfigSummary], bullet: str = "") -> str:
    """``idle_lines`` below the table, each after ``bullet`` ("- ": a Markdown list)."""
    lines = idle_lines(configs)
    return "\n" + "\n".join(bullet + line for line in lines) + "\n" if lines else ""


def _as_json(config: ConfigSummary) -> dict:
    variant = {"variant": config.variant.label()} if config.variant else {}
    if config.idle_s is not None:

        found = after_idle([config])[0]
        variant |= {"idle_s": config.idle_s, "cold_after_idle": {
            "cold": found.cold, "n": found.n, "probability": found.probability}}
    return {
        "function": config.function, "runtime": config.runtime, **variant,
        "memory_mb": config.memory_mb,
        "modes": {mode: asdict(m) for mode, m in config.modes.items()},
        "documented": asdict(config.documented) if config.documented else None,
        "warnings": [{"kind": w.kind.value, "message": w.message} for w in config.warnings],
    }


CSV_FIELDS = ["function", "runtime", "memory_mb", "mode", "figure", "n", "min", "p50", "p90",
              "p99", "max", "mean", "stdev", "ci_low", "ci_high", "init_p50",
              "predicted_aws_init_p50", "e2e_p50", "url_p50",
              "max_memory_mb_p50", "attempts", "failures", "misclassified"]


def _as_csv(configs: list[ConfigSummary]) -> str:
    out = io.StringIO()
    # a variant column only where a target set one, after the columns every table has
    variants = any(c.variant for c in configs)
    fields = CSV_FIELDS + ["variant"] if variants else CSV_FIELDS
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for c in configs:
        for mode, m in c.modes.items():
            row = {"function": c.function, "runtime": c.runtime, "memory_mb": c.memory_mb,
                   "mode": mode, "figure": "cold_start_ms" if mode == "cold" else "duration_ms",
                   "attempts": m.attempts, "failures": m.failures, "misclassified": m.misclassified,
                   "init_p50": m.init.p50 if m.init else None,
                   "predicted_aws_init_p50": m.predicted_init.p50 if m.predicted_init else None,
                   "e2e_p50": m.e2e.p50 if m.e2e else None,
                   "url_p50": m.url.p50 if m.url else None,
                   "max_memory_mb_p50": m.max_memory.p50 if m.max_memory else None}
            if m.figure:
                row |= {k: getattr(m.figure, k) for k in
                        ("n", "min", "p50", "p90", "p99", "max", "mean", "stdev", "ci_low", "ci_high")}
            else:
                row["n"] = 0
            if variants:
                row["variant"] = c.variant.label()
            writer.writerow(row)
    return out.getvalue()
