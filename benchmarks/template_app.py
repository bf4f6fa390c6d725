"""An app of 20 functions in one SAM template, measured with `coldbench run --template`:
how long the whole run takes, builds cached.

Run: .venv/bin/python benchmarks/template_app.py [--functions 20] [--cold 10] [--warm 10]

It writes a SAM template into a temporary folder: half the functions are Python (python3.12,
each its own folder, as a team's functions are), half Go on provided.al2023 (BuildMethod
go1.x), at memory sizes 128..1024 MB as a real app spreads them. A first run builds what is
missing (not timed); the second, timed, is the figure: `coldbench run --template
template.yaml --cold 10 --warm 10 --provisioned 0`, every function a row, configurations
interleaved. The folders are named after the function, so a second benchmark finds its
builds in coldbench's cache. Figures vary with the machine; nothing here fails.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = (128, 256, 512, 1024)
PYTHON = '''import os

INITIALIZATION_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    return {"cold": invocations == 1 and INITIALIZATION_TYPE != "provisioned-concurrency",
            "invocation": invocations, "name": os.environ["NAME"]}
'''


def write_app(folder: Path, count: int) -> Path:
    resources = []
    go_source = ROOT / "examples" / "sam-app" / "inventory"
    for index in range(count):
        language = "python" if index % 2 == 0 else "go"
        name = f"{language.title()}{index:02d}"
        code = folder / name.lower()
        if language == "python":
            code.mkdir()
            (code / "app.py").write_text(PYTHON)
            runtime, handler, metadata = "python3.12", "app.handler", ""
        else:
            shutil.copytree(go_source, code)
            runtime, handler = "provided.al2023", "bootstrap"
            metadata = "    Metadata:\n      BuildMethod: go1.x\n"
        resources.append(f"""  {name}:
    Type: AWS::Serverless::Function
{metadata}    Properties:
      CodeUri: {code.name}/
      Handler: {handler}
      Runtime: {runtime}
      MemorySize: {SIZES[index // 2 % len(SIZES)]}
      Environment:
        Variables:
          NAME: {name}
""")
    path = folder / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function:\n"
                    "    Timeout: 10\nResources:\n" + "".join(resources))
    return path


def coldbench(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coldbench", *map(str, args)],
                          capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=20)
    parser.add_argument("--cold", type=int, default=10)
    parser.add_argument("--warm", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.gettempdir()) / f"coldbench-template-app-{args.functions}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        template = write_app(folder, args.functions)
        started = time.monotonic()
        built = coldbench("build", "--template", template)
        if built.returncode != 0:
            sys.exit(built.stderr)
        print(f"build (first time, or from the cache): {time.monotonic() - started:.1f} s")
        command = ["run", "--template", template, "--cold", args.cold, "--warm", args.warm,
                   "--provisioned", "0", "--quiet", "--format", "markdown"]
        started = time.monotonic()
        measured = coldbench(*command)
        elapsed = time.monotonic() - started
        print(measured.stdout)
        print(f"coldbench {' '.join(map(str, command))}: exit {measured.returncode}, "
              f"{elapsed:.1f} s for {args.functions} functions "
              f"({args.functions * (args.cold + args.warm)} samples)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
