"""One `coldbench mitigate`: the samples that show what each cold-start mitigation would do
to one function, on the local target.

1. Build the function; list the packages of its task root (Python: top-level packages
   and modules, grouped by the distribution that installed them; Node.js: the packages of
   node_modules), without the runtime interface client's, which Lambda's runtime brings.
2. Profile it (``workflows.profile``): which modules or packages its profiled cold starts
   loaded. The packages none loaded are copied out of a copy of the task root: the trimmed
   build.
3. Measure, interleaved as `coldbench run` does (``measure.modes.Measurement``): the
   function at every memory size (cold, warm, provisioned), the trimmed build and the
   built-in functions of the other runtimes at the reference (largest) memory size.

On ``--target aws`` the same samples are taken on Lambda, in up to three deployments
(each with its own functions, created and deleted as `coldbench run --target aws` does):
the function at every memory size and the built-in functions (provisioned concurrency
asked for explicitly: it is opt-in on AWS); the function at the reference size with and
without SnapStart (Java, Python; Lambda allows no provisioned concurrency beside it) and
the idle sweep of ``--idle``; the trimmed build. The packages are still found by profiling
on this machine (profiling needs the local target). ``--max-cost`` bounds the three
together: each deployment may spend what the ones before it left.

What the samples mean is ``analysis.mitigation``'s (``render.mitigation`` writes it); which packages a task root holds and an init
loaded is its runtime's to say (``runtimes.base.ReadsPackages``).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from coldbench import build, runtimes, targets
from coldbench.build import Artifact
from coldbench.errors import ColdbenchError, UsageError
from coldbench.measure.modes import Measurement
from coldbench.model import DEFAULT_ARCHITECTURE, Config, Plan, Variant, collect_metadata, now_iso
from coldbench.model.intervals import interval_text
from coldbench.model.options import (DEFAULT_COLD, DEFAULT_PROVISIONED, DEFAULT_TIMEOUT_S,
                                     DEFAULT_WARM, DEFAULT_WORK)
from coldbench.profile.tree import PART_LABELS, ROOT, Item
from coldbench.results.schema import Sample
from coldbench.runtimes.base import Package, ReadsPackages, size_of
from coldbench.targets.aws.images import parse_package_types
from coldbench.targets.aws.package import parse_architectures
from coldbench.targets.aws.plan import snapstart_supported
from coldbench.targets.aws.regions import parse_regions
from coldbench.workflows import options as runner
from coldbench.workflows import profile as session
from coldbench.workflows import sweeps
from coldbench.signals import sigterm_as_interrupt

TRIMMED = "trimmed"                   # the version label of the trimmed build's samples
BESIDE_SNAPSTART = "no SnapStart"     # the function measured beside SnapStart, without it


@dataclass
class Findings:
    """What `coldbench mitigate` measured of one function."""

    runtime: str
    function: str
    handler: str
    target: str
    memory: list[int]
    samples: list[Sample]
    packages: list[Package] = field(default_factory=list)     # every candidate
    unused: list[Package] = field(default_factory=list)       # never loaded
    task_root_bytes: int | None = None
    package_note: str | None = None        # why the package analysis is not available
    profiled: int = 0                      # profiled cold starts the analysis rests on
    loaded: list[str] = field(default_factory=list)
    compared: dict[str, str | None] = field(default_factory=dict)  # runtime -> why not measured
    # --target aws: the architecture (the variant of the function's own samples), the
    # region, the keep-warm interval and idle intervals (s), what the deployments could cost
    architecture: str | None = None
    region: str | None = None
    keep_warm_s: float | None = None
    idle: list[float] = field(default_factory=list)
    spent_usd: float = 0.0

    @property
    def reference_mb(self) -> int:
        return max(self.memory)

    def variant_of(self, version: str | None = None, snapstart: bool = False) -> Variant:
        """The variant of the function's samples: plain, or a ``version`` ("trimmed"), or
        with SnapStart; with the architecture on AWS ("x86_64 trimmed")."""
        return Variant(architecture=self.architecture, version=version, snapstart=snapstart)


DEFAULT_MEMORY = "128,512,1024,1769"
TARGETS = ("local", "aws")
DEFAULT_KEEP_WARM_S = 300.0           # the keep-warm interval the pings are priced at
DEFAULT_KEEP_WARM = interval_text(DEFAULT_KEEP_WARM_S)      # "5m", as --keep-warm writes it
# profiled cold starts that tell which packages init loads; idle samples per --idle interval
DEFAULT_PROFILE_SAMPLES, DEFAULT_IDLE_SAMPLES = 3, 3
# runtimes whose task root the package analysis can read
NOT_ANALYSED = {
    "go": "not available for go: the function is one binary, no packages in the task root",
    "rust": "not available for rust: the function is one binary, no packages in the task root",
}


@dataclass
class MitigateRequest:
    runtime: str | None = None            # with ``template``: from the function's definition
    function_dir: Path | None = None
    handler: str | None = None
    # `--template` and its companions (RunOptions' fields of the same names): the one
    # function of an app's definition to mitigate, with its configuration; at its own
    # memory size beside the others of ``memory`` unless ``template_memory`` is False
    template: Path | None = None
    function_names: tuple[str, ...] = ()
    env_vars: Path | None = None
    layer_dirs: tuple[str, ...] = ()
    template_memory: bool = True
    memory: list[int] = field(default_factory=lambda: runner.parse_memory(DEFAULT_MEMORY))
    cold: int = DEFAULT_COLD
    warm: int = DEFAULT_WARM
    provisioned: int = DEFAULT_PROVISIONED
    profile_samples: int = DEFAULT_PROFILE_SAMPLES
    compare: list[str] | None = None      # built-in functions measured beside; None: all others
    work: int = DEFAULT_WORK
    timeout_s: float = DEFAULT_TIMEOUT_S
    target: str = "local"
    limits: bool = True
    rebuild: bool = False
    # --target aws: the plugin's run options (region, yes, max_cost, ...), the idle sweep
    # and the keep-warm interval the pings are priced at, and how to talk to the user
    target_options: dict = field(default_factory=dict)
    idle: tuple[float, ...] = ()
    idle_samples: int = DEFAULT_IDLE_SAMPLES
    keep_warm_s: float = DEFAULT_KEEP_WARM_S
    announce: Callable[[str], None] | None = None
    confirm: Callable[[str], bool] | None = None
    # the target options the user left at their default (a target may adjust those)
    defaulted: frozenset[str] = frozenset({"api", "delivery", "runtime_cache"})

    @property
    def reference_mb(self) -> int:
        return max(self.memory)


def run_options(request: MitigateRequest) -> runner.RunOptions:
    """The request as `coldbench run` options for the local target, checked as a run's are;
    UsageError for what cannot be measured."""
    if request.target not in TARGETS:
        raise UsageError(f"unknown target '{request.target}': choose {', '.join(TARGETS)}")
    if request.template is not None and request.runtime is None:
        _template_function(request)             # once: it sets the runtime
    elif request.runtime is None:
        raise UsageError("mitigate needs --runtime (or --template with the function's "
                         "definition)")
    runtimes.get(request.runtime)
    if request.cold < 1:
        raise UsageError("--cold must be at least 1: every row compares cold starts")
    if request.profile_samples < 1:
        raise UsageError("--profile-samples must be at least 1: the package analysis "
                         "rests on profiled cold starts")
    for name in request.compare or ():
        runtimes.get(name)
    aws = request.target == "aws"
    if aws:
        _check_aws(request)
    options = runner.RunOptions(
        runtimes=[request.runtime], memory=request.memory, cold=request.cold,
        warm=request.warm, provisioned=request.provisioned, work=request.work,
        timeout_s=request.timeout_s, target=request.target, limits=request.limits,
        function_dir=request.function_dir, handler=request.handler, rebuild=request.rebuild,
        target_options=(dict(request.target_options, snapstart=False) if aws
                        else dict(request.target_options)),
        # never "provisioned": on AWS mitigate asks for it explicitly (run's is opt-in there)
        defaulted=request.defaulted - {"provisioned"},
        announce=request.announce, confirm=request.confirm, **_template_fields(request))
    return runner.check(options)


def run_metadata(request: MitigateRequest, started_at: str) -> dict:
    """What the document of one `coldbench mitigate` says about its run: when, on what
    machine (``collect_metadata``), with which plan."""
    return {"started_at": started_at, "ended_at": now_iso(), **collect_metadata(),
            "plan": {"cold": request.cold, "warm": request.warm,
                     "provisioned": request.provisioned,
                     "profile_samples": request.profile_samples, "work": request.work,
                     "idle_samples": request.idle_samples if request.idle else 0}}


def _template_fields(request: MitigateRequest) -> dict:
    """The RunOptions fields of ``--template``: the memory sizes are the request's."""
    return dict(template=request.template, function_names=request.function_names,
                env_vars=request.env_vars, layer_dirs=request.layer_dirs,
                template_memory=False)


