"""Go, through AWS's library ``github.com/aws/aws-lambda-go``.

A function is a Go module (or a main package inside one) that calls ``lambda.Start``.
It is built the way AWS documents for the ``provided.al2023`` runtime: one static
executable named ``bootstrap``, which Lambda starts as the whole runtime, without the RPC
mode of aws-lambda-go and stripped (``BUILD_FLAGS``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from coldbench.errors import BuildError
from coldbench.runtimes.base import ImageRecipe, LambdaImage, Launch, Runtime
from coldbench.tools import environ, install_bootstrap

HINT = "install Go 1.26 or newer"
# As AWS documents for provided.al2023 (docs.aws.amazon.com/lambda/latest/dg/golang-package.html):
# the lambda.norpc tag leaves out the RPC mode of the go1.x runtime, which provided.al2023
# never uses. Stripped of its symbol table and DWARF (-s -w), as the public benchmark
# github.com/maxday/lambda-perf builds go_on_provided_al2023 (the coldbench function:
# 9.1 MB unstripped, 6.3 MB stripped). -trimpath keeps the build machine's paths out of
# the binary.
BUILD_FLAGS = ("-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w")
# How the bootstrap was built, in the toolchain string the results record
BUILD_NOTE = "lambda.norpc, stripped"
_GO_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


class Go(Runtime):
    name = "go"
    default_handler = "bootstrap"
    documented_as = "Rust / Go"
    lambda_runtime = "provided.al2023"
    probe = "coldbench.profile.probes.go"
    aws_init_row = "go (provided.al2023)"
    image = ImageRecipe(aws_base="public.ecr.aws/lambda/provided:al2023",
                        origin="static binary in the task root")
    build_version = "2"

    def toolchain_version(self) -> str:
        go = self.require("go", HINT)
        # e.g. "go1.26.8", as runtime.Version() reports it. Asked outside any module, so
        # that no go.mod's toolchain line switches the answer (GOTOOLCHAIN=auto).
        version = self.run_tool([go, "env", "GOVERSION"], cwd=Path("/")).strip()
        return f"{version} ({BUILD_NOTE})"

    def build(self, source: Path, out: Path) -> None:
        go = self.require("go", HINT)
        if not (source / "go.mod").is_file() and not list(source.glob("*.go")):
            raise BuildError(f"go: {source} has no go.mod and no .go file")
        # Without cgo the binary needs no libc, as aws-lambda-go's README advises for builds
        # on Linux. go build writes only to -o and to Go's own caches, and fails rather
        # than edit go.mod or go.sum.
        env = dict(os.environ, CGO_ENABLED="0", GOOS="linux")
        self.run_tool([go, "build", *BUILD_FLAGS, "-o", str(out / "bootstrap"), "."],
                      cwd=source, env=env)

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        # provided.al2023 starts the task root's bootstrap; _HANDLER is the function's to read.
        return Launch(argv=[str(task_root / "bootstrap")])

    def lambda_package(self, artifact, architecture: str, lambda_runtime: str,
                       out: Path) -> None:
        # One executable named bootstrap at the root, cross-built for the architecture
        # (Go reads its target from GOARCH) by build(), so with the same BUILD_FLAGS.
        with tempfile.TemporaryDirectory(prefix="coldbench-go-") as work:
            with environ(GOARCH=_GO_ARCH[architecture]):
                self.build(artifact.function.source, Path(work))
            install_bootstrap(Path(work) / "bootstrap", architecture, out)

    def lambda_image(self, lambda_runtime: str) -> LambdaImage:
        return LambdaImage.os_only(lambda_runtime)
