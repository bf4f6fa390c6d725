"""Published figures that measurements are read against.

- ``documented.csv``: the documented runtime comparison (a design guide's table).
- ``aws-lambda-init-duration-2026-08.csv``: Init Duration on real AWS Lambda from the public
  daily benchmark maxday/lambda-perf (data/last.json, 2026-08-22; p50 over 2026-07-23..08-22).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

AWS_INIT_SOURCE = "maxday/lambda-perf, 2026-08-22"


@dataclass(frozen=True)
class Documented:
    row: str
    cold_low_ms: float
    cold_high_ms: float
    warm_low_ms: float
    warm_high_ms: float


def _rows(name: str) -> list[dict]:
    text = resources.files("coldbench.data").joinpath(name).read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@cache
def documented() -> dict[str, Documented]:
    return {r["row"]: Documented(r["row"], *(float(r[k]) for k in list(r)[1:]))
            for r in _rows("documented.csv")}


@cache
def aws_init_ms(runtime: str, lambda_runtime: str | None = None) -> tuple[float, str] | None:
    """Init Duration on AWS Lambda for a runtime: (ms, what the figure is), or None. The
    row that stands for a runtime is the runtime's to say (``Runtime.aws_init_row``);
    given the Lambda identifier a run deployed (``lambda_runtime``), it is that identifier's
    row ("nodejs22.x", or "go (provided.al2023)" where runtimes share one), or none."""
    from coldbench.runtimes import RUNTIMES
    registered = RUNTIMES.get(runtime)
    if lambda_runtime is not None:
        wanted = {lambda_runtime, f"{runtime} ({lambda_runtime})"}
    else:
        wanted = {registered.aws_init_row} if registered and registered.aws_init_row else set()
    if not wanted:
        return None
    for row in _rows("aws-lambda-init-duration-2026-08.csv"):
        if row["runtime"] in wanted:
            if row["p50_ms"]:
                return float(row["p50_ms"]), "p50"
            return float(row["zip_128_x86_64"]), "mean"
    return None


def verdict(value_ms: float, low_ms: float, high_ms: float) -> str:
    """Where a measured figure falls against a documented range."""
    if value_ms < low_ms:
        return "faster"
    if value_ms > high_ms:
        return "slower"
    return "inside"


@cache
def hello_init_ms(identifier: str, arch: str = "x86_64") -> tuple[float, str] | None:
    """The published Init Duration of the hello-world function of a Lambda identifier (a
    row of the lambda-perf file: "python3.13", "go (provided.al2023)") on ``arch``, zip,
    128 MB: (ms, "p50" or "mean"), the p50 where one is published, or None."""
    for row in _rows("aws-lambda-init-duration-2026-08.csv"):
        if row["runtime"] != identifier:
            continue
        if arch == "x86_64":
            if row["p50_ms"]:
                return float(row["p50_ms"]), "p50"
            return (float(row["zip_128_x86_64"]), "mean") if row["zip_128_x86_64"] else None
        column = row.get(f"zip_128_{arch}")
        return (float(column), "mean") if column else None
    return None
