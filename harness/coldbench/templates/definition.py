"""A function as an app's definition describes it, whatever the format it came from: the
common ground of SAM, CloudFormation, CDK and Serverless Framework (``FunctionDefinition``),
how its Lambda runtime identifier maps to a coldbench runtime, and SAM CLI's
``--env-vars`` file applied to it."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from coldbench import build, layers, runtimes
from coldbench.build import FunctionConfiguration
from coldbench.errors import MissingToolchain, UsageError

# Lambda's defaults when a definition leaves them out (CreateFunction: MemorySize 128,
# Timeout 3, Architectures ["x86_64"], PackageType Zip).
LAMBDA_MEMORY_MB = 128
LAMBDA_TIMEOUT_S = 3.0
ARCHITECTURES = ("x86_64", "arm64")

# Variables Lambda reserves: a function that sets one is refused at creation ("Lambda was
# unable to configure your environment variables because the environment variables you
# have provided contains reserved keys"); AWS Lambda Developer Guide, "Defined runtime
# environment variables".
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"})

# Lambda runtime identifier -> coldbench runtime ("Lambda runtimes", AWS Lambda Developer
# Guide). provided.* is decided by the code (``runtime_for``).
_RUNTIME_PATTERNS = (
    (re.compile(r"python3\.\d+$"), "python"),
    (re.compile(r"nodejs\d+\.x$"), "node"),
    (re.compile(r"java\d+(\.al2)?$"), "java"),
    (re.compile(r"provided(\.al2|\.al2023)?$"), "provided"),
)
# SAM's BuildMethod for provided.* functions built from source (sam build's workflows)
_BUILD_METHODS = {"go1.x": "go", "go": "go", "rust-cargolambda": "rust"}


@dataclass(frozen=True)
class LayerReference:
    """A layer a function names: an ARN or a layer of the same definition, with the local
    folder (or zip) that holds its content, when there is one."""

    reference: str
    path: Path | None = None


@dataclass
class FunctionDefinition:
    """One function of an app's definition, as much of it as coldbench uses."""

    name: str                               # logical id (SAM, CloudFormation, CDK) or
                                            # the Serverless Framework's function name
    origin: str                             # "template.yaml:12": where it is defined
    code: Path | None = None                # the local folder (or zip) of its code
    handler: str | None = None
    lambda_runtime: str | None = None       # "python3.13", "provided.al2023", ...
    memory_mb: int = LAMBDA_MEMORY_MB
    timeout_s: float = LAMBDA_TIMEOUT_S
    architecture: str = "x86_64"
    environment: dict[str, str] = field(default_factory=dict)
    # variables whose value needs a deployment (an intrinsic, ${cf:...}, ${ssm:...}):
    # passed as a placeholder, and named in a note
    placeholders: list[str] = field(default_factory=list)
    layers: list[LayerReference] = field(default_factory=list)
    package_type: str = "Zip"
    build_method: str | None = None         # SAM's Metadata.BuildMethod
    # why it cannot run here; None when it can
    not_runnable: str | None = None

    def refuse(self, why: str) -> None:
        """Mark it as one that cannot run (the first reason stays)."""
        if self.not_runnable is None:
            self.not_runnable = why

    @property
    def runtime(self) -> str | None:
        """The coldbench runtime that runs it, or None."""
        return runtime_for(self.lambda_runtime, self.build_method, self.code)

    def check(self) -> None:
        """Mark what keeps it from running on this machine (``not_runnable``)."""
        if self.package_type.lower() == "image":
            self.refuse("an image function (PackageType Image): coldbench builds and runs "
                        "zip functions only")
            return
        if self.code is None:
            self.refuse("its code is not a local path (an S3 location or inline code)")
            return
        if not self.code.exists():
            self.refuse(f"its code path {self.code} does not exist")
            return
        if self.runtime is None:
            self.refuse(f"coldbench has no runtime for {self.lambda_runtime or 'no runtime'}"
                        f" (it runs {', '.join(runtimes.RUNTIMES)})")
            return
        if runtimes.find(self.runtime) is None:
            self.refuse(f"the {self.runtime} runtime is not installed")
            return
        if self.runtime not in runtimes.RUNTIMES:     # a version: is its toolchain here?
            try:
                runtimes.get(self.runtime).toolchain_version()
            except MissingToolchain as exc:
                self.refuse(str(exc))
                return
        if self.code.is_file() and self.runtime != "provided":
            self.refuse(f"its code {self.code} is a file: coldbench builds {self.runtime} "
                        "functions from a folder")
            return
        try:
            runtimes.get(self.runtime).check_source(self.code)
        except UsageError as exc:
            self.refuse(str(exc))
            return
        reserved = sorted(set(self.environment) & RESERVED_VARIABLES)
        if reserved:
            self.refuse(f"it sets variables Lambda reserves: {', '.join(reserved)}")
            return
        unmapped = [layer.reference for layer in self.layers if layer.path is None]
        if unmapped:
            self.refuse(f"its layer {unmapped[0]} has no local content: map it with "
                        f"--layer-dir {unmapped[0]}=DIR")
            return

    def function(self) -> build.Function:
        """The coldbench function that measures it (only when it can run)."""
        assert self.not_runnable is None and self.code is not None
        runtime = runtimes.get(self.runtime)
        configuration = FunctionConfiguration(
            lambda_runtime=self.lambda_runtime, memory_mb=self.memory_mb,
            timeout_s=self.timeout_s, architecture=self.architecture,
            environment=tuple(sorted((str(k), str(v)) for k, v in self.environment.items())),
            layers=tuple(layer.path for layer in self.layers if layer.path is not None))
        source = self.code.resolve()
        # its layers with local content, under /opt as Lambda merges them (coldbench.layers)
        found = tuple(layers.load(layer.path) for layer in self.layers if layer.path)
        return build.Function(str(self.name), runtime, source,
                              str(self.handler or runtime.default_handler), layers=found,
                              configuration=configuration)


