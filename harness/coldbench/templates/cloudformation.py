"""AWS SAM templates, plain CloudFormation templates and CDK's synthesised templates
(``cdk.out``), read into function definitions.

Libraries, and why:

- ``cfn-lint``'s template decoder (``cfnlint.decode``) reads the file: YAML with
  CloudFormation's short-form intrinsics (``!Ref``, ``!Sub``, ``!GetAtt``...) or JSON, into
  plain mappings that keep each node's line, and it reports a malformed file with its line.
  PyYAML alone knows neither the tags nor lines once loaded; cfn-lint is AWS's own linter,
  kept in step with CloudFormation.
- ``aws-sam-translator`` (the library SAM itself transforms templates with) applies SAM's
  rules where a local reading needs them: ``Globals`` merged into each function by SAM's
  own merge (``samtranslator.plugins.globals``: which properties Globals may hold, maps
  merged, lists joined, the function's scalar winning), and template parameters resolved
  in ``Ref``, ``Fn::Sub`` and ``Fn::FindInMap`` by its intrinsics resolver. The whole
  translation to CloudFormation is not used: it makes roles, permissions and event
  sources that a local run has no use for, and needs an AWS session for managed policies.

What a value needs a deployment for (``!Ref Table``, ``!GetAtt Table.Arn``, ``!ImportValue``)
cannot be known here: an environment variable holding one gets a placeholder
(``definition.placeholder``) and is named in a note.
"""

from __future__ import annotations

import json
from pathlib import Path

from coldbench.errors import UsageError
from coldbench.templates.definition import (ARCHITECTURES, LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_S,
                                            FunctionDefinition, LayerReference, placeholder)

SAM_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
# What ``sam local`` assumes for pseudo parameters (region and account as the local
# target's environments report them)
PSEUDO_PARAMETERS = {"AWS::Region": "us-east-1", "AWS::AccountId": "000000000000",
                     "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                     "AWS::StackName": "local", "AWS::NoValue": ""}
CDK_ASSET_PATH = "aws:asset:path"      # the metadata CDK writes on each asset's resource


def malformed(path: Path, line: int | None, message: str) -> UsageError:
    """The one line a malformed definition gets: the file, the line, what is wrong."""
    where = f"{path}:{line}" if line else str(path)
    return UsageError(f"{where}: {message}")


def line_of(node) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def load(path: Path) -> dict:
    """The template as mappings (lines kept); UsageError naming the line when malformed."""
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if matches:
        first = matches[0]
        raise malformed(path, first.linenumber, first.message)
    if not isinstance(template, dict):
        raise malformed(path, 1, "not a CloudFormation template (not a mapping)")
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        raise malformed(path, line_of(template), "no Resources section")
    return template


def read_cdk(folder: Path) -> list[tuple[Path, dict]]:
    """The stack templates of a ``cdk.out`` folder, from its cloud assembly manifest."""
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except OSError:
        raise UsageError(f"{folder}: a folder given as a definition must be a CDK cloud "
                         "assembly (cdk.out) with a manifest.json") from None
    except ValueError as exc:
        raise malformed(manifest_path, getattr(exc, "lineno", None), f"not JSON: {exc}") from None
    stacks = [artifact["properties"]["templateFile"]
              for artifact in manifest.get("artifacts", {}).values()
              if artifact.get("type") == "aws:cloudformation:stack"]
    if not stacks:
        raise UsageError(f"{manifest_path}: the cloud assembly has no stack")
    return [(folder / name, load(folder / name)) for name in stacks]


def definitions(path: Path, template: dict) -> list[FunctionDefinition]:
    """Every function of a loaded template, in the order the template lists them."""
    base = path.parent
    parameters = dict(PSEUDO_PARAMETERS)
    for name, parameter in (template.get("Parameters") or {}).items():
        if isinstance(parameter, dict) and "Default" in parameter:
            parameters[name] = parameter["Default"]
    resolved = _resolve(template, parameters, path)
    resources = resolved["Resources"]
    layers = {name: _layer_content(base, resource) for name, resource in resources.items()
              if isinstance(resource, dict) and resource.get("Type") in LAYER_TYPES}
    found = []
    for name, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") not in (SAM_FUNCTION,
                                                                          LAMBDA_FUNCTION):
            continue
        properties = resource.get("Properties") or {}
        if not isinstance(properties, dict):
            raise malformed(path, line_of(template["Resources"][name]),
                            f"{name}: Properties is not a mapping")
        # plain strings from here on (the decoder's carry their lines, and do not pickle)
        definition = FunctionDefinition(
            name=str(name), origin=f"{path.name}:{line_of(template['Resources'][name])}")
        if resource["Type"] == SAM_FUNCTION:
            _sam_function(definition, base, properties, resource.get("Metadata") or {})
        else:
            _lambda_function(definition, base, properties, resource.get("Metadata") or {})
        _common(definition, path, properties, layers)
        found.append(definition)
    return found


def _resolve(template: dict, parameters: dict, path: Path) -> dict:
    """SAM's Globals applied to each SAM function, and parameters resolved: SAM's rules
    (aws-sam-translator). The template's own nodes are left as they are."""
    from samtranslator.intrinsics.resolver import IntrinsicsResolver
    from samtranslator.model.exceptions import ExceptionWithMessage
    from samtranslator.plugins.globals.globals import Globals

    resources = {}
    try:
        merger = Globals(template) if "Globals" in template else None
    except ExceptionWithMessage as exc:
        raise malformed(path, line_of(template.get("Globals")), exc.message) from None
    resolver = IntrinsicsResolver(parameters)
    for name, resource in template["Resources"].items():
        if not isinstance(resource, dict):
            raise malformed(path, line_of(template["Resources"]), f"{name} is not a mapping")
        resource = dict(resource)
        properties = resource.get("Properties")
        if merger is not None and resource.get("Type", "").startswith("AWS::Serverless::"):
            try:
                properties = merger.merge(resource["Type"], dict(properties or {}))
            except ExceptionWithMessage as exc:
                raise malformed(path, line_of(template["Resources"][name]),
                                f"{name}: {exc.message}") from None
        if properties is not None:
            resource["Properties"] = _join(resolver.resolve_parameter_refs(properties))
        resources[name] = resource
    return {**template, "Resources": resources}


