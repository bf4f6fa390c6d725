"""One run in several AWS regions (``--region us-east-1,eu-west-1``): an ``AwsTarget`` per
region, each with its own clients, role and functions, under the run's one
``coldbench:run-id`` tag. Every region's plan is shown and its cost bound added up before
anything is created, and one answer (``--yes``, ``--max-cost``) covers them all; then the
regions deploy one after another and are measured side by side, their configurations
interleaved like any others. A configuration's variant ends with its region ("x86_64
eu-west-1"), so its samples (which carry ``region``) never pool with another region's.
"""

from __future__ import annotations

import re
from dataclasses import fields

from coldbench.errors import UsageError
from coldbench.targets.aws import estimate as bound
from coldbench.targets.aws.plan import approve
from coldbench.targets.base import Target

# us-east-1, eu-central-2, ap-southeast-5, us-gov-west-1, cn-north-1
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def parse_regions(text: str | None) -> list[str]:
    """``--region`` as given: one region or several, comma-separated, each once."""
    regions = list(dict.fromkeys(r.strip() for r in str(text or "").split(",") if r.strip()))
    wrong = [r for r in regions if not _REGION.fullmatch(r)]
    if wrong:
        raise UsageError(f"--region {text}: {', '.join(wrong)} is not an AWS region name "
                         "(such as us-east-1 or eu-west-1)")
    return regions


def endpoints_by_region(text: str | None, regions: list[str]) -> dict[str, str | None]:
    """``--invoke-endpoint-url``: one URL for every region, or ``region=URL`` pairs,
    comma-separated (a stand-in per region, as Lambda has an endpoint per region)."""
    if not text or "=" not in text:
        return {region: text or None for region in regions}
    pairs = dict(part.strip().split("=", 1) for part in text.split(",") if part.strip())
    missing = [r for r in regions if r not in pairs]
    if missing:
        raise UsageError(f"--invoke-endpoint-url names no URL for {', '.join(missing)}: give "
                         "one URL, or region=URL for every region")
    return {region: pairs[region] for region in regions}


def total(estimates: list[bound.Estimate]) -> bound.Estimate:
    """The regions' cost bounds added up, item by item."""
    summed = bound.Estimate()
    for f in fields(bound.Estimate):
        if f.name == "notes":
            summed.notes = list(dict.fromkeys(n for e in estimates for n in e.notes))
        else:
            setattr(summed, f.name, sum(getattr(e, f.name) for e in estimates))
    return summed


class Regions(Target):
    """The AWS target in several regions: ``targets``, one ``AwsTarget`` per region."""

    name = "aws"

    def __init__(self, targets: list, max_cost: float | None, yes: bool, confirm, announce):
        self.targets = targets
        self.max_cost = max_cost
        self.yes = yes
        self.confirm = confirm
        self.announce = announce
        self.estimate: bound.Estimate | None = None
        self.proactive_init: dict[str, dict] = {}     # one for all: labels name the region
        for target in targets:
            target.proactive_init = self.proactive_init

    def _of(self, artifact):
        return next(t for t in self.targets if t.endpoints.region == artifact.region)

    def prepare(self, configs, plan):
        planned = [(t, t.prepare(configs, plan)) for t in self.targets]
        self.estimate = total([t.estimate for t in self.targets])
        regions = [t.endpoints.region for t in self.targets]
        text = "\n\n".join([*(t.plan_text for t in self.targets),
                            f"In all {len(regions)} regions ({', '.join(regions)}): at most "
                            f"{bound.usd(self.estimate.total_usd)}."])
        self.announce(text)
        approve(text, self.estimate, self.max_cost, self.yes, self.confirm)
        expanded = []
        for target, configs_there in planned:
            expanded += target.deploy(configs_there, plan)
        return expanded

    def start(self, artifact, memory_mb, provisioned):
        return self._of(artifact).start(artifact, memory_mb, provisioned)

    def burst(self, artifact, memory_mb, count, event):
        return self._of(artifact).burst(artifact, memory_mb, count, event)

    def idle(self, configs, intervals_s, samples, event):
        # region after region: each sweep waits its intervals once for all its functions
        for target in self.targets:
            mine = [c for c in configs if c.artifact.region == target.endpoints.region]
            if mine:
                yield from target.idle(mine, intervals_s, samples, event)

    def notes(self, memory_mb):
        return list(dict.fromkeys(n for t in self.targets for n in t.notes(memory_mb)))

    def describe(self) -> dict:
        described = [t.describe() for t in self.targets]
        merged = dict(described[0])
        regions = [t.endpoints.region for t in self.targets]
        merged["region"] = ",".join(regions)
        merged["regions"] = regions
        merged["aws_run_ids"] = {r: d["aws_run_id"] for r, d in zip(regions, described)}
        merged["proactive_init"] = self.proactive_init
        if all("cost_bound_usd" in d for d in described):
            merged["cost_bound_usd"] = round(sum(d["cost_bound_usd"] for d in described), 6)
            merged["cost_bound_by_region"] = {r: d["cost_bound_usd"]
                                              for r, d in zip(regions, described)}
        for key in ("invoke_endpoint_url",):
            if key in merged:
                merged[key] = {r: d.get(key) for r, d in zip(regions, described)}
        return merged

    def published_images(self) -> dict:
        # each region pushes the same images, built once on this machine: the first's say it
        return self.targets[0].published_images()

    def close(self) -> None:
        """Every region's close, even when one fails (the first failure is raised after),
        the last deployed first: each restores the signal handler it found."""
        failure = None
        for target in reversed(self.targets):
            try:
                target.close()
            except BaseException as exc:  # noqa: BLE001 - the other regions still clean up
                failure = failure or exc
        if failure is not None:
            raise failure
