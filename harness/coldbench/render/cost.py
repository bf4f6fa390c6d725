"""The cost of a run's configurations (``coldbench.analysis.cost``) as tables, Markdown or
JSON: Lambda's bill per configuration, and where hosting it yourself costs less."""

from __future__ import annotations

import json
from dataclasses import asdict

from tabulate import tabulate

from coldbench import phases
from coldbench.analysis.cost import (RULE_BUSY, CostLine, Measured, Hosting, Rule, Workload,
                                     rule, snapstart_charged)
from coldbench.prices import ARCHES, HOURS_PER_MONTH, Prices, usd

FORMATS = ("table", "markdown", "json")


def count(value: float | None) -> str:
    """A request count: 950, 12.5k, 3.4M, 1.2B."""
    if value is None:
        return "never"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def host_text(o: Hosting) -> str:
    """"0.25 vCPU / 0.5 GB" (a Fargate task), "m6a.large (reserved-1yr-no-upfront)" (a VM)."""
    if o.vm is None:
        return f"{o.vcpus:g} vCPU / {o.memory_gb:g} GB"
    return f"{o.vm} ({o.purchase})"


def rule_verdict(busy: float, max_busy: float) -> str:
    """How the rule of thumb "containers win above about 50 % busy" fares (``cost.rule``)."""
    found = rule(busy, max_busy)
    if found is Rule.NO_CROSSOVER:
        return f"fails: Lambda is cheaper at any load up to {max_busy:.0%} busy"
    if found is Rule.HOLDS:
        return f"holds: containers win from {busy:.0%} busy"
    if found is Rule.EARLIER:
        return f"fails: containers win from {busy:.0%} busy already"
    return f"fails: Lambda stays cheaper up to {busy:.0%} busy"


def _option_json(o: Hosting, max_busy: float) -> dict:
    document = asdict(o)
    for own in ("kind", "vcpus", "memory_gb", "vm", "purchase"):
        del document[own]
    return {"kind": o.kind, "host": host_text(o), **document,
            "rule": rule_verdict(o.busy_at_crossover, max_busy)}


def _hosting(o: Hosting | None) -> str:
    if o is None:
        return "-"
    return f"{usd(o.monthly)} ({o.hosts} x {o.vm or host_text(o)})"


def _crossover(o: Hosting | None) -> str:
    if o is None:
        return "-"
    if o.crossover is None:
        return f"never (needs {o.busy_at_crossover:.0%} busy)"
    return f"{count(o.crossover)} ({o.busy_at_crossover:.0%} busy)"


def _order(lines: list[CostLine]) -> list[CostLine]:
    return sorted(lines, key=lambda l: (l.measured.key.order, ARCHES.index(l.arch)))


def _flat(m: Measured) -> dict:
    document = asdict(m)
    del document["key"]
    return m.key.to_json() | document


def rule_summary(lines: list[CostLine], workload: Workload) -> str:
    fargate = [(l, l.option("fargate")) for l in lines if l.option("fargate")]
    holds = [l for l, o in fargate
             if rule(o.busy_at_crossover, workload.max_busy) is Rule.HOLDS]
    if not fargate:
        return "No configuration could be compared with a container."
    busy = sorted(o.busy_at_crossover for _, o in fargate)
    return (f"Rule of thumb \"containers win above about {RULE_BUSY:.0%} busy at steady load\": "
            f"holds for {len(holds)} of {len(fargate)} configurations (break-even busy share "
            f"on Fargate from {busy[0]:.0%} to {busy[-1]:.0%}).")


def _item(amount: float) -> str:
    return "-" if not amount else usd(amount)


def bill_rows(lines: list[CostLine]) -> list[list[str]]:
    """Lambda's month item by item, one row per configuration and architecture."""
    return [[l.measured.label, f"{l.measured.memory_mb} MB", l.arch, usd(l.bill.requests),
             f"{usd(l.bill.duration)} ({usd(l.bill.init)})",
             _item(l.bill.provisioned + l.bill.provisioned_duration),
             _item(l.bill.snapstart_cache + l.bill.snapstart_restore), _item(l.bill.ecr),
             usd(l.bill.total)] for l in lines]


BILL_HEADERS = ["Runtime", "Memory", "Arch", "Requests", "Duration (of it init)",
                "Provisioned", "SnapStart", "ECR", "Lambda total"]