def _join(value):
    """``Fn::Join`` of literal strings, joined (what is left once parameters are in)."""
    if isinstance(value, dict):
        value = {key: _join(item) for key, item in value.items()}
        joined = value.get("Fn::Join")
        if (len(value) == 1 and isinstance(joined, list) and len(joined) == 2
                and isinstance(joined[0], str) and isinstance(joined[1], list)
                and all(isinstance(part, str) for part in joined[1])):
            return joined[0].join(joined[1])
        return value
    if isinstance(value, list):
        return [_join(item) for item in value]
    return value


def is_intrinsic(value) -> bool:
    """Whether a value is one intrinsic function call (``{"Ref": ...}``, ``{"Fn::...": ...}``)."""
    if not (isinstance(value, dict) and len(value) == 1):
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def describe(value) -> str:
    """An intrinsic in its short form, for placeholders and notes: "!GetAtt Table.Arn"."""
    (function, argument), = value.items()
    short = "!" + function.removeprefix("Fn::")
    if function == "Fn::GetAtt" and isinstance(argument, list):
        return f"{short} {'.'.join(str(part) for part in argument)}"
    if isinstance(argument, str):
        return f"{short} {argument}"
    return f"{short} {json.dumps(argument, default=str)}"


def _local_path(base: Path, value) -> Path | None:
    """A code location that is a local path (relative to the template), or None."""
    if isinstance(value, str) and not value.startswith("s3://"):
        return (base / value).resolve()
    return None


def _sam_function(definition, base: Path, properties: dict, metadata: dict) -> None:
    definition.package_type = str(properties.get("PackageType", "Zip"))
    if "InlineCode" in properties:
        definition.code = None
    else:
        definition.code = _local_path(base, properties.get("CodeUri", "."))
    method = metadata.get("BuildMethod")
    definition.build_method = str(method) if method is not None else None


def _lambda_function(definition, base: Path, properties: dict, metadata: dict) -> None:
    definition.package_type = str(properties.get("PackageType", "Zip"))
    code = properties.get("Code")
    if CDK_ASSET_PATH in metadata:           # CDK: the asset, staged beside the template
        definition.code = (base / metadata[CDK_ASSET_PATH]).resolve()
    elif isinstance(code, str):              # a local path, as `sam build` leaves it
        definition.code = _local_path(base, code)
    else:
        definition.code = None               # S3Bucket/S3Key, ZipFile, ImageUri


def _layer_content(base: Path, resource: dict) -> Path | None:
    properties = resource.get("Properties") or {}
    metadata = resource.get("Metadata") or {}
    if CDK_ASSET_PATH in metadata:
        return (base / metadata[CDK_ASSET_PATH]).resolve()
    return _local_path(base, properties.get("ContentUri", properties.get("Content")))


def _common(definition: FunctionDefinition, path: Path, properties: dict,
            layers: dict[str, Path | None]) -> None:
    where = f"{path}: {definition.name}"
    definition.handler = _scalar(properties.get("Handler"), where, "Handler")
    definition.lambda_runtime = _scalar(properties.get("Runtime"), where, "Runtime")
    definition.memory_mb = _number(properties.get("MemorySize", LAMBDA_MEMORY_MB), int,
                                   where, "MemorySize")
    definition.timeout_s = _number(properties.get("Timeout", LAMBDA_TIMEOUT_S), float, where,
                                   "Timeout")
    architectures = properties.get("Architectures", ["x86_64"])
    if (not isinstance(architectures, list) or len(architectures) != 1
            or architectures[0] not in ARCHITECTURES):
        raise UsageError(f"{where}: Architectures must be [x86_64] or [arm64]")
    definition.architecture = architectures[0]
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    if not isinstance(variables, dict):
        raise UsageError(f"{where}: Environment.Variables is not a mapping")
    for name, value in variables.items():
        name = str(name)
        if is_intrinsic(value):
            definition.environment[name] = placeholder(describe(value))
            definition.placeholders.append(name)
        elif isinstance(value, bool):
            definition.environment[name] = "true" if value else "false"
        else:
            definition.environment[name] = str(value)
    for layer in properties.get("Layers") or []:
        if isinstance(layer, dict) and set(layer) == {"Ref"} and layer["Ref"] in layers:
            definition.layers.append(LayerReference(str(layer["Ref"]), layers[layer["Ref"]]))
        elif isinstance(layer, str):
            definition.layers.append(LayerReference(str(layer)))
        else:
            definition.layers.append(LayerReference(describe(layer) if is_intrinsic(layer)
                                                    else str(layer)))


def _scalar(value, where: str, name: str) -> str | None:
    if value is None:
        return None
    if is_intrinsic(value):
        raise UsageError(f"{where}: {name} is {describe(value)}, which coldbench cannot "
                         "resolve without a deployment")
    return str(value)


def _number(value, kind, where: str, name: str):
    if is_intrinsic(value):
        raise UsageError(f"{where}: {name} is {describe(value)}, which coldbench cannot "
                         "resolve without a deployment")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {name} '{value}' is not a number") from None
