"""Local process or container, coldbench's Runtime API or AWS's emulator: what each costs.

Run (as root, with a Docker engine answering):
    .venv/bin/python benchmarks/control_planes.py [--runtimes all] [--memory 1024]
        [--rounds 10] [--warm 10] [--images local] [--output DIR]

The same built functions under four setups, interleaved round by round (A B C D A B C D
...) so that drift on a busy machine hits all of them alike:
  local  / coldbench   a runtime process and coldbench's Runtime API  (coldbench run)
  local  / rie         the same process under AWS's emulator         (--api rie)
  docker / coldbench   a container per environment                    (--target docker)
  docker / rie         a container as AWS's images run it            (--target docker --api rie)
Each round takes one cold sample and then --warm warm samples per runtime and setup. Every
setup's samples are written to --output as a coldbench results file (``coldbench report``
renders one). Prints one markdown table: per runtime and setup, p50 of the cold start
(Init Duration + Duration; under the emulator the first invocation as its client saw it,
init folded in), of Init Duration where coldbench clocks it, of warm invocations, of what
the caller waited for a cold start (e2e: creating the environment included), and of the
container start (create requested -> start returned).

Figures vary with the machine; this is a benchmark, not a test: nothing here fails.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from coldbench.workflows import options as runner
from coldbench.workflows import run as running
from coldbench.build import build
from coldbench.measure.modes import Config, Measurement, Plan
from coldbench.results.schema import ResultsWriter
from coldbench.analysis.stats import summarize
from coldbench.analysis.summary import summarize_samples
from coldbench.targets.docker.target import DockerTarget
from coldbench.targets.local.target import LocalTarget

SETUPS = [("local", "coldbench"), ("local", "rie"), ("docker", "coldbench"), ("docker", "rie")]


def ms(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def p50(summary) -> str:
    return f"{ms(summary.p50)}" if summary else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtimes", default="all")
    parser.add_argument("--memory", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--images", default="local", choices=["local", "aws"])
    parser.add_argument("--output", type=Path, default=Path("results/control-planes"))
    args = parser.parse_args()

    runtime_names = runner.parse_runtimes(args.runtimes)
    base = runner.RunOptions(runtimes=runtime_names, memory=[args.memory], cold=args.rounds,
                             warm=args.rounds * args.warm, provisioned=0, timeout_s=120)
    artifacts = [build(function) for function in runner.functions(base)]
    configs = [Config(artifact, args.memory) for artifact in artifacts]
    round_plan = Plan(cold=1, warm=args.warm, provisioned=0, event=base.plan().event)
    args.output.mkdir(parents=True, exist_ok=True)

    targets, writers = {}, {}
    try:
        for where, api in SETUPS:
            if where == "local":
                target = LocalTarget(timeout_s=base.timeout_s, api=api)
            else:
                target = DockerTarget(timeout_s=base.timeout_s, api=api,
                                      images_kind=args.images)
            targets[where, api] = target
            target.prepare(configs, round_plan)
            options = runner.RunOptions(**{**vars(base), "target": where,
                                           "target_options": {"api": api}})
            writer = ResultsWriter(args.output / f"{where}-{api}.json", run={}, overwrite=True)
            writer.results.run.update(running.run_metadata(options, target,
                                                           [(None, a) for a in artifacts]))
            writers[where, api] = writer
        for round_ in range(args.rounds):
            for setup, target in targets.items():
                Measurement(target, configs, round_plan, writers[setup].add).run()
            print(f"round {round_ + 1} of {args.rounds} done", flush=True)
    finally:
        for setup, target in targets.items():
            target.close()
        for writer in writers.values():
            writer.results.run["ended_at"] = running.now_iso()
            writer.flush()

    print(f"\n{args.memory} MB, {args.rounds} cold and {args.rounds * args.warm} warm samples "
          "per runtime and setup; p50 in ms.\n")
    print("| Runtime | Target | API | Cold start | Init | Warm | Cold e2e | Container start "
          "| n cold/warm | failed |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in runtime_names:
        for (where, api), writer in writers.items():
            samples = [s for s in writer.results.samples if s.runtime == name]
            summary = summarize_samples(samples)[0]
            cold, warm = summary.modes["cold"], summary.modes["warm"]
            starts = summarize([s.extra["container_start_ms"] for s in samples
                                if s.valid and "container_start_ms" in s.extra])
            failed = sum(m.failures for m in summary.modes.values())
            print(f"| {name} | {where} | {api} | {p50(cold.figure)} | {p50(cold.init)} | "
                  f"{p50(warm.figure)} | {p50(cold.e2e)} | {p50(starts)} | "
                  f"{cold.figure.n if cold.figure else 0}/{warm.figure.n if warm.figure else 0}"
                  f" | {failed} |")


if __name__ == "__main__":
    main()
