"""Published figures that measurements are read against.

- ``documented.csv``: the documented runtime comparison (a design guide's table).
- ``aws-lambda-init-duration-2026-08.csv``: Init Duration on real AWS Lambda from the public
  daily benchmark maxday/lambda-perf (data/last.json, 2026-08-22; p50 over 2026-07-23..08-22);
  the hello function's figure a prediction is anchored on (``hello_init_ms``) is read in
  ``coldbench.calibration``, where a run predicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from coldbench.calibration import AWS_INIT_FILE, AWS_INIT_SOURCE, data_rows, hello_init_ms
from coldbench.runtimes import find

__all__ = ["AWS_INIT_SOURCE", "Documented", "aws_init_ms", "documented", "hello_init_ms",
           "verdict"]


@dataclass(frozen=True)
class Documented:
    row: str
    cold_low_ms: float
    cold_high_ms: float
    warm_low_ms: float
    warm_high_ms: float


@cache
def documented() -> dict[str, Documented]:
    return {r["row"]: Documented(r["row"], *(float(r[k]) for k in list(r)[1:]))
            for r in data_rows("documented.csv")}


@cache
def aws_init_ms(runtime: str, lambda_runtime: str | None = None) -> tuple[float, str] | None:
    """Init Duration on AWS Lambda for a runtime: (ms, what the figure is), or None. The
    row that stands for a runtime is the runtime's to say (``Runtime.aws_init_row``);
    given the Lambda identifier a run deployed (``lambda_runtime``), it is that identifier's
    row ("nodejs22.x", or "go (provided.al2023)" where runtimes share one), or none."""
    registered = find(runtime)
    if lambda_runtime is not None:
        wanted = {lambda_runtime, f"{runtime} ({lambda_runtime})"}
    else:
        wanted = {registered.aws_init_row} if registered and registered.aws_init_row else set()
    if not wanted:
        return None
    for row in data_rows(AWS_INIT_FILE):
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

