"""How well a local run predicts AWS Lambda's Init Duration: the prediction model
(``coldbench.analysis.prediction``) fitted to the published AWS figures; per runtime the
local init, the bytes init read, AWS's p50, the prediction of the fit on all runtimes and
of the fit without that runtime (leave-one-runtime-out), with their errors.

Run: .venv/bin/python benchmarks/fidelity.py [--cold 20] [--results run.json] [--write]

Without --results it measures first, as the shipped calibration was measured::

    coldbench run --runtimes all --memory 128 --cold 20 --warm 0 --provisioned 0 \\
        --delivery lambda --output fidelity-run.json

(128 MB, as the published figures are; zip and x86_64 on their side.) The table it prints is
the one docs/fidelity.md holds; --write makes the fit the calibration coldbench ships
(harness/coldbench/data/calibration-*.json). ``coldbench calibrate RUN`` makes the same fit
for a user, from a run of their own. Nothing here fails: it prints.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from coldbench.analysis import prediction
from coldbench.render import calibration as calibration_table
from coldbench.results.schema import load

ROOT = Path(__file__).resolve().parents[1]
MEMORY_MB = 128


def measure(cold: int, output: Path) -> None:
    subprocess.run([sys.executable, "-m", "coldbench", "run", "--runtimes", "all",
                    "--memory", str(MEMORY_MB), "--cold", str(cold), "--warm", "0",
                    "--provisioned", "0", "--delivery", "lambda", "--output", str(output),
                    "--force", "--quiet"], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=20, help="cold samples per runtime")
    parser.add_argument("--results", type=Path, help="a local run to use instead of measuring")
    parser.add_argument("--write", action="store_true",
                        help="make the fit the calibration coldbench ships")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.results or Path(folder) / "fidelity-run.json"
        if args.results is None:
            measure(args.cold, path)
        local = load(path)
    points = prediction.points_from_published(local, prediction.published_figures(), MEMORY_MB)
    calibration = prediction.fit_runs(points, local, prediction.PUBLISHED_SOURCE)
    print(f"{prediction.MODEL}\n  cpu_factor = {calibration.cpu_factor:.3f}, "
          f"ms_per_mb = {calibration.ms_per_mb:.2f}\n")
    print(calibration_table.markdown_table(calibration))
    print(f"stated error: +-{calibration.error_pct:.0f}% (root mean square of the "
          "leave-one-runtime-out errors)")
    if args.write:
        out = ROOT / "harness" / "coldbench" / "data" / prediction.DEFAULT_FILE
        prediction.save(calibration, out)
        print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
