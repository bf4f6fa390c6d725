"""What an external extension costs a cold start, and where the time goes, on the local
target (coldbench's Runtime API with its Extensions and Telemetry APIs).

Run (as root):
    .venv/bin/python benchmarks/extension_costs.py [--runtime go] [--memory 512]
        [--rounds 10] [--warm 3]

One function under several /opt folders, interleaved round by round (A B C ... A B C) so
that drift on a busy machine hits all of them alike; each round takes one cold start and
--warm warm invocations per setup:
  none          no extension
  shell         the shell extension of the tests (bash and curl), registering at once
  shell +200    the same, sleeping 200 ms before it registers
  go            the Go extension of the tests, registering at once
  go +200       the same, sleeping 200 ms before it registers
  go work 150   the Go extension working 150 ms after each INVOKE
  rust          an extension built on AWS's crate lambda-extension, subscribed to the
                Telemetry API (built with cargo; minutes the first time)
Prints one markdown table: per setup, p50 of Init Duration, of the extensions'
registration (init start -> the runtime's start), of the runtime's own init, of the last
extension's readiness, of warm Duration and of post-runtime extension time, with the
sample counts.

Figures vary with the machine; this is a benchmark, not a test: nothing here fails.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from coldbench.build import Function, build, cache_root
from coldbench.runtimes import get
from coldbench.targets.local.target import LocalTarget

EXTENSIONS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "extensions"


def go_extension() -> Path:
    """The Go extension of the tests, built once per source into coldbench's cache."""
    source = EXTENSIONS / "go"
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(source.iterdir())))
    binary = cache_root() / "test-extensions" / f"go-{digest.hexdigest()[:16]}"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["go", "build", "-o", f"{binary}.part", "."], cwd=source, check=True,
                       env=os.environ | {"CGO_ENABLED": "0"}, timeout=900)
        os.replace(f"{binary}.part", binary)
    return binary


def rust_extension() -> Path:
    """The extension built on AWS's crate ``lambda-extension`` (cargo keeps its build in
    coldbench's cache: minutes the first time, a second after)."""
    source = EXTENSIONS / "rust-telemetry"
    target_dir = cache_root() / "test-extensions" / "rust-target"
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=source,
                   check=True, env=os.environ | {"CARGO_TARGET_DIR": str(target_dir)},
                   timeout=1800)
    return target_dir / "release" / "coldbench-telemetry-extension"


def setups(folder: Path) -> list[tuple[str, Path | None, dict[str, str]]]:
    """(label, /opt folder, the function's variables) of every setup."""
    def opt(name: str, executable: Path) -> Path:
        path = folder / name
        (path / "extensions").mkdir(parents=True)
        shutil.copy(executable, path / "extensions" / name)
        return path
    shell, go, rust = (opt("shell", EXTENSIONS / "shell.sh"), opt("go", go_extension()),
                       opt("rust", rust_extension()))
    sleep, work = "EXTENSION_SLEEP_BEFORE_REGISTER_MS", "EXTENSION_WORK_AFTER_INVOKE_MS"
    return [("none", None, {}), ("shell", shell, {}), ("shell +200", shell, {sleep: "200"}),
            ("go", go, {}), ("go +200", go, {sleep: "200"}), ("go work 150", go, {work: "150"}),
            ("rust", rust, {})]


def p50(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="go")
    parser.add_argument("--memory", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warm", type=int, default=3)
    args = parser.parse_args()

    artifact = build(Function.builtin(get(args.runtime)))
    folder = Path(tempfile.mkdtemp(prefix="coldbench-extension-costs-"))
    cold: dict[str, list] = {}
    warm: dict[str, list] = {}
    errors: dict[str, int] = {}
    try:
        chosen = setups(folder)
        # the Rust extension writes what it saw beside itself (its folder is writable, as in
        # the tests); the rest of /opt stays read-only, as on Lambda
        targets = {label: LocalTarget(timeout_s=30, opt_dir=opt, variables=variables,
                                      writable=[opt] if label == "rust" else [])
                   for label, opt, variables in chosen}
        try:
            for _ in range(args.rounds):
                for label, target in targets.items():
                    environment = target.start(artifact, args.memory, provisioned=False)
                    try:
                        invoked = [environment.invoke({}) for _ in range(1 + args.warm)]
                    finally:
                        environment.close()
                    errors[label] = errors.get(label, 0) + sum(bool(i.error) for i in invoked)
                    cold.setdefault(label, []).extend(i for i in invoked[:1] if not i.error)
                    warm.setdefault(label, []).extend(i for i in invoked[1:] if not i.error)
        finally:
            for target in targets.values():
                target.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"{args.runtime}, {args.memory} MB, {args.rounds} rounds; p50 in ms\n")
    print("| setup | cold n | Init Duration | registration | runtime init | last extension "
          "ready | warm n | warm Duration | post-runtime | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, _, _ in chosen:
        first, rest = cold.get(label, []), warm.get(label, [])
        with_extensions = [i for i in first if i.extra.get("extensions")]
        ready = [max(e["ready_ms"] for e in i.extra["extensions"]) for i in with_extensions]
        registration = [i.extra["extension_registration_ms"] for i in with_extensions]
        runtime_init = [i.extra["runtime_init_ms"] for i in with_extensions]
        post = [i.extra["extension_post_runtime_ms"] for i in rest
                if "extension_post_runtime_ms" in i.extra]
        print(f"| {label} | {len(first)} | {p50([i.init_ms for i in first])} | "
              f"{p50(registration)} | {p50(runtime_init)} | {p50(ready)} | {len(rest)} | "
              f"{p50([i.duration_ms for i in rest])} | {p50(post)} | {errors.get(label, 0)} |")

if __name__ == "__main__":
    main()
