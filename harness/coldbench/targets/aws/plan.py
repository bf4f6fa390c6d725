"""What an AWS run will deploy and what it can cost, before anything is created: each
configuration packaged per architecture (and once more with SnapStart where the runtime
supports it), the cost bound, the plan text the user is shown, and their answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from coldbench.build import Artifact
from coldbench.errors import UsageError
from coldbench.targets.aws import estimate as cost, package as packaging, resources

MAX_ZIP_BYTES = 50 * 1024 * 1024     # CreateFunction's limit for a zip sent inline


def snapstart_supported(lambda_runtime: str) -> bool:
    """Runtimes SnapStart works with (Lambda Developer Guide, "Improving startup
    performance with Lambda SnapStart"): Java 11 and later, Python 3.12 and later, .NET 8+."""
    for family, least in (("java", 11), ("python3.", 12), ("dotnet", 8)):
        if lambda_runtime.startswith(family):
            number = lambda_runtime.removeprefix(family)
            return number.isdigit() and int(number) >= least
    return False


@dataclass(frozen=True)
class AwsArtifact(Artifact):
    """A built function as one deployed configuration: its package for one architecture,
    with SnapStart on or off."""

    package: packaging.Package | None = None
    snapstart: bool = False

    @property
    def variant(self) -> str:
        return f"{self.package.architecture}{' SnapStart' if self.snapstart else ''}"


def refuse_snapstart_with_provisioned(snapstart: bool, plan) -> None:
    if snapstart and plan.provisioned:
        raise UsageError("SnapStart functions cannot have provisioned concurrency "
                         "(Lambda Developer Guide, SnapStart limitations): pass "
                         "--provisioned 0 with --snapstart, or measure them in two runs")


def package_configs(configs, architectures: list[str], lambda_runtime: Callable[[Artifact], str],
                    snapstart: bool, status: Callable[[str], None]):
    """Each configuration once per architecture, and once more with SnapStart where the
    runtime supports it (``snapstart``), as ``AwsArtifact`` configurations; and the
    packages they deploy, one per function and architecture."""
    from coldbench.measure.modes import Config

    packages: dict[tuple[Artifact, str], packaging.Package] = {}
    expanded = []
    for config in configs:
        identifier = lambda_runtime(config.artifact)
        for arch in architectures:
            key = (config.artifact, arch)
            if key not in packages:
                status(f"packaging {config.artifact.function.name} "
                       f"({config.runtime}, {identifier}, {arch})")
                packages[key] = packaging.package(config.artifact, arch, identifier)
                if packages[key].size > MAX_ZIP_BYTES:
                    raise UsageError(f"{packages[key].path} is over 50 MB, CreateFunction's "
                                     "limit for a zip sent directly")
            snaps = [False, True] if snapstart and snapstart_supported(identifier) \
                else [False]
            for snap in snaps:
                artifact = AwsArtifact(**{f: getattr(config.artifact, f) for f in
                                          ("function", "task_root", "digest", "toolchain")},
                                       package=packages[key], snapstart=snap)
                expanded.append(Config(artifact, config.memory_mb, artifact.variant))
    return expanded, list(packages.values())


def require_snapstart_support(snapstart: bool, configs) -> None:
    if snapstart and not any(c.artifact.snapstart for c in configs):
        raise UsageError("--snapstart: none of the chosen runtimes supports SnapStart "
                         "(Java 11+, Python 3.12+ and .NET 8+ do)")


def cost_bound(configs, plan, lambda_runtime: Callable[[Artifact], str], timeout_s: int,
               region: str) -> cost.Estimate:
    """What the run can cost at most (``estimate.estimate``)."""
    return cost.estimate(
        [cost.Deployment(lambda_runtime(c.artifact), c.memory_mb,
                         c.artifact.package.architecture, c.artifact.snapstart)
         for c in configs],
        cost.Plan(plan.cold, plan.warm, plan.provisioned, timeout_s, plan.burst),
        region)


def plan_text(configs, plan, estimate: cost.Estimate, region: str, run_id: str,
              role_arn: str | None, copies: int, choices=()) -> str:
    """What will be created, tagged how, with which runtime identifiers (``choices``,
    ``lambda_runtimes.Choice``) and what it can cost: shown before the question."""
    functions = len(configs) * (copies + (1 if plan.provisioned else 0))
    snap = sum(1 for c in configs if c.artifact.snapstart)
    lines = [f"coldbench will create in AWS region {region}, tagged "
             f"{resources.TAG_RUN}={run_id}:"]
    if role_arn is None:
        lines.append(f"  - IAM role {resources.role_name(run_id)} (Lambda execution, "
                     "basic logging policy only)")
    per_config = f"{copies}{' + 1 for provisioned concurrency' if plan.provisioned else ''}"
    lines.append(f"  - Lambda functions: {functions} ({len(configs)} configurations x "
                 f"{per_config}), each with its log group")
    if choices:
        lines.append("  - runtimes: " + ", ".join(f"{c.runtime} {c.identifier}" for c in choices))
        lines += [f"    note: {c.note}" for c in choices if c.note]
    if plan.burst:
        lines.append(f"  - a burst per configuration: {plan.burst} invocations at once of a "
                     "copy with no environment, after the other samples (throttles counted, "
                     "not retried)")
    if snap or plan.provisioned:
        lines.append(f"  - published versions: {estimate.snapstart_versions} SnapStart, "
                     f"{estimate.provisioned_allocations} with provisioned concurrency 1")
    lines.append("It will run:")
    lines += [f"  {line}" for line in cost.describe(estimate)]
    lines.append("Everything is deleted at the end of the run; 'coldbench cleanup "
                 "--target aws' removes what a killed run leaves.")
    return "\n".join(lines)


def approve(text: str, estimate: cost.Estimate, max_cost: float | None, yes: bool,
            confirm: Callable[[str], bool] | None) -> None:
    """Refuse a plan over ``max_cost``, and one neither taken with ``yes`` nor confirmed."""
    if max_cost is not None and estimate.total_usd > max_cost:
        raise UsageError(f"the plan can cost up to {cost.usd(estimate.total_usd)}, "
                         f"above --max-cost {cost.usd(max_cost)}: measure fewer "
                         "configurations or samples, lower --timeout, or raise --max-cost; "
                         "nothing was created")
    if not yes and not (confirm and confirm(text)):
        raise UsageError("not confirmed, so nothing was created: pass --yes to go on "
                         "without a question")
