"""Build the third-party layers of the README's "What layers cost" from their public
packages, pinned, into folders ``coldbench run --layer`` takes:

- ``datadog``: Datadog's in-process Python library, ``datadog-lambda`` with ``ddtrace``, laid
  out as its layer is (``python/lib/python3.X/site-packages``); its setup gives the function
  the handler ``datadog_lambda.handler.handler`` and ``DD_LAMBDA_HANDLER`` its own;
- ``otel``: OpenTelemetry's Python auto-instrumentation as the OpenTelemetry Lambda layer
  packs it (``opentelemetry-distro``, the OTLP exporter and the instrumentations of its
  requirements, in ``python/``), with the two files the layer adds: ``otel_wrapper.py`` and
  the exec wrapper ``otel-instrument`` (``AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument``);
- ``powertools``: AWS Lambda Powertools for Python (``python/``).

Each layer is built for the Python the function runs (``--runtime python``: the documented
row's version; ``--lambda-runtime python3.13`` for another), by that interpreter's own pip, as
a layer's compiled parts (ddtrace's) and bytecode are made for one Python version.

Run: .venv/bin/python examples/layers/build.py OUT_DIR [--lambda-runtime python3.X]
     (needs pip and the package index)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from coldbench import runtimes, toolchains

HERE = Path(__file__).resolve().parent

DATADOG = ["datadog-lambda==8.130.0", "ddtrace==4.16.0"]
# The OpenTelemetry Lambda layer's Python requirements (open-telemetry/opentelemetry-lambda,
# python/src/otel/otel_sdk/requirements.txt and nodeps-requirements.txt, 2026-08), the
# versions it pins. botocore is kept: on Lambda the runtime
# brings it (the layer leaves it out), and the botocore instrumentation loads only when it
# is importable.
OTEL_SDK, OTEL_CONTRIB = "1.44.0", "0.65b0"
OTEL = [f"opentelemetry-sdk=={OTEL_SDK}", f"opentelemetry-exporter-otlp-proto-http=={OTEL_SDK}",
        f"opentelemetry-distro=={OTEL_CONTRIB}", f"opentelemetry-instrumentation=={OTEL_CONTRIB}",
        f"opentelemetry-semantic-conventions=={OTEL_CONTRIB}",
        "opentelemetry-propagator-aws-xray==1.0.2", "boto3==1.43.11"]
OTEL_NODEPS = [f"opentelemetry-instrumentation-{name}=={OTEL_CONTRIB}" for name in (
    "aws-lambda", "botocore", "aiohttp-client", "asgi", "asyncpg", "boto3sqs", "celery",
    "dbapi", "django", "fastapi", "falcon", "flask", "grpc", "jinja2", "mysql", "psycopg2",
    "pymemcache", "pymongo", "pymysql", "pyramid", "redis", "requests", "sqlalchemy",
    "sqlite3", "starlette", "tornado", "wsgi")] + [f"opentelemetry-util-http=={OTEL_CONTRIB}"]
POWERTOOLS = ["aws-lambda-powertools[tracer]==3.37.0"]


PYTHON = ""          # the interpreter the layers are built for (set in main)


def pip(target: Path, packages: list[str], *flags: str) -> None:
    subprocess.run([PYTHON, "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "--no-compile", "--target", str(target),
                    *flags, *packages], check=True)


def compile_all(folder: Path) -> None:
    # as the function's own code is: compiled once, not in every cold start
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(folder)], check=False)


def datadog(folder: Path) -> None:
    version = subprocess.run([PYTHON, "-S", "-c",
                              "import sys; print(*sys.version_info[:2], sep='.')"],
                             capture_output=True, text=True, check=True).stdout.strip()
    pip(folder / "python" / "lib" / f"python{version}" / "site-packages", DATADOG)


def otel(folder: Path) -> None:
    pip(folder / "python", OTEL)
    # into a folder of their own first, then merged: pip --target does not add to the
    # `opentelemetry` namespace folder the first install made (the layer's build does so too)
    pip(folder / "nodeps", OTEL_NODEPS, "--no-deps")
    shutil.copytree(folder / "nodeps", folder / "python", dirs_exist_ok=True)
    shutil.rmtree(folder / "nodeps")
    shutil.copy(HERE / "otel" / "otel_wrapper.py", folder / "python" / "otel_wrapper.py")
    shutil.copy(HERE / "otel" / "otel-instrument", folder / "otel-instrument")
    (folder / "otel-instrument").chmod(0o755)


def powertools(folder: Path) -> None:
    pip(folder / "python", POWERTOOLS)


def build(out: Path) -> None:
    """Each layer into OUT/<name>, unless it is there (a folder is made whole or not)."""
    for name, make in (("datadog", datadog), ("otel", otel), ("powertools", powertools)):
        if (out / name).is_dir():
            continue
        staging = out / f".{name}-building"
        shutil.rmtree(staging, ignore_errors=True)
        make(staging)
        compile_all(staging)
        staging.rename(out / name)
    for name in ("datadog", "otel", "powertools"):
        size = sum(p.stat().st_size for p in (out / name).rglob("*") if p.is_file())
        print(f"{name:<11} {size / 1e6:6.1f} MB  {out / name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Build the example layers.")
    parser.add_argument("out", type=Path, help="the folder the layers are built into")
    parser.add_argument("--lambda-runtime", default=runtimes.get("python").lambda_runtime,
                        help="the Python the layers are for (default: %(default)s)")
    arguments = parser.parse_args()
    PYTHON = toolchains.python(arguments.lambda_runtime)
    build(arguments.out.resolve())