def _template_function(request: MitigateRequest) -> None:
    """Read ``--template`` for the one function mitigate measures: its runtime, and its own
    memory size among the sizes compared (unless --memory was given). UsageError unless
    the definition (or --function-name) leaves exactly one function that can run here."""
    options = runner.read_template(runner.RunOptions(runtimes=[], **_template_fields(request)))
    found = options.template_functions
    if len(found) != 1:
        raise UsageError(f"mitigate measures one function, and {request.template} has "
                         f"{len(found)} that can run here ({', '.join(f.name for f in found)}): "
                         "pick one with --function-name")
    (function,) = found
    request.runtime = function.runtime.name
    if request.template_memory and function.configuration.memory_mb:
        request.memory = sorted({*request.memory, function.configuration.memory_mb})


def _check_aws(request: MitigateRequest) -> None:
    """What `mitigate --target aws` measures: one region, one architecture, zip packages."""
    settings = request.target_options
    if settings.get("region") and len(parse_regions(settings["region"])) > 1:
        raise UsageError("mitigate measures in one region: pass one --region")
    if len(parse_architectures(settings.get("architectures") or DEFAULT_ARCHITECTURE)) > 1:
        raise UsageError("mitigate measures one architecture: pass one --arch")
    if parse_package_types(settings.get("package_types")) != ["zip"]:
        raise UsageError("mitigate measures zip packages: leave out --package")
    if request.keep_warm_s <= 0:
        raise UsageError("--keep-warm must be a positive interval (e.g. 5m)")


