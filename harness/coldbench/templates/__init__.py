"""Functions read from an app's definition, as teams deploy them: AWS SAM and plain
CloudFormation templates (``cloudformation.py``), CDK's synthesised ``cdk.out``
(``cloudformation.read_cdk``) and Serverless Framework's ``serverless.yml``
(``serverless.py``), all into one ``FunctionDefinition`` each (``definition.py``).

``read`` gives every function of the file; those that cannot run here (a runtime coldbench
does not have, an image, code in S3, a layer with no local content) say why, and the rest
become coldbench functions (``App.functions``), each under its own name.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

from coldbench import build
from coldbench.errors import UsageError
from coldbench.templates import cloudformation, serverless
from coldbench.templates.definition import (FunctionDefinition, apply_env_vars,
                                            parse_layer_dirs, with_layer_dirs)

_HOST_ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64",
                      "arm64": "arm64"}


@dataclass
class App:
    """The functions of one definition file, and what to say about them."""

    path: Path
    kind: str                                   # "sam", "cloudformation", "cdk", "serverless"
    definitions: list[FunctionDefinition]
    notes: list[str] = field(default_factory=list)

    def select(self, names) -> "App":
        """Only the functions named (``--function-name``), in the order given."""
        if not names:
            return self
        known = {d.name: d for d in self.definitions}
        missing = [name for name in names if name not in known]
        if missing:
            raise UsageError(f"{self.path}: no function named {', '.join(missing)}: it "
                             f"defines {', '.join(known) or 'none'}")
        return App(self.path, self.kind, [known[name] for name in dict.fromkeys(names)],
                   self.notes)

    @property
    def runnable(self) -> list[FunctionDefinition]:
        return [d for d in self.definitions if d.not_runnable is None]

    def functions(self) -> list[build.Function]:
        """The coldbench functions of those that can run; UsageError when none can."""
        if not self.runnable:
            reasons = "; ".join(f"{d.name}: {d.not_runnable}" for d in self.definitions)
            raise UsageError(f"{self.path}: no function can run here ({reasons})")
        return [d.function() for d in self.runnable]

    def function_notes(self, own_architecture: bool = False) -> list[str]:
        """One note per function that is not measured, or measured with a caveat;
        ``own_architecture``: each function runs on the architecture it is defined for
        (deployed to Lambda as defined), so that is none."""
        host = _HOST_ARCHITECTURE.get(platform.machine(), platform.machine())
        notes = []
        for d in self.definitions:
            if d.not_runnable is not None:
                notes.append(f"{d.name} ({d.origin}): not measured: {d.not_runnable}")
                continue
            if d.placeholders:
                notes.append(f"{d.name}: {', '.join(d.placeholders)} need a deployment to "
                             "be known; set to placeholders (coldbench:unresolved:...): give "
                             "values with --env-vars")
            if d.architecture != host and not own_architecture:
                notes.append(f"{d.name}: defined for {d.architecture}, measured on this "
                             f"machine's {host}")
        return notes


def kind_of(path: Path) -> str:
    if path.is_dir():
        return "cdk"
    if path.name.startswith("serverless."):
        return "serverless"
    return "cloudformation"


def read(path: Path, env_vars: Path | None = None, layer_dirs=()) -> App:
    """Every function of the definition at ``path``; UsageError (naming the file and the
    line) when it is malformed or missing."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"--template {path}: no such file or folder")
    kind = kind_of(path)
    if kind == "serverless":
        found = serverless.definitions(path, serverless.load(path))
    elif kind == "cdk":
        found = [d for stack, template in cloudformation.read_cdk(path)
                 for d in cloudformation.definitions(stack, template)]
    else:
        template = cloudformation.load(path)
        transform = template.get("Transform")
        transforms = transform if isinstance(transform, list) else [transform]
        if "AWS::Serverless-2016-10-31" in transforms:
            kind = "sam"
        found = cloudformation.definitions(path, template)
    if not found:
        raise UsageError(f"{path}: defines no Lambda function")
    mapped = parse_layer_dirs(layer_dirs)
    found = [with_layer_dirs(d, mapped) for d in found]
    notes = apply_env_vars(found, env_vars) if env_vars is not None else []
    for definition in found:
        definition.check()
    return App(path, kind, found, notes)


__all__ = ["App", "FunctionDefinition", "read"]
