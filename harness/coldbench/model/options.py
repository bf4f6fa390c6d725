"""What a `coldbench run` is asked to do: the request every target reads
(``TargetPlugin.check_options``, ``from_options``). The checks of a request are
``coldbench.workflows.options``. Frozen: a check that adjusts a request returns a new one
(``RunOptions.adjusted``), so what the caller made is never changed under it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Protocol

from coldbench.model.config import Plan

DEFAULT_MEMORY = (128, 512, 1769)
VIAS = ("invoke", "url")
URL_TARGETS = ("local", "docker")      # whose environments run on this machine
OWN_URL_TARGETS = ("aws",)             # which give each function a real function URL
# How a Python function's own and its dependencies' bytecode reaches Lambda
# (``--python-bytecode``, ``coldbench.runtimes.python``; docs/fidelity.md, section 3b):
# stale, as SAM, the CDK and the Serverless Framework deliver it (their zips date every file
# 1980-01-01, so a .pyc made at install time no longer matches its source); none, no .pyc
# (`sam build`'s default, AWS's advice); valid, .pyc that Python uses as they are.
PYTHON_BYTECODES = ("stale", "none", "valid")
DEFAULT_PYTHON_BYTECODE = "stale"
# samples per configuration unless asked otherwise (`run`, `mitigate`, `serve`)
DEFAULT_COLD, DEFAULT_WARM, DEFAULT_PROVISIONED, DEFAULT_IDLE_SAMPLES = 10, 20, 6, 10
# SHA-256 rounds each invocation computes (functions/README.md); seconds for init and each
DEFAULT_WORK, DEFAULT_TIMEOUT_S = 100, 60.0


class Predictor(Protocol):
    """What predicts AWS's Init Duration from a local cold sample (``coldbench.calibration``)."""

    error_pct: float | None

    def predict(self, init_ms: float | None, init_read_mb: float | None) -> float | None: ...

    def describe(self) -> dict: ...


@dataclass(frozen=True)
class RunOptions:
    runtimes: list[str]
    memory: list[int] = field(default_factory=lambda: list(DEFAULT_MEMORY))
    cold: int = DEFAULT_COLD
    warm: int = DEFAULT_WARM
    provisioned: int = DEFAULT_PROVISIONED
    burst: int = 0
    idle: tuple[float, ...] = ()           # --idle intervals in seconds (workflows/sweeps.py)
    idle_samples: int = DEFAULT_IDLE_SAMPLES     # idle samples per configuration and interval
    work: int = DEFAULT_WORK
    timeout_s: float = DEFAULT_TIMEOUT_S
    target: str = "local"
    cpu_model: str = "lambda"
    limits: bool = True
    output: Path | None = None
    force: bool = False
    function_dir: Path | None = None
    handler: str | None = None
    function_set: str = "hello"       # the built-in functions measured (coldbench.function_sets)
    rebuild: bool = False
    # also take as many profiled cold samples per configuration, after the others
    # (`run --profile`, the local target only: ``profile/session.py``)
    profile: bool = False
    # the function's layers, in order (``--layer``), each a ``coldbench.build.Layer`` loaded
    # by ``coldbench.layers``
    layers: tuple = ()
    # also measure the function with each prefix of its layers (none, A, A+B, ...),
    # interleaved, to print each layer's overhead (``--layer-overhead``)
    layer_overhead: bool = False
    target_options: dict = field(default_factory=dict)   # options only one target reads
    # what predicts AWS's Init Duration from local cold samples (coldbench.calibration):
    # None, the calibration shipped with coldbench
    calibration: Predictor | None = None
    # the options the user left at their default (field names; the CLI fills it): a
    # target may adjust those, where it would refuse a value the user chose
    defaulted: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()                          # what the checks adjusted, said
    # `--template FILE`: the functions of an app's definition (coldbench.templates), those
    # named by --function-name (all when none), with --env-vars and --layer-dir applied
    template: Path | None = None
    function_names: tuple[str, ...] = ()
    env_vars: Path | None = None
    layer_dirs: tuple[str, ...] = ()
    # True: each template function at its own memory size (--memory not given)
    template_memory: bool = True
    # the template's functions (``coldbench.build.Function``), read by the checks
    template_functions: list | None = None
    # how each invocation reaches the function: Lambda's Invoke API, or an HTTP request
    # to its function URL (``targets/function_url.py``; on AWS the function's own,
    # ``targets/aws/function_urls.py``)
    via: str = "invoke"
    # how a Python function's own and its dependencies' bytecode arrives (PYTHON_BYTECODES)
    python_bytecode: str = DEFAULT_PYTHON_BYTECODE
    # how a target talks to the user: progress lines, what must be said whatever the
    # verbosity, and a yes/no question (None: no one to ask)
    status: Callable[[str], None] | None = None
    announce: Callable[[str], None] | None = None
    confirm: Callable[[str], bool] | None = None

    def adjusted(self, *notes: str, settings: dict | None = None, **changes) -> RunOptions:
        """A copy with ``changes`` (fields) and ``settings`` (target options) applied and
        each of ``notes`` said once among its notes: how a check adjusts a request."""
        notes = tuple(dict.fromkeys((*self.notes, *notes)))
        target_options = self.target_options if settings is None else {**self.target_options,
                                                                        **settings}
        return replace(self, notes=notes, target_options=target_options, **changes)

    def plan(self) -> Plan:
        return Plan(cold=self.cold, warm=self.warm, provisioned=self.provisioned,
                    event={"work": self.work}, burst=self.burst, idle=tuple(self.idle),
                    idle_samples=self.idle_samples if self.idle else 0)