# -- the task root's packages ---------------------------------------------------------------

def _names(tree: Item) -> list[str]:
    """The names of the items below a tree's root and parts (modules, packages, files)."""
    found = [] if tree.name in (ROOT, *PART_LABELS.values()) else [tree.name]
    for child in tree.children:
        found += _names(child)
    return found


def loaded_names(runtime: ReadsPackages, trees: list[Item], handler: str) -> set[str]:
    """What the profiled inits loaded, as the runtime names its packages' modules."""
    return runtime.loaded_packages({name for tree in trees for name in _names(tree)}, handler)


# -- the trimmed build ---------------------------------------------------------------------

def trimmed_copy(artifact: Artifact, unused: list[Package], into: Path) -> Artifact:
    """A copy of the task root without ``unused``, in ``into``; named after the original
    and what was left out, so equal copies share their cached code image."""
    left_out = sorted(path for p in unused for path in p.paths)
    key = hashlib.sha256("\0".join([artifact.task_root.name, *left_out]).encode()).hexdigest()
    root = into / f"{artifact.task_root.name}-{TRIMMED}-{key[:12]}"
    skipped = {artifact.task_root / path for path in left_out}

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [name for name in names if Path(folder) / name in skipped]

    shutil.copytree(artifact.task_root, root, symlinks=True, ignore=ignore)
    # a digest of its own: what is cached by digest (AWS's zip packages) is not the original's
    digest = hashlib.sha256(f"{artifact.digest}\0{key}".encode()).hexdigest()
    return TrimmedArtifact(artifact.function, root, digest, artifact.toolchain,
                           left_out=tuple(left_out))


