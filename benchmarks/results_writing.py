"""What keeping the results file costs: samples written through ``ResultsWriter`` as a run
writes them, one at a time, then the document completed at the end of the run.

Run: .venv/bin/python benchmarks/results_writing.py [--samples 10000]

Each sample carries the fields an AWS sample has (the largest kind). The cost of a sample
must not grow with the samples written before it: the first and the last thousand take
about as long. Figures vary with the machine and its disk; nothing here fails.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from coldbench.model import Variant
from coldbench.results.schema import ResultsWriter, Sample, load


def sample(k: int) -> Sample:
    return Sample(runtime="python", memory_mb=1769, mode="cold" if k % 3 == 0 else "warm",
                  init_ms=131.27 + k % 17 if k % 3 == 0 else None, duration_ms=15.74 + k % 7,
                  e2e_ms=180.2 + k % 11, billed_ms=148.0, max_memory_mb=56.0, cold=k % 3 == 0,
                  error=None, instance_id=f"{k:016x}", invocation=k % 3 + 1,
                  variant=Variant(architecture="arm64", snapstart=True),
                  extra={"architecture": "arm64",
                         "function_name": "coldbench-0a1b2c3d-python-1769-arm64-s-c1",
                         "executed_version": "12", "billed_duration_ms": 148.0,
                         "request_id": "8f507cfc-xmpl-4697-b07a-ac58fc914c95",
                         "memory_size_mb": 1769, "report_cold": k % 3 == 0})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    count = parser.parse_args().samples
    samples = [sample(k) for k in range(count)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.json"
        writer = ResultsWriter(path, run={"target": "aws", "completed": False})
        laps, started = [], time.perf_counter()
        for k, s in enumerate(samples):
            writer.add(s)
            if (k + 1) % 1000 == 0:
                laps.append(time.perf_counter())
        added = time.perf_counter()
        writer.results.run["completed"] = True
        writer.close()
        total = time.perf_counter() - started
        size = path.stat().st_size
        assert len(load(path).samples) == count
    per_thousand = [b - a for a, b in zip([started, *laps], laps)]
    print(f"{count} samples: {total:.3f} s in total ({added - started:.3f} s appending, "
          f"{total - (added - started):.3f} s completing the document; "
          f"{(added - started) / count * 1e6:.1f} us a sample; file {size / 1e6:.1f} MB)")
    if len(per_thousand) >= 2:
        print(f"first 1000 samples {per_thousand[0]:.3f} s, last 1000 {per_thousand[-1]:.3f} s")


if __name__ == "__main__":
    main()
