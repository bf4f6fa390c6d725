"""A shell-script runtime for coldbench: a custom runtime on Lambda's ``provided.al2023``,
built as AWS's tutorial on custom runtimes builds one. The task root holds the runtime, a
``bootstrap`` shell script that loops on the Runtime API with curl, beside the function's
own scripts; the handler ``function.handler`` is the shell function ``handler`` in
``function.sh``. Registered by one entry point (``coldbench.runtimes``: ``shell``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from coldbench.errors import BuildError
from coldbench.runtimes.base import ImageRecipe, Launch, Runtime

HERE = Path(__file__).resolve().parent
HINT = "install bash and curl"


class Shell(Runtime):
    name = "shell"
    default_handler = "function.handler"
    lambda_runtime = "provided.al2023"
    probe = "coldbench_shell.probe"      # its own profile probe, which the plug-in brings
    # no row of the documented comparison nor of AWS's published Init Duration stands for it
    image = ImageRecipe(aws_base="public.ecr.aws/lambda/provided:al2023",
                        packages=("curl",), version="bash -c 'echo bash $BASH_VERSION'",
                        origin="Debian's bash and curl; the task root's bootstrap")
    build_version = "1"

    @property
    def function_dir(self) -> Path:
        return HERE / "function"

    def toolchain_version(self) -> str:
        bash = self.require("bash", HINT)
        curl = self.require("curl", HINT)
        bash_version = self.run_tool([bash, "-c", "echo $BASH_VERSION"], cwd=Path("/")).strip()
        curl_version = self.run_tool([curl, "--version"], cwd=Path("/")).split()[1]
        return f"bash {bash_version}, curl {curl_version}"

    def build(self, source: Path, out: Path) -> None:
        if not any(source.glob("*.sh")):
            raise BuildError(f"shell: {source} has no .sh script for the handler")
        shutil.copytree(source, out, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*self.ignored_dirs))
        shutil.copy2(HERE / "bootstrap", out / "bootstrap")
        (out / "bootstrap").chmod(0o755)

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        # provided.al2023 starts the task root's bootstrap, which reads _HANDLER
        return Launch(argv=[str(task_root / "bootstrap")])

    def lambda_package(self, artifact, architecture: str, lambda_runtime: str,
                       out: Path) -> None:
        # the tutorial's zip: bootstrap (executable) and the function's scripts at the root;
        # a script runs on either architecture
        shutil.copytree(artifact.task_root, out, dirs_exist_ok=True)
        (out / "bootstrap").chmod(0o755)
