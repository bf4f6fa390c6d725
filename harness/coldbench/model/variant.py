"""What sets a configuration apart beyond its function, runtime and memory size, as typed
fields: the CPU architecture, the package type, SnapStart, the region, a burst, an idle
interval, and what comes next (layers, an app template's function, the invocation path, a
version label for A/B runs). It renders itself once (``Variant.label``); results keep the
fields, never the label (``coldbench.results.schema``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace

from coldbench.model.architecture import ARCHITECTURES
from coldbench.model.intervals import interval_text, parse_interval

# ISO-like AWS region names: "us-east-1", "eu-west-3", "us-gov-west-1", "ap-southeast-4"
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")


@dataclass(frozen=True)
class Variant:
    """Empty (``Variant()``) where runtime and memory say it all, as on the local target."""

    architecture: str | None = None     # "x86_64", "arm64" (AWS)
    snapstart: bool = False
    package_type: str | None = None     # "image"; None: what the target deploys by default
    region: str | None = None           # set in a run in several regions
    version: str | None = None          # an A/B label: "trimmed", "no SnapStart"
    layers: tuple[str, ...] = ()        # Lambda layers (extensions) attached, by name
    template: str | None = None         # the function of an app template
    via: str | None = None              # the invocation path: None, direct; "http", ...
    burst: int | None = None            # one of N invocations sent at once
    idle_s: float | None = None         # the second of two invocations this far apart

    def label(self) -> str | None:
        """The variant in words, as tables show it ("x86_64 SnapStart", "arm64 image
        eu-west-1 idle 5m"), or None when it is empty."""
        parts = [self.architecture, "SnapStart" if self.snapstart else None,
                 self.package_type if self.package_type not in (None, "zip") else None,
                 self.region, self.version,
                 f"layers {'+'.join(self.layers)}" if self.layers else None,
                 f"template {self.template}" if self.template else None,
                 f"via {self.via}" if self.via else None,
                 f"burst {self.burst}" if self.burst else None,
                 f"idle {interval_text(self.idle_s)}" if self.idle_s is not None else None]
        return " ".join(p for p in parts if p) or None

    def __bool__(self) -> bool:
        return self != Variant()

    def __str__(self) -> str:
        return self.label() or ""

    @property
    def order(self) -> tuple:
        """Sort key: the label, as tables sort configurations."""
        return (self.label() or "",)

    def __lt__(self, other: "Variant") -> bool:
        return self.order < other.order

    def but(self, **changes) -> "Variant":
        return replace(self, **changes)

    def to_json(self) -> dict:
        """The fields that are set, for a results file (schema 3)."""
        document = {}
        for name, value in asdict(self).items():
            if value in (None, False, ()):
                continue
            document[name] = list(value) if isinstance(value, tuple) else value
        return document

    @classmethod
    def from_json(cls, document: dict | None) -> "Variant":
        if not document:
            return cls()
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in document.items() if k in known}
        if "layers" in values:
            values["layers"] = tuple(values["layers"])
        return cls(**values)

    @classmethod
    def parse_label(cls, text: str | None) -> "Variant":
        """A variant from the label results of schema 1 and 2 stored ("x86_64 SnapStart
        image eu-west-1 burst 10", "arm64 trimmed", "x86_64 idle 5m"). Only the results
        loader calls this: everything else has the fields."""
        if not text:
            return cls()
        values: dict = {}
        words = text.split()
        rest = []
        i = 0
        while i < len(words):
            word = words[i]
            following = words[i + 1] if i + 1 < len(words) else None
            if word in ARCHITECTURES and not values.get("architecture"):
                values["architecture"] = word
            elif word == "SnapStart" and rest[-1:] != ["no"]:
                values["snapstart"] = True
            elif word == "image":
                values["package_type"] = "image"
            elif _REGION.match(word):
                values["region"] = word
            elif word == "burst" and following is not None and following.isdigit():
                values["burst"] = int(following)
                i += 1
            elif word == "idle" and following is not None and parse_interval(following):
                values["idle_s"] = parse_interval(following)
                i += 1
            else:
                rest.append(word)
            i += 1
        if rest:
            values["version"] = " ".join(rest)
        return cls(**values)
