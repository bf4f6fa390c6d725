"""The commands that read kept runs: compare, cost, publish and history. Like cli.py, they
parse, call the core and print; ``register`` adds them to the `coldbench` group.

A RUN argument is a results file, or a run in the history (``--history``, default
``results/``, or $COLDBENCH_HISTORY): ``latest``, ``latest~N`` (N runs before the latest)
or a run id (a unique prefix will do).
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import click

from coldbench import files
from coldbench.analysis import compare as comparing, cost as costing
from coldbench.cli.common import comparison_options, history_option
from coldbench.errors import EXIT_OK, EXIT_REGRESSION, UsageError
from coldbench.prices import ARCHES, HOURS_PER_MONTH
from coldbench.render import calibration as calibration_table
from coldbench.render import compare as comparison_table
from coldbench.render import cost as cost_tables
from coldbench.results.schema import MODES



def parse_share(text: str, name: str) -> float:
    """A share: '10%' -> 0.10; without '%', up to 1 is a fraction ('0.1', '1') and above 1
    a percentage ('10')."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", str(text))
    if not match:
        raise UsageError(f"{name} '{text}' is not a percentage such as 10%")
    value = float(match.group(1))
    return value / 100 if match.group(2) or value > 1 else value


def parse_count(text: str) -> float:
    """'250000', '2.5M', '10k', '1B' -> a number."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMbB]?)\s*", str(text))
    if not match:
        raise UsageError(f"--requests-per-month '{text}' is not a number such as 2500000 or 2.5M")
    scale = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9}[match.group(2).lower()]
    return float(match.group(1)) * scale


def open_results(ref: str, history_dir: Path, target: str | None = None):
    """A results file or a run of the history, as (path, results); what could not be read
    of a file still being written (``Results.incomplete``) is said on stderr."""
    from coldbench.analysis.history import open_run

    path, results = open_run(ref, history_dir, target)
    if results.incomplete:
        click.echo(f"warning: {results.incomplete}", err=True)
    return path, results



@click.command()
@click.argument("base_ref", metavar="BASE")
@click.argument("new_ref", metavar="NEW")
@comparison_options
@click.option("--allow-different", "allow", multiple=True,
              type=click.Choice(comparing.IDENTITY),
              help="Compare even where this differs (repeatable): code for a pull request "
                   "that changes the function.")
@click.option("--target", help="Narrow latest and latest~N to one target (default: the "
                               "target of the other run when that one is a file).")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(comparison_table.FORMATS))
@history_option()
def compare(base_ref, new_ref, min_change, alpha, modes, allow, target, fmt, history_dir):
    """Is NEW slower than BASE? Per configuration: ratio of medians, Mann-Whitney U.

    Exit status 3 when any configuration is significantly slower by at least --min-change.
    """
    from coldbench.results.schema import load

    wanted = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in MODES]
    if unknown or not wanted:
        raise UsageError(f"--mode {modes}: choose from {', '.join(MODES)}")
    if not 0 < alpha < 1:
        raise UsageError("--alpha must be between 0 and 1")
    change = parse_share(min_change, "--min-change")
    if target is None:          # a run against the history: latest of the file's target
        for ref in (new_ref, base_ref):
            if Path(ref).is_file():
                target = load(Path(ref)).run.get("target")
                break
    base_path, base = open_results(base_ref, history_dir, target)
    new_path, new = open_results(new_ref, history_dir, target)
    click.echo(f"base: {base.run.get('run_id') or base_path} ({base_path})", err=True)
    click.echo(f"new:  {new.run.get('run_id') or new_path} ({new_path})", err=True)
    found = comparing.compare(base, new, change, alpha, wanted, allow)
    click.echo(comparison_table.render(found, fmt, change, alpha), nl=False)
    if not any(c.result is not None for c in found):
        raise UsageError("nothing was compared: no configuration is in both runs with valid "
                         "samples and the same code, event, runtime version, target and CPU "
                         "(see --allow-different)")
    sys.exit(EXIT_REGRESSION if any(c.regression for c in found) else EXIT_OK)


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--requests-per-month", required=True,
              help="The load: requests a month, e.g. 2500000 or 2.5M.")
@click.option("--duty-cycle", default="100%", show_default=True,
              help="Share of the month in which the requests arrive (business hours: 24%).")
@click.option("--cold-fraction", default=f"{costing.COLD_FRACTION:.0%}", show_default=True,
              help="Share of requests that start cold on Lambda.")
@click.option("--max-busy", default=f"{costing.MAX_BUSY:.0%}", show_default=True,
              help="Busiest a container or VM may be; more load adds hosts.")
@click.option("--arch", "arches", default=",".join(ARCHES), show_default=True,
              help="Lambda and host architectures to price.")
@click.option("--provisioned", default=0, show_default=True, type=int,
              help="Environments of provisioned concurrency kept in the hours with traffic.")
@click.option("--snapstart-hours", default=HOURS_PER_MONTH, show_default=True,
              type=float, help="Hours a month a SnapStart snapshot is cached (configurations "
                               "measured with SnapStart, Python and .NET).")
@click.option("--image-size", type=float,
              help="MB (1,024 to a GB) of a container image kept in ECR per configuration: "
                   "price every configuration as an image (default: image packages only, at "
                   "the sizes the run recorded).")
@click.option("--prices", help="Price table: YYYY-MM of a shipped one, or a CSV file "
                               "(default: the newest shipped).")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(cost_tables.FORMATS))
@history_option()
def cost(run_ref, requests_per_month, duty_cycle, cold_fraction, max_busy, arches,
         provisioned, snapstart_hours, image_size, prices, fmt, history_dir):
    """Monthly cost on Lambda, every charge itemised, against a container and a VM, and
    where they cross over."""
    from coldbench import prices as price_tables

    wanted = tuple(a.strip() for a in arches.split(",") if a.strip())
    if not wanted or any(a not in ARCHES for a in wanted):
        raise UsageError(f"--arch {arches}: choose from {', '.join(ARCHES)}")
    workload = costing.Workload(parse_count(requests_per_month),
                                parse_share(duty_cycle, "--duty-cycle"),
                                parse_share(cold_fraction, "--cold-fraction"),
                                parse_share(max_busy, "--max-busy"), provisioned,
                                snapstart_hours)
    workload.check()
    if image_size is not None and not (math.isfinite(image_size) and image_size > 0):
        raise UsageError("--image-size is the image's size in MB: more than 0")
    table = price_tables.load(prices)
    _, results = open_results(run_ref, history_dir, None)
    measured = costing.measured(results.samples, table, costing.image_sizes(results.run),
                                None if image_size is None else image_size / 1024)
    if not measured:
        raise UsageError(f"{run_ref}: no configuration has valid warm samples to price; "
                         "run with --warm 10 or more")
    click.echo(cost_tables.render(costing.costs(measured, table, workload, wanted), table,
                              workload, fmt, regions_of(results)), nl=False)


def regions_of(results) -> tuple[str, ...]:
    """The AWS regions a run measured in (none for other targets)."""
    from coldbench.results.schema import region_of

    return tuple(sorted({r for s in results.samples for r in [region_of(s, results.run)] if r}))


@click.command()
@click.argument("site_dir", type=click.Path(path_type=Path))
@click.option("--min-change", default=f"{comparing.MIN_CHANGE:.0%}", show_default=True,
              help="Smallest change between consecutive runs marked as a step.")
@click.option("--force", is_flag=True,
              help="Write into SITE even if it holds files other than a site published before.")
@history_option()
def publish(site_dir, min_change, force, history_dir):
    """Write a static site from the history: latest table, trends, JSON."""
    from coldbench.analysis.history import History
    from coldbench.render.publish import publish as publishing

    written = publishing(History(history_dir), site_dir, parse_share(min_change, "--min-change"),
                         force=force)
    for path in written.values():
        click.echo(str(path))


@click.group(invoke_without_command=True)
@click.pass_context
@history_option("The history folder.")
def history(context, history_dir):
    """List the runs kept in the history (subcommands: add, reindex)."""
    context.obj = history_dir
    if context.invoked_subcommand is None:
        from coldbench.analysis.history import History

        runs = History(history_dir).runs()
        for run in runs:
            click.echo(f"{run['run_id']}  {run['target'] or '?':<7} {run['host'] or '?'}  "
                       f"{run['cpu'] or '?'}")
        if not runs:
            click.echo(f"no runs in {history_dir}", err=True)


@history.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_obj
def history_add(history_dir, files):
    """Keep finished results files in the history (a run already kept is left as it is)."""
    from coldbench.analysis.history import History

    store = History(history_dir)
    for path in files:
        added = store.add(path)
        said = ("added" if added.new else
                "replaced its damaged copy" if added.replaced else "already kept")
        click.echo(f"{added.run_id}  {said}")


@history.command("reindex")
@click.pass_obj
def history_reindex(history_dir):
    """Rebuild index.csv from the kept run files."""
    from coldbench.analysis.history import History

    click.echo(f"{History(history_dir).reindex()} runs indexed")


@click.command()
@click.argument("local_ref", metavar="LOCAL_RUN")
@click.argument("aws_ref", metavar="[AWS_RUN]", required=False)
@click.option("--output", type=click.Path(path_type=Path),
              help="Write the calibration here (JSON), for coldbench run --calibration.")
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@history_option()
def calibrate(local_ref, aws_ref, output, force, history_dir):
    """Fit the prediction of AWS's Init Duration to a local run (--delivery lambda) and
    AWS_RUN, the same functions, runtimes and memory sizes measured with --target aws;
    without AWS_RUN, to the published AWS figures (the built-in functions at 128 MB, as
    the shipped calibration is made, but on this machine). Prints the fit and its errors;
    exit 2 if the runs do not match."""
    from coldbench.analysis import prediction

    (output,) = click.get_current_context().with_resource(   # held until the command ends
        files.writing(("--output", output), force=force))
    _, local = open_results(local_ref, history_dir, None)
    if aws_ref is None:
        points = prediction.points_from_published(local, prediction.published_figures())
        aws_source = prediction.PUBLISHED_SOURCE
    else:
        _, aws = open_results(aws_ref, history_dir, None)
        points = prediction.points_from_runs(local, aws)
        aws_source = (f"coldbench run --target aws, run {aws.run.get('run_id', '?')} "
                      f"({aws.run.get('region', '?')})")
    calibration = prediction.fit_runs(points, local, aws_source)
    click.echo(f"{prediction.MODEL}\n  cpu_factor = {calibration.cpu_factor:.3f}, "
               f"ms_per_mb = {calibration.ms_per_mb:.2f}, fitted on {len(points)} "
               "configurations\n")
    click.echo(calibration_table.markdown_table(calibration))
    if calibration.error_pct is not None:
        click.echo(f"stated error of a prediction: +-{calibration.error_pct:.0f}% (root mean "
                   "square of the leave-one-runtime-out errors)")
    if output is not None:
        prediction.save(calibration, output)
        click.echo(f"written to {output}; use it with coldbench run --calibration {output}",
                   err=True)


def register(group: click.Group) -> None:
    for command in (compare, cost, publish, history, calibrate):
        group.add_command(command)