def runtime_for(lambda_runtime: str | None, build_method: str | None = None,
                code: Path | None = None) -> str | None:
    """The coldbench runtime of a Lambda runtime identifier; for ``provided.*`` the
    language its code is built from (SAM's BuildMethod, a go.mod, a Cargo.toml), else the
    ``provided`` runtime, which starts the code's own ``bootstrap``."""
    if not lambda_runtime:
        return None
    for pattern, name in _RUNTIME_PATTERNS:
        if pattern.match(lambda_runtime):
            break
    else:
        return None
    if name != "provided":
        # a version coldbench runs (python3.13) as itself, any other on its language's
        # runtime (the version the documented row names)
        if lambda_runtime in runtimes.identifiers():
            return runtimes.get(lambda_runtime).name
        return name
    if build_method in _BUILD_METHODS:
        return _BUILD_METHODS[build_method]
    if code is not None and code.is_dir():
        if (code / "go.mod").is_file():
            return "go"
        if (code / "Cargo.toml").is_file():
            return "rust"
    return "provided"


def placeholder(expression: str) -> str:
    """What a variable whose value needs a deployment is set to."""
    return f"coldbench:unresolved:{expression}"


def apply_env_vars(definitions: list[FunctionDefinition], path: Path) -> list[str]:
    """Set variables from a file in SAM CLI's ``--env-vars`` format: a JSON object with
    ``Parameters`` (for every function) and one object per function (its logical id or
    name), the function's own winning. As ``sam local invoke --env-vars`` does, only
    variables the definition declares are set. The notes of what was ignored."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"--env-vars {path}: cannot read it: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"--env-vars {path}: not JSON: {exc}") from None
    if not isinstance(document, dict) or not all(isinstance(v, dict)
                                                 for v in document.values()):
        raise UsageError(f"--env-vars {path}: expected an object of objects, as "
                         '{"Parameters": {"NAME": "value"}, "Function": {"NAME": "value"}}')
    names = {d.name for d in definitions}
    notes = [f"--env-vars: '{key}' names no function of the definition"
             for key in document if key != "Parameters" and key not in names]
    for definition in definitions:
        values = dict(document.get("Parameters", {})) | document.get(definition.name, {})
        for name, value in values.items():
            if name not in definition.environment:
                continue
            definition.environment[name] = _variable_value(value)
            if name in definition.placeholders:
                definition.placeholders.remove(name)
    return notes


def _variable_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def with_layer_dirs(definition: FunctionDefinition,
                    layer_dirs: dict[str, Path]) -> FunctionDefinition:
    """``--layer-dir ARN=DIR``: the local content of layers given by ARN."""
    layers = [LayerReference(layer.reference, layer.path or layer_dirs.get(layer.reference))
              for layer in definition.layers]
    return replace(definition, layers=layers)


def parse_layer_dirs(values) -> dict[str, Path]:
    """``--layer-dir ARN=DIR`` options as a mapping; UsageError for a malformed one."""
    mapped = {}
    for value in values or ():
        reference, sep, folder = value.rpartition("=")
        if not sep or not reference or not folder:
            raise UsageError(f"--layer-dir '{value}': expected ARN=DIR")
        if not os.path.exists(folder):
            raise UsageError(f"--layer-dir {reference}: '{folder}' does not exist")
        mapped[reference] = Path(folder).resolve()
    return mapped
