"""Go, through AWS's library ``github.com/aws/aws-lambda-go``.

A function is a Go module (or a main package inside one) that calls ``lambda.Start``.
It is built the way AWS documents for the ``provided.al2023`` runtime: one static
executable named ``bootstrap``, which Lambda starts as the whole runtime.
"""

from __future__ import annotations

import os
from pathlib import Path

from coldbench.errors import BuildError
from coldbench.runtimes.base import Launch, Runtime

HINT = "install Go 1.26 or newer"


class Go(Runtime):
    name = "go"
    default_handler = "bootstrap"
    documented_as = "Rust / Go"
    lambda_runtime = "provided.al2023"
    build_version = "1"

    def toolchain_version(self) -> str:
        go = self.require("go", HINT)
        # e.g. "go1.26.8", as runtime.Version() reports it. Asked outside any module, so
        # that no go.mod's toolchain line switches the answer (GOTOOLCHAIN=auto).
        return self.run_tool([go, "env", "GOVERSION"], cwd=Path("/")).strip()

    def build(self, source: Path, out: Path) -> None:
        go = self.require("go", HINT)
        if not (source / "go.mod").is_file() and not list(source.glob("*.go")):
            raise BuildError(f"go: {source} has no go.mod and no .go file")
        # lambda.norpc leaves out the RPC mode of the go1.x runtime, which provided.al2023
        # never uses; without cgo the binary needs no libc. go build writes only to -o
        # and to Go's own caches, and fails rather than edit go.mod or go.sum.
        env = dict(os.environ, CGO_ENABLED="0", GOOS="linux")
        self.run_tool([go, "build", "-tags", "lambda.norpc", "-trimpath",
                       "-o", str(out / "bootstrap"), "."], cwd=source, env=env)

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        # provided.al2023 starts the task root's bootstrap; _HANDLER is the function's to read.
        return Launch(argv=[str(task_root / "bootstrap")])
