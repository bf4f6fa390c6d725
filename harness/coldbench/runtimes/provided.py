"""provided: a function that brings its own runtime, as Lambda's OS-only runtimes
``provided.al2023`` and ``provided.al2`` run it (AWS Lambda Developer Guide, "Building a
custom runtime for AWS Lambda" and "When to use Lambda's OS-only runtimes").

The function is a folder or a .zip (as it is deployed) whose root holds an executable
named ``bootstrap``, in any language: a shell script, a Go or Rust binary built elsewhere,
Bun or LLRT with a Runtime API loop. Nothing is built: the folder is copied, the zip
extracted with its files' modes, into the task root. As on Lambda, the runtime is the task root's ``bootstrap``, started in the task
root with the variables the custom runtime guide says a runtime reads at init:
``_HANDLER`` (the handler of the function's configuration, for the bootstrap to make sense
of), ``LAMBDA_TASK_ROOT`` and ``AWS_LAMBDA_RUNTIME_API``; from then on it talks to the
Runtime API. (On Lambda a layer may bring the bootstrap instead, at /opt/bootstrap.)

Its built-in function (functions/provided/) is a bash bootstrap that speaks the Runtime
API with curl and answers with the contract of functions/README.md.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

from coldbench.errors import UsageError
from coldbench.runtimes.base import ImageRecipe, LambdaImage, Launch, Runtime

BOOTSTRAP = "bootstrap"


def check_bootstrap(task_root: Path, source: Path) -> None:
    """UsageError unless ``task_root`` holds an executable ``bootstrap`` file."""
    bootstrap = task_root / BOOTSTRAP
    if not bootstrap.is_file():
        raise UsageError(f"provided: {source} has no file named bootstrap at its root: "
                         "Lambda's provided.al2023 runtime starts LAMBDA_TASK_ROOT/bootstrap")
    if not os.access(bootstrap, os.X_OK):
        raise UsageError(f"provided: {source}/bootstrap is not executable: chmod +x it "
                         "(in a zip, its mode must say so, as Lambda reads it)")


def extract(archive: Path, out: Path) -> None:
    """Extract a deployment package with each file's mode, as Lambda does."""
    try:
        with zipfile.ZipFile(archive) as package:
            for member in package.infolist():
                path = Path(package.extract(member, out))
                mode = member.external_attr >> 16
                if mode and not member.is_dir():
                    path.chmod(stat.S_IMODE(mode))
    except zipfile.BadZipFile:
        raise UsageError(f"provided: {archive} is not a zip file") from None


class Provided(Runtime):
    name = "provided"
    default_handler = "bootstrap"
    lambda_runtime = "provided.al2023"
    # not in `--runtimes all`: a runtime of no one language, measured when asked for
    in_all = False
    # predicted from the smallest function on provided.al2023 whose figure is published,
    # Rust's, as the validation's go-on-provided case is (docs/fidelity.md)
    anchored_on = "rust"
    accepts_zip = True
    image = ImageRecipe(aws_base="public.ecr.aws/lambda/provided:al2023",
                        packages=("bash", "curl"),
                        origin="the function's own bootstrap in the task root")

    def toolchain_version(self) -> str:
        return "provided (the function's own bootstrap)"

    def check_source(self, source: Path) -> None:
        if source.is_file():
            if not zipfile.is_zipfile(source):
                raise UsageError(f"provided: {source} is neither a folder nor a zip file")
            with zipfile.ZipFile(source) as package:
                try:
                    info = package.getinfo(BOOTSTRAP)
                except KeyError:
                    raise UsageError(f"provided: {source} has no file named bootstrap at its "
                                     "root: Lambda's provided.al2023 runtime starts "
                                     "LAMBDA_TASK_ROOT/bootstrap") from None
                if not (info.external_attr >> 16) & 0o111:
                    raise UsageError(f"provided: bootstrap in {source} is not executable: "
                                     "zip it with its mode (chmod +x, then zip)")
        else:
            check_bootstrap(source, source)

    def build(self, source: Path, out: Path) -> None:
        self.check_source(source)
        if source.is_file():
            extract(source, out)
        else:
            shutil.copytree(source, out, dirs_exist_ok=True, symlinks=True,
                            ignore=shutil.ignore_patterns(*self.ignored_dirs))
        check_bootstrap(out, source)

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        # provided.al2023 starts the task root's bootstrap; _HANDLER is the bootstrap's to read
        return Launch(argv=[str(task_root / BOOTSTRAP)])

    def lambda_package(self, artifact, architecture: str, lambda_runtime: str,
                       out: Path) -> None:
        # the deployment package as it was given: bootstrap (executable) at the root
        shutil.copytree(artifact.task_root, out, dirs_exist_ok=True, symlinks=True)

    def lambda_image(self, lambda_runtime: str) -> LambdaImage:
        return LambdaImage.os_only(lambda_runtime)
