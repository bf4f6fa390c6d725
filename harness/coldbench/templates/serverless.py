"""Serverless Framework definitions (``serverless.yml``) read into function definitions.

The file is YAML, read with cfn-lint's decoder as CloudFormation templates are
(``cloudformation.load``'s reasons: short-form intrinsics, which serverless.yml accepts
too, and lines for errors). Variables are resolved as the framework resolves them
(Serverless Framework documentation, "Variables"): ``${self:path}`` from the file itself,
``${opt:stage}`` and ``${sls:stage}`` (the stage: ``provider.stage``, else "dev"),
``${opt:region}``/``${aws:region}`` (``provider.region``, else us-east-1), ``${env:NAME}``
from coldbench's environment, each with its fallback after a comma (``${opt:stage, 'dev'}``).
Sources that need a deployment or a service (``${cf:...}``, ``${ssm:...}``, ``${s3:...}``,
``${file(...)}``...) become placeholders, named in a note.

A function's code is the service folder, filtered by ``package.patterns`` (the service's,
then the function's, in order; ``!`` excludes), staged into coldbench's cache; or
``package.artifact``, a zip.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from coldbench.build import cache_root
from coldbench.errors import UsageError
from coldbench.templates.cloudformation import describe, is_intrinsic, line_of, malformed
from coldbench.templates.definition import (ARCHITECTURES, FunctionDefinition, LayerReference,
                                            placeholder)

# The framework's defaults for AWS ("Serverless Framework - AWS Lambda Functions")
MEMORY_MB = 1024
TIMEOUT_S = 6.0
STAGE = "dev"
REGION = "us-east-1"
# never packaged (the framework's own excludes)
ALWAYS_EXCLUDED = (".git/**", ".serverless/**", "serverless.yml", "serverless.yaml",
                   ".gitignore", ".DS_Store", "npm-debug.log", "serverless.json")
_VARIABLE = re.compile(r"\$\{([^${}]*)\}")


class Unresolved(Exception):
    """A variable whose source needs a deployment or a service."""


def load(path: Path) -> dict:
    from cfnlint.decode import cfn_yaml

    try:
        document = cfn_yaml.load(str(path))
    except cfn_yaml.CfnParseError as exc:
        first = exc.matches[0]
        raise malformed(path, first.linenumber, first.message) from None
    except Exception as exc:  # noqa: BLE001 - PyYAML's errors carry a mark
        mark = getattr(exc, "problem_mark", None)
        raise malformed(path, mark.line + 1 if mark else None,
                        getattr(exc, "problem", None) or str(exc)) from None
    if not isinstance(document, dict) or not isinstance(document.get("functions"), dict):
        raise malformed(path, 1, "not a Serverless Framework definition (no functions)")
    return document


class Variables:
    """The framework's variables of one file."""

    def __init__(self, document: dict, environ: dict[str, str] | None = None):
        self.document = document
        self.environ = os.environ if environ is None else environ
        # `serverless --stage X` and other command-line options: none here, so
        # ${opt:...} takes its fallback
        self.options: dict[str, str] = {}
        provider = document.get("provider") or {}
        self.stage, self.region = STAGE, REGION
        self.stage = self._plain(provider.get("stage"), STAGE)
        self.region = self._plain(provider.get("region"), REGION)

    def _plain(self, value, default: str) -> str:
        if value is None:
            return default
        try:
            resolved = self.resolve(value)
        except Unresolved:
            return default
        return str(resolved)

    def resolve(self, value, depth: int = 0):
        """``value`` with its variables resolved; Unresolved names one that cannot be."""
        if depth > 20:
            raise Unresolved("a variable that refers to itself")
        if isinstance(value, dict):
            return {key: self.resolve(item, depth) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, depth) for item in value]
        if not isinstance(value, str):
            return value
        while (match := _VARIABLE.search(value)) is not None:
            found = self._source(match.group(1), depth)
            if match.span() == (0, len(value)):
                return self.resolve(found, depth + 1) if isinstance(found, (dict, list)) \
                    else found
            value = value[:match.start()] + str(found) + value[match.end():]
        return value

    def _source(self, text: str, depth: int):
        """One ``${...}``: its source, or the first fallback that resolves."""
        choices = [part.strip() for part in _split(text)]
        for choice in choices[:-1] if len(choices) > 1 else choices:
            try:
                found = self._one(choice, depth)
            except Unresolved:
                if len(choices) == 1:
                    raise
                continue
            if found is not None:
                return found
        if len(choices) > 1:
            return self._literal(choices[-1], depth)
        raise Unresolved(f"${{{text}}}")

    def _literal(self, text: str, depth: int):
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        try:
            return int(text)
        except ValueError:
            pass
        if text in ("true", "false"):
            return text == "true"
        return self._one(text, depth)

    def _one(self, text: str, depth: int):
        source, _, rest = text.partition(":")
        if source == "self":
            node = self.document
            for key in filter(None, rest.split(".")):
                if not isinstance(node, dict) or key not in node:
                    return None
                node = node[key]
            return self.resolve(node, depth + 1)
        if source == "opt":
            return self.options.get(rest)
        if (source, rest) == ("sls", "stage"):
            return self.stage
        if (source, rest) == ("aws", "region"):
            return self.region
        if source == "env":
            return self.environ.get(rest)
        if not rest and not source.startswith(("file(", "cf", "ssm", "s3")):
            return self._literal(text, depth) if text[:1] in "'\"" else None
        raise Unresolved(f"${{{text}}}")


def _split(text: str) -> list[str]:
    """A variable's source and fallbacks, split at commas outside quotes and brackets."""
    parts, depth, quote, current = [], 0, None, ""
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current]