@dataclass(frozen=True)
class TrimmedArtifact(Artifact):
    """A build without some packages: ``left_out``, paths relative to the task root, which
    the AWS target also leaves out of the deployment package it makes from the sources."""

    left_out: tuple[str, ...] = ()


# -- the whole session ---------------------------------------------------------------------

def mitigate(request: MitigateRequest, on_status: Callable[[str], None] = lambda text: None,
             on_sample: Callable[[Sample], None] = lambda sample: None) -> Findings:
    """Everything the mitigation table is made of."""
    options = run_options(request)
    (function,) = runner.functions(options)
    artifact = build.build(function, rebuild=request.rebuild, on_status=on_status)
    findings = Findings(runtime=request.runtime, function=function.name,
                        handler=function.handler, target=request.target,
                        memory=list(request.memory), samples=[],
                        task_root_bytes=size_of(artifact.task_root))
    workspace = Path(tempfile.mkdtemp(prefix="coldbench-mitigate-"))
    try:
        trimmed = _analyse_packages(request, artifact, findings, workspace, on_status)
        compared = _builtins(request, findings, on_status)
        if request.target == "aws":
            _measure_on_aws(request, options, artifact, trimmed, compared, findings,
                            on_status, on_sample)
            return findings
        configs = [Config(artifact, memory_mb) for memory_mb in request.memory]
        if trimmed is not None:
            configs.append(Config(trimmed, request.reference_mb, Variant(version=TRIMMED)))
        configs += [Config(other, request.reference_mb) for other in compared]
        plan = Plan(cold=request.cold, warm=request.warm, provisioned=request.provisioned,
                    event={"work": request.work})

        def record(sample: Sample) -> None:
            findings.samples.append(sample)
            on_sample(sample)

        on_status(f"measuring {len(configs)} configurations")
        with sigterm_as_interrupt():
            target = targets.make("local", options)
            try:
                Measurement(target, target.prepare(configs, plan), plan, record).run()
            finally:
                target.close()
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return findings


def _measure_on_aws(request: MitigateRequest, options: runner.RunOptions, artifact: Artifact,
                    trimmed: Artifact | None, compared: list[Artifact], findings: Findings,
                    on_status, on_sample) -> None:
    """The samples on Lambda, deployment after deployment (``Pass``); the configurations
    of the second and third are told apart by their variant (``BESIDE_SNAPSTART``,
    ``TRIMMED``), set before they are measured."""
    settings = options.target_options
    arch = (settings.get("architectures") or DEFAULT_ARCHITECTURE).split(",")[0].strip()
    findings.architecture = arch
    findings.region = settings.get("region")
    findings.keep_warm_s = request.keep_warm_s
    findings.idle = list(request.idle)
    reference = request.reference_mb
    snapstart = snapstart_supported(runtimes.get(request.runtime).lambda_runtime or "")
    passes = [Pass("the function at every memory size"
                   + (" and the built-in functions" if compared else ""),
                   [Config(artifact, m) for m in request.memory]
                   + [Config(other, reference) for other in compared],
                   Plan(cold=request.cold, warm=request.warm, provisioned=request.provisioned,
                        event={"work": request.work}))]
    if snapstart or request.idle:
        passes.append(Pass(
            "the function at the reference size" + (" with and without SnapStart"
                                                    if snapstart else "")
            + (" and the idle sweep" if request.idle else ""),
            [Config(artifact, reference)],
            # without SnapStart only the sweep: the first deployment has the rest
            Plan(cold=request.cold if snapstart else 0,
                 warm=max(request.warm, 1) if snapstart else 0, provisioned=0,
                 event={"work": request.work}, idle=tuple(request.idle),
                 idle_samples=request.idle_samples if request.idle else 0),
            snapstart=snapstart, version=BESIDE_SNAPSTART if snapstart else None))
    if trimmed is not None:
        passes.append(Pass("the build without the unused packages", [Config(trimmed, reference)],
                           Plan(cold=request.cold, warm=request.warm, provisioned=0,
                                event={"work": request.work}),
                           version=TRIMMED))
    max_cost = settings.get("max_cost")
    for number, one in enumerate(passes, 1):
        on_status(f"deployment {number} of {len(passes)}: {one.what}")
        left = None if max_cost is None else max_cost - findings.spent_usd
        pass_options = replace(options, status=on_status, target_options=dict(
            settings, snapstart=one.snapstart, max_cost=left))

        def record(sample: Sample) -> None:
            findings.samples.append(sample)
            on_sample(sample)

        with sigterm_as_interrupt():
            target = targets.make("aws", pass_options)
            try:
                configs = target.prepare(one.configs, one.plan)
                findings.spent_usd += target.estimate.total_usd
                sweeps.measure(target, [one.labelled(c, arch) for c in configs],
                               replace(one.plan, idle=(), idle_samples=0), record)
                if one.plan.idle and one.plan.idle_samples:
                    # the interval sets idle samples apart: they keep the deployed variant
                    sweeps.idle(target, configs, one.plan, record)
            finally:
                target.close()


