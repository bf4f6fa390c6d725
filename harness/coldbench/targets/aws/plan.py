"""What an AWS run will deploy and what it can cost, before anything is created: each
configuration packaged per architecture (and once more with SnapStart where the runtime
supports it), the cost bound, the plan text the user is shown, and their answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from coldbench.errors import UsageError
from coldbench.model import Artifact, Config, Variant, interval_text
from coldbench.targets.aws import estimate as cost, images, package as packaging, resources

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
    with SnapStart on or off, as a zip or (``image``) as a container image."""

    package: packaging.Package | None = None
    snapstart: bool = False
    image: "images.LambdaImage | None" = None     # --package image: deployed as this image
    region: str | None = None     # set in a run in several regions (``aws.regions``)

    @property
    def package_type(self) -> str:
        return "zip" if self.image is None else "image"

    @property
    def variant(self) -> Variant:
        # the package type in the variant keeps image samples apart from zip samples
        return Variant(architecture=self.package.architecture, snapstart=self.snapstart,
                       package_type="image" if self.image is not None else None,
                       region=self.region,
                       layers=tuple(layer.name for layer in self.function.layers))


def cold_copies(plan, copies: int) -> int:
    """How many of the ``--copies`` functions a configuration gets: all of them when the
    plan has samples taken from them (cold, warm, which follow a cold start, and burst),
    none otherwise (an idle-only or provisioned-only run has functions of its own)."""
    return copies if plan.cold or plan.warm or plan.burst else 0


def refuse_snapstart_with_provisioned(snapstart: bool, plan) -> None:
    if snapstart and plan.provisioned:
        raise UsageError("SnapStart functions cannot have provisioned concurrency "
                         "(Lambda Developer Guide, SnapStart limitations): pass "
                         "--provisioned 0 with --snapstart, or measure them in two runs")


def package_configs(configs, architectures: list[str], lambda_runtime: Callable[[Artifact], str],
                    snapstart: bool, status: Callable[[str], None],
                    package_types=("zip",), build_image=None, own_architecture=False):
    """Each configuration once per architecture, and once more with SnapStart where the
    runtime supports it (``snapstart``), as ``AwsArtifact`` configurations; and the
    packages they deploy, one per function and architecture. With "image" among
    ``package_types``, once more as the container image ``build_image(artifact, package)``
    makes (no SnapStart: Lambda has none for images). ``own_architecture`` (``--arch``
    not given): a function whose definition names its architecture (``--template``'s
    ``Architectures``) is deployed for that one only."""
    packages: dict[tuple[Artifact, str], packaging.Package] = {}
    made: dict[tuple[Artifact, str], images.LambdaImage] = {}     # by function, arch
    expanded = []
    for config in configs:
        identifier = lambda_runtime(config.artifact)
        defined = config.artifact.function.configuration.architecture
        for arch in [defined] if own_architecture and defined else architectures:
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
            built = {f: getattr(config.artifact, f) for f in
                     ("function", "task_root", "digest", "toolchain")}
            if "zip" in package_types:
                for snap in snaps:
                    artifact = AwsArtifact(**built, package=packages[key], snapstart=snap)
                    expanded.append(Config(artifact, config.memory_mb, artifact.variant))
            if "image" in package_types:
                if key not in made:
                    made[key] = build_image(config.artifact, packages[key])
                artifact = AwsArtifact(**built, package=packages[key], image=made[key])
                expanded.append(Config(artifact, config.memory_mb, artifact.variant))
    return expanded, list(packages.values())


def require_snapstart_support(snapstart: bool, configs) -> None:
    if snapstart and not any(c.artifact.snapstart for c in configs):
        raise UsageError("--snapstart: none of the chosen runtimes supports SnapStart "
                         "(Java 11+, Python 3.12+ and .NET 8+ do)")


def cost_bound(configs, plan, lambda_runtime: Callable[[Artifact], str], timeout_s: int,
               region: str, image_bytes=()) -> cost.Estimate:
    """What the run can cost at most (``estimate.estimate``); ``image_bytes``: the sizes of
    the container images it pushes to ECR, if any."""
    return cost.estimate(
        [cost.Deployment(lambda_runtime(c.artifact), c.memory_mb,
                         c.artifact.package.architecture, c.artifact.snapstart)
         for c in configs],
        cost.Plan(plan.cold, plan.warm, plan.provisioned, timeout_s, plan.burst,
                  len(plan.idle) * plan.idle_samples),
        region, image_bytes=image_bytes)