def definitions(path: Path, document: dict) -> list[FunctionDefinition]:
    variables = Variables(document)
    base = path.parent
    provider = _resolved_or_fail(variables, {key: value for key, value in
                                             (document.get("provider") or {}).items()
                                             if key != "environment"}, path, "provider")
    service_package = _resolved_or_fail(variables, document.get("package") or {}, path,
                                        "package")
    service = str(variables._plain(document.get("service"), base.name))
    layers = {}
    for name, layer in (document.get("layers") or {}).items():
        layer = _resolved_or_fail(variables, layer or {}, path, f"layers.{name}")
        reference = f"{name[:1].upper()}{name[1:]}LambdaLayer"   # the framework's Ref name
        layers[reference] = (base / layer["path"]).resolve() if layer.get("path") else None
    found = []
    for name, raw in document["functions"].items():
        # plain strings from here on (the decoder's carry their lines, and do not pickle)
        definition = FunctionDefinition(name=str(name), origin=f"{path.name}:{line_of(raw)}")
        where = f"{path}: {name}"
        if not isinstance(raw, dict):
            raise malformed(path, line_of(document["functions"]), f"{name} is not a mapping")
        function = {}
        for key, value in raw.items():
            if key == "environment":
                continue
            function[key] = _resolved_or_fail(variables, value, path, f"{name}.{key}")
        handler = function.get("handler")
        definition.handler = str(handler) if handler is not None else None
        lambda_runtime = function.get("runtime", provider.get("runtime"))
        definition.lambda_runtime = str(lambda_runtime) if lambda_runtime is not None else None
        definition.memory_mb = _number(function.get("memorySize",
                                                    provider.get("memorySize", MEMORY_MB)),
                                       int, where, "memorySize")
        definition.timeout_s = _number(function.get("timeout",
                                                    provider.get("timeout", TIMEOUT_S)),
                                       float, where, "timeout")
        definition.architecture = str(function.get("architecture",
                                                   provider.get("architecture", "x86_64")))
        if definition.architecture not in ARCHITECTURES:
            raise UsageError(f"{where}: architecture must be x86_64 or arm64")
        environment = dict(document.get("provider", {}).get("environment") or {})
        environment |= raw.get("environment") or {}
        for key, value in environment.items():
            _set_variable(definition, variables, key, value)
        for layer in function.get("layers", provider.get("layers")) or []:
            if isinstance(layer, dict) and set(layer) == {"Ref"} and layer["Ref"] in layers:
                definition.layers.append(LayerReference(str(layer["Ref"]), layers[layer["Ref"]]))
            else:
                definition.layers.append(LayerReference(describe(layer)
                                                        if is_intrinsic(layer) else str(layer)))
        if "image" in function:
            definition.package_type = "Image"
        else:
            package = function.get("package") or {}
            artifact = package.get("artifact") or service_package.get("artifact")
            if artifact:
                definition.code = (base / artifact).resolve()
            else:
                patterns = [*(service_package.get("patterns") or []),
                            *(package.get("patterns") or [])]
                definition.code = stage_package(base, f"{service}-{name}", patterns)
        found.append(definition)
    return found


def _resolved_or_fail(variables: Variables, value, path: Path, what: str):
    try:
        return variables.resolve(value)
    except Unresolved as exc:
        raise UsageError(f"{path}: {what}: {exc} cannot be resolved without a deployment "
                         "(only environment variables may hold such values)") from None


def _set_variable(definition: FunctionDefinition, variables: Variables, key: str,
                  value) -> None:
    key = str(key)
    if is_intrinsic(value):
        definition.environment[key] = placeholder(describe(value))
        definition.placeholders.append(key)
        return
    try:
        resolved = variables.resolve(value)
    except Unresolved as exc:
        definition.environment[key] = placeholder(str(exc))
        definition.placeholders.append(key)
        return
    if isinstance(resolved, bool):
        resolved = "true" if resolved else "false"
    definition.environment[key] = str(resolved)


def _number(value, kind, where: str, name: str):
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {name} '{value}' is not a number") from None


def _pattern(glob: str) -> re.Pattern:
    """A package pattern (a glob: ``**`` any folders, ``*`` within one) as a regex."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out.rstrip("/") + "(?:/.*)?$")


def packaged(base: Path, patterns: list[str]) -> list[Path]:
    """The files of the service folder that the patterns keep, relative to it."""
    rules = [(False, _pattern(glob)) for glob in ALWAYS_EXCLUDED]
    for glob in patterns:
        exclude = glob.startswith("!")
        rules.append((not exclude, _pattern(glob.lstrip("!"))))
    kept = []
    for folder, dirs, names in os.walk(base):
        dirs.sort()
        for name in sorted(names):
            relative = (Path(folder) / name).relative_to(base).as_posix()
            keep = True
            for include, rule in rules:
                if rule.match(relative):
                    keep = include
            if keep:
                kept.append(Path(relative))
    return kept


def stage_package(base: Path, name: str, patterns: list[str]) -> Path:
    """The files the patterns keep, copied into a folder of coldbench's cache named by
    their contents (a second read of the same files finds it there)."""
    files = packaged(base, patterns)
    digest = hashlib.sha256()
    for relative in files:
        digest.update(relative.as_posix().encode() + b"\0" + (base / relative).read_bytes())
    folder = cache_root() / "packages" / f"{name}-{digest.hexdigest()[:16]}"
    if not folder.is_dir():
        staging = folder.with_name(folder.name + f".staging-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        for relative in files:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(base / relative, staging / relative)
        staging.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(folder)
        except OSError:                   # another run staged it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return folder
