"""How well a local run predicts AWS Lambda's Init Duration, on the validation set
(``harness/coldbench/data/validation-*.csv``): functions whose AWS figure is published,
measured here with their references (the hello function of their reference runtime and the
CPU reference, in the same run); per case local init, AWS, the prediction of the anchored
model (``coldbench.analysis.prediction``), its error, whether the case is in the fit and
its out-of-fit error.

Run: .venv/bin/python benchmarks/fidelity.py [--cold 10] [--results-dir DIR] [--write]

It makes one run of the built-in functions and one per validation function folder::

    coldbench run --runtimes python,node,go,java,rust --memory 128 --cold 10 --warm 0 \\
        --provisioned 0 --output DIR/builtin.json
    coldbench run --function functions/validation/CASE --runtime RUNTIME --memory 128 \\
        --cold 10 --warm 0 --provisioned 0 --output DIR/CASE.json

(each run measures the runtime's hello function beside the function, interleaved; with
``--python-bytecode`` where the data file says how the source delivered its bytecode). With
--results-dir it reads runs already made there instead of measuring the ones it finds.
--write makes the fit the model coldbench ships (harness/coldbench/data/prediction-*.json)
and prints the table docs/fidelity.md holds. Nothing here fails: it prints.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from coldbench.analysis import prediction
from coldbench.model import BUILTIN_FUNCTION
from coldbench.render import calibration as calibration_table
from coldbench.results.schema import load

ROOT = Path(__file__).resolve().parents[1]
MEMORY_MB = 128
BUILTIN_RUNTIMES = "python,node,go,java,rust"


def measure(arguments: list[str], cold: int, output: Path) -> None:
    subprocess.run([sys.executable, "-m", "coldbench", "run", *arguments,
                    "--memory", str(MEMORY_MB), "--cold", str(cold), "--warm", "0",
                    "--provisioned", "0", "--output", str(output), "--force", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)


def runs_needed(rows: list[dict]) -> dict[str, list[str]]:
    """results file stem -> the run arguments that measure it."""
    needed = {"builtin": ["--runtimes", BUILTIN_RUNTIMES]}
    for row in rows:
        if not row["function"].startswith("builtin:"):
            needed[Path(row["function"]).name] = [
                "--function", str(ROOT / row["function"]), "--runtime", row["runtime"],
                *(["--python-bytecode", row["python_bytecode"]] if row["python_bytecode"]
                  else [])]
    return needed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=10, help="cold samples per function")
    parser.add_argument("--results-dir", type=Path,
                        help="where the runs are kept (and read from, if there)")
    parser.add_argument("--write", action="store_true",
                        help="make the fit the model coldbench ships")
    args = parser.parse_args()
    rows = prediction.validation_set()
    with tempfile.TemporaryDirectory() as folder:
        where = args.results_dir or Path(folder)
        where.mkdir(parents=True, exist_ok=True)
        runs = {}
        for stem, arguments in runs_needed(rows).items():
            path = where / f"{stem}.json"
            if not path.exists():
                print(f"measuring {stem} ...", file=sys.stderr)
                measure(arguments, args.cold, path)
            runs[stem] = load(path)
    cases = []
    for row in rows:
        if row["function"].startswith("builtin:"):
            results, name = runs["builtin"], BUILTIN_FUNCTION
        else:
            results, name = runs[Path(row["function"]).name], Path(row["function"]).name
        cases.append(prediction.case_from_run(row, results, name))
    builtin = runs["builtin"].run
    model = prediction.fit_anchored(
        cases, made=date.today().isoformat(),
        local_source=(f"coldbench {builtin.get('coldbench_version', '?')} on "
                      f"{builtin.get('cpu', '?')} ({builtin.get('cpus', '?')} CPUs, kernel "
                      f"{builtin.get('kernel', '?')}), {args.cold} cold samples per function, "
                      "--delivery lambda, benchmarks/fidelity.py"))
    print(f"{prediction.ANCHORED_MODEL}\n  ms_per_unit = {model.ms_per_unit:.2f}, "
          f"ms_per_mb = {model.ms_per_mb:.2f}\n")
    print(calibration_table.anchored_table(model))
    print(calibration_table.error_summary(model))
    if args.write:
        out = ROOT / "harness" / "coldbench" / "data" / prediction.ANCHORED_FILE
        prediction.save_anchored(model, out)
        print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