@dataclass
class Pass:
    """One deployment of `mitigate --target aws`: what it measures, with which plan."""

    what: str
    configs: list[Config]
    plan: Plan
    snapstart: bool = False
    version: str | None = None     # the version label its plain configurations get

    def labelled(self, config: Config, architecture: str) -> Config:
        """A deployed configuration, with this deployment's ``version`` if it is a plain
        one (of the architecture alone: not SnapStart)."""
        if self.version is None or config.variant != Variant(architecture=architecture):
            return config
        return replace(config, variant=config.variant.but(version=self.version))


def _analyse_packages(request: MitigateRequest, artifact: Artifact, findings: Findings,
                      workspace: Path, on_status) -> Artifact | None:
    """Fill in the packages and which were never loaded; the trimmed build, if any."""
    runtime = artifact.function.runtime
    if not isinstance(runtime, ReadsPackages):
        readers = list(dict.fromkeys(r.language for r in runtimes.RUNTIMES.values()
                                     if isinstance(r, ReadsPackages)))
        findings.package_note = NOT_ANALYSED.get(
            request.runtime, f"not available for {request.runtime}: coldbench reads which "
                             f"packages init loaded for {' and '.join(readers)} only")
        return None
    findings.packages = runtime.task_root_packages(artifact)
    on_status(f"profiling {artifact.function.name}: which packages its init loads")
    (profile,) = session.profile(session.ProfileRequest(
        runtimes=[request.runtime], function_dir=request.function_dir, handler=request.handler,
        samples=request.profile_samples, memory_mb=request.reference_mb,
        timeout_s=request.timeout_s, limits=request.limits,
        **_template_fields(request)), on_status=on_status)
    finished = [s for s in profile.profiled if s.error is None]
    findings.profiled = len(finished)
    if not finished:
        errors = [s.error for s in profile.profiled if s.error]
        findings.package_note = ("not analysed: no profiled cold start finished its init "
                                 f"({errors[0].get('type') if errors else 'no sample'})")
        return None
    # a failed sample's partial profile only adds to what is loaded: never more "unused"
    loaded = loaded_names(runtime, [s.tree for s in profile.profiled],
                          artifact.function.handler)
    findings.loaded = sorted(loaded)
    findings.unused = [p for p in findings.packages if not set(p.modules) & loaded]
    if not findings.unused:
        return None
    return trimmed_copy(artifact, findings.unused, workspace)


def _builtins(request: MitigateRequest, findings: Findings, on_status) -> list[Artifact]:
    """The built-in functions of the other runtimes that build here; why not, for the rest."""
    wanted = request.compare if request.compare is not None else [
        name for name, runtime in runtimes.RUNTIMES.items() if runtime.in_all]
    built = []
    for name in wanted:
        if name == request.runtime:
            continue
        try:
            built.append(build.build(build.Function.builtin(runtimes.get(name)),
                                     on_status=on_status))
            findings.compared[name] = None
        except ColdbenchError as exc:
            findings.compared[name] = str(exc).splitlines()[0]
    return built