def render(lines: list[CostLine], prices: Prices, workload: Workload, fmt: str = "table",
           regions: tuple[str, ...] = ()) -> str:
    """``regions``: where the run measured (the price table holds one region's prices)."""
    lines = _order(lines)
    if fmt == "json":
        return json.dumps({
            "prices": prices.name, "prices_as_of": prices.as_of.isoformat(),
            "workload": asdict(workload),
            "configurations": [
                {**_flat(l.measured), "arch": l.arch, "lambda_per_request": l.per_request,
                 "lambda_monthly": l.lambda_monthly, "lambda_init_monthly": l.lambda_init_monthly,
                 "lambda_bill": asdict(l.bill) | {"total": l.bill.total},
                 "options": [_option_json(o, workload.max_busy) for o in l.options]}
                for l in lines]}, indent=1) + "\n"
    tablefmt = "github" if fmt == "markdown" else "simple"
    bill = tabulate(bill_rows(lines), headers=BILL_HEADERS, tablefmt=tablefmt,
                    disable_numparse=True)
    monthly = [[l.measured.label, f"{l.measured.memory_mb} MB", l.arch,
                f"{l.measured.warm_billed_ms:.1f} / {l.measured.cold_billed_ms:.0f}",
                f"{usd(l.lambda_monthly)} ({usd(l.lambda_init_monthly)})",
                _hosting(l.option("fargate")), _hosting(l.option("vm", "on-demand")),
                _hosting(l.option("vm", "reserved"))] for l in lines]
    crossing = [[l.measured.label, f"{l.measured.memory_mb} MB", l.arch,
                 usd(l.per_request * 1e6), _crossover(l.option("fargate")),
                 _crossover(l.option("vm", "on-demand")), _crossover(l.option("vm", "reserved")),
                 rule_verdict(l.option("fargate").busy_at_crossover, workload.max_busy)
                 if l.option("fargate") else "-"] for l in lines]
    first = tabulate(monthly, headers=[
        "Runtime", "Memory", "Arch", "Billed ms warm / cold", "Lambda (of it init)",
        "Fargate", "VM on-demand", "VM reserved 1 yr"], tablefmt=tablefmt, disable_numparse=True)
    second = tabulate(crossing, headers=[
        "Runtime", "Memory", "Arch", "Lambda per 1M", "Fargate cheaper from",
        "VM on-demand from", "VM reserved from", f"{RULE_BUSY:.0%}-busy rule (Fargate)"],
        tablefmt=tablefmt, disable_numparse=True)
    heading = (f"Monthly cost at {count(workload.requests_per_month)} requests a month, "
               f"duty cycle {workload.duty_cycle:.0%}, {workload.cold_fraction:.1%} cold "
               f"starts, hosts at most {workload.max_busy:.0%} busy")
    init_rule = ("on every runtime" if prices.as_of >= phases.INIT_BILLED_FROM else
                 f"only on OS-only runtimes (on every runtime from {phases.INIT_BILLED_FROM})")
    elsewhere = [r for r in regions if r != prices.region]
    where = (f" The run measured in {', '.join(elsewhere)}: the table holds {prices.region}'s "
             "prices only, which stand in for it here (other regions' prices differ)."
             if elsewhere else "")
    extras = []
    if workload.provisioned:
        noun = "environment" if workload.provisioned == 1 else "environments"
        extras.append(f"{workload.provisioned} {noun} of provisioned concurrency kept "
                      f"the {workload.duty_cycle * HOURS_PER_MONTH:.0f} hours with traffic")
    if any(snapstart_charged(l.measured) for l in lines):
        extras.append(f"SnapStart snapshots cached {workload.snapstart_hours:g} h a month")
    bill_note = ("Lambda's bill: on-demand duration in the table's monthly tiers, each "
                 "configuration as the account's only load" +
                 (f"; {'; '.join(extras)}" if extras else "") + ".")
    note = (f"Prices: {prices.name} (USD, {prices.region}).{where} Requests per month at "
            "which each "
            "alternative becomes as cheap as Lambda, and a host's busy share there. Durations "
            "were measured on this run's target; arm64 reuses them with arm64 prices. "
            f"Billed as Lambda bills on {prices.as_of}: the INIT phase of cold starts "
            f"{init_rule}.")
    if fmt == "markdown":
        return (f"**{heading}**\n\n{first}\n\n**Lambda's bill**\n\n{bill}\n\n{bill_note}"
                f"\n\n**Crossover**\n\n{second}\n\n{note}\n\n"
                f"{rule_summary(lines, workload)}\n")
    return (f"{heading}\n\n{first}\n\nLambda's bill\n\n{bill}\n\n{bill_note}\n\n"
            f"Crossover\n\n{second}\n\n{note}\n{rule_summary(lines, workload)}\n")