def plan_text(configs, plan, estimate: cost.Estimate, region: str, run_id: str,
              role_arn: str | None, copies: int, choices=(), built_images=(),
              image_notes=(), via_url: bool = False) -> str:
    """What will be created, tagged how, with which runtime identifiers (``choices``,
    ``lambda_runtimes.Choice``), the container images it pushes (``built_images``,
    ``images.LambdaImage``) and what it can cost: shown before the question."""
    swept = [c for c in configs if not c.artifact.snapstart] if plan.idle else []
    idle_functions = len(swept) * len(plan.idle) * plan.idle_samples
    copies = cold_copies(plan, copies)
    functions = len(configs) * (copies + (1 if plan.provisioned else 0)) + idle_functions
    snap = sum(1 for c in configs if c.artifact.snapstart)
    lines = [f"coldbench will create in AWS region {region}, tagged "
             f"{resources.TAG_RUN}={run_id}:"]
    if role_arn is None:
        lines.append(f"  - IAM role {resources.role_name(run_id)} (Lambda execution, "
                     "basic logging policy only)")
    per_config = " + ".join([f"{copies}"] * bool(copies)
                            + ["1 for provisioned concurrency"] * bool(plan.provisioned))
    made = [f"{len(configs)} configurations x {per_config}"] if per_config else []
    if idle_functions:
        made.append(f"{'+ ' if made else ''}{idle_functions} for the idle sweep")
    unused = "" if copies else ("; none for forced cold starts, as the plan has no cold, "
                                "warm or burst samples")
    lines.append(f"  - Lambda functions: {functions} ({', '.join(made)}{unused}), each with "
                 "its log group")
    if choices:
        lines.append("  - runtimes: " + ", ".join(f"{c.runtime} {c.identifier}" for c in choices))
        lines += [f"    note: {c.note}" for c in choices if c.note]
    if built_images:
        lines.append(f"  - ECR repository {resources.repository_name(run_id)} with "
                     f"{len(built_images)} container images: " + ", ".join(
                         f"{i.runtime} {i.architecture} ({i.local_bytes / 1e6:,.0f} MB "
                         f"unpacked, on {i.base})" for i in built_images))
        lines += [f"    note: {note}" for note in image_notes]
    if via_url:
        lines.append("  - a function URL per function (AuthType AWS_IAM), every invocation a "
                     "request to it signed with your credentials; each REPORT line read "
                     "from the function's log group")
    if plan.burst:
        lines.append(f"  - a burst per configuration: {plan.burst} invocations at once of a "
                     "copy with no environment, after the other samples (throttles counted, "
                     "not retried)")
    if idle_functions:
        lines.append(idle_line(plan, len(swept), len(configs) - len(swept), idle_functions))
    if snap or plan.provisioned:
        lines.append(f"  - published versions: {estimate.snapstart_versions} SnapStart, "
                     f"{estimate.provisioned_allocations} with provisioned concurrency 1")
    lines.append("It will run:")
    lines += [f"  {line}" for line in cost.describe(estimate)]
    lines.append("Everything is deleted at the end of the run; 'coldbench cleanup "
                 "--target aws' removes what a killed run leaves.")
    return "\n".join(lines)


def idle_line(plan, swept: int, skipped: int, functions: int) -> str:
    """What the idle sweep does and how long it takes: its functions wait at once, so about
    its longest interval, plus the invocations before and after it."""
    intervals = ", ".join(interval_text(i) for i in plan.idle)
    line = (f"  - an idle sweep after the other samples: per configuration ({swept}) and "
            f"interval ({intervals}), {plan.idle_samples} functions invoked, left alone "
            f"for the interval with no configuration change, and invoked again "
            f"({2 * functions} invocations); they wait at once, so the sweep takes about "
            f"{interval_text(max(plan.idle))} plus its invocations")
    if skipped:
        line += f"; the {skipped} SnapStart configurations take no idle samples"
    return line


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
