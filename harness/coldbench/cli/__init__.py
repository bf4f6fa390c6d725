"""The `coldbench` command: parse, call the core, print. No measurement logic here.

Exit statuses (errors.py): 0 every configuration produced valid samples; 1 some
configuration produced none; 2 bad input or an unusable machine, nothing measured;
3 `compare` found a regression; 130 interrupted (results so far are kept).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coldbench import __version__
from coldbench.cli import aws as cli_aws
from coldbench.cli.results import register as register_result_commands
from coldbench.errors import (EXIT_FAILED_SAMPLES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE,
                              ColdbenchError, UsageError)


def fail(message: str, status: int = EXIT_USAGE):
    click.echo(f"coldbench: error: {message}", err=True)
    sys.exit(status)


def print_summary(results, fmt: str) -> int:
    """Print the table (stdout) and warnings (stderr); the exit status they call for."""
    from coldbench.analysis.summary import summarize_samples, warning_lines
    from coldbench.render.table import render

    configs = summarize_samples(results.samples)
    click.echo(render(configs, fmt), nl=False)
    for note in results.run.get("notes", []):
        click.echo(f"note: {note}", err=True)
    for line in warning_lines(configs):
        click.echo(f"warning: {line}", err=True)
    if not configs:
        return EXIT_FAILED_SAMPLES
    return EXIT_OK if all(c.ok for c in configs) else EXIT_FAILED_SAMPLES


@click.group()
@click.version_option(__version__, prog_name="coldbench")
def cli():
    """Measure what a Lambda cold start costs, per runtime and memory size."""


@cli.command()
@click.option("--target", default="local", show_default=True,
              help="Where functions run: local (processes on this machine), docker "
                   "(containers), aws (AWS Lambda).")
@click.option("--runtimes", "--runtime", "runtimes", default="all", show_default=True,
              help="'all' or a comma-separated list: python,node,go,java,rust.")
@click.option("--memory", default="128,512,1769", show_default=True,
              help="Memory sizes in MB (128..10240); CPU follows as on Lambda (1769 MB = 1 vCPU).")
@click.option("--cold", default=10, show_default=True, help="Cold samples per configuration.")
@click.option("--warm", default=20, show_default=True, help="Warm samples per configuration.")
@click.option("--provisioned", default=6, show_default=True,
              help="Provisioned-concurrency samples per configuration.")
@click.option("--work", default=100, show_default=True,
              help="SHA-256 rounds each invocation computes (see functions/README.md).")
@click.option("--timeout", "timeout_s", default=60.0, show_default=True,
              help="Seconds allowed for init and for each invocation.")
@click.option("--cpu-model", default="lambda", show_default=True,
              type=click.Choice(["lambda", "proportional", "none"]),
              help="lambda: CPU share applies after init; proportional: from the start; none.")
@click.option("--no-limits", is_flag=True, help="Run without memory and CPU limits (no cgroups).")
@click.option("--api", default="coldbench", show_default=True,
              type=click.Choice(["coldbench", "rie"]),
              help="local and docker targets: the runtime talks to coldbench's Runtime API, "
                   "or to AWS's Runtime Interface Emulator as in AWS's images.")
@click.option("--images", type=click.Choice(["aws", "local"]),
              help="docker target: AWS's base images (pulled; built here when they cannot "
                   "be) or images built here from Debian packages. Default: aws, or local "
                   "when the CI variable is set.")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "markdown", "json", "csv"]))
@click.option("--output", type=click.Path(path_type=Path),
              help="Results file (JSON, every raw sample), written as samples finish.")
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@click.option("--function", "function_dir", type=click.Path(path_type=Path),
              help="Measure your own function folder (with --runtime and --handler).")
@click.option("--handler", help="Handler of --function, in the runtime's notation.")
@click.option("--rebuild", is_flag=True, help="Build functions again even if cached.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@click.option("--history", "history_dir", type=click.Path(path_type=Path),
              help="Keep the finished run in this history folder (e.g. results).")
@cli_aws.run_options
def run(target, runtimes, memory, cold, warm, provisioned, work, timeout_s, cpu_model,
        no_limits, api, images, fmt, output, force, function_dir, handler, rebuild, quiet,
        history_dir, **aws):
    """Measure cold, warm and provisioned invocations and print the comparison table."""
    from coldbench.cli.progress import Progress
    from coldbench.measure import options as runner
    from coldbench.measure.run import run as measure_run

    partial = None
    if history_dir is not None and output is None:   # measured into partial/ until finished
        from coldbench.results.history import History
        output = partial = History(history_dir).partial_path()
    options = runner.RunOptions(
        runtimes=runner.parse_runtimes(runtimes), memory=runner.parse_memory(memory),
        cold=cold, warm=warm, provisioned=provisioned, work=work, timeout_s=timeout_s,
        target=target, cpu_model=cpu_model, limits=not no_limits, output=output, force=force,
        function_dir=function_dir, handler=handler, rebuild=rebuild,
        target_options={"api": api, "images": images})
    with Progress(quiet=quiet) as progress:
        cli_aws.apply(options, aws, progress.status)
        results = measure_run(options, on_sample=progress.sample, on_status=progress.status)
    status = print_summary(results, fmt)
    if history_dir is not None:
        from coldbench.results.history import History
        added = History(history_dir).add(output)
        if partial is not None:
            partial.unlink()
        click.echo(f"kept as run {added.run_id} in {history_dir}", err=True)
    sys.exit(status)


@cli.command()
@click.option("--runtimes", "--runtime", "runtimes", default="all", show_default=True)
@click.option("--function", "function_dir", type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Build again even if cached.")
def build(runtimes, function_dir, rebuild):
    """Build functions into the cache (run builds what is missing)."""
    from coldbench import build as builder
    from coldbench.measure import options as runner

    options = runner.RunOptions(runtimes=runner.parse_runtimes(runtimes),
                                function_dir=function_dir)
    runner.check(options)
    for function in runner.functions(options):
        artifact = builder.build(function, rebuild=rebuild)
        click.echo(f"{function.runtime.name:<8} {artifact.toolchain:<28} {artifact.task_root}")


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "markdown", "html", "json", "csv"]),
              help="table, json, csv: the table; markdown, html: the report with charts.")
@click.option("--output", type=click.Path(path_type=Path),
              help="Write the markdown or html report here (markdown: charts beside it).")
@click.option("--history", "history_dir", type=click.Path(path_type=Path), default="results",
              show_default=True, envvar="COLDBENCH_HISTORY",
              help="History folder that RUN may name a run of (latest, latest~N, a run id).")
def report(run_ref, fmt, output, history_dir):
    """Render a saved run again: a results file, or a run in the history."""
    from coldbench.results.history import open_run

    _, results = open_run(run_ref, history_dir)
    if fmt not in ("markdown", "html"):
        if output is not None:
            raise UsageError("--output is for --format markdown or html; redirect the others")
        sys.exit(print_summary(results, fmt))
    from coldbench.render import report as reports
    from coldbench.analysis.summary import summarize_samples

    text = reports.write(results, fmt, output)
    if text:
        click.echo(text, nl=False)
    configs = summarize_samples(results.samples)
    sys.exit(EXIT_OK if configs and all(c.ok for c in configs) else EXIT_FAILED_SAMPLES)


@cli.command()
@cli_aws.cleanup_options
@click.option("--images", "remove_images", is_flag=True,
              help="Also remove the docker target's cached images (built again when needed).")
def cleanup(target, remove_images, **aws):
    """Remove what a killed run left behind (processes, cgroups and containers; with
    --target aws, the AWS resources tagged coldbench:run-id)."""
    if target == "aws":
        sys.exit(cli_aws.cleanup(**aws))
    from coldbench.environments import cgroups
    from coldbench.targets.docker import plugin as docker

    found = cgroups.leftovers()
    for group in found:
        pids = group.pids()
        group.remove()
        click.echo(f"removed cgroup {group.name} ({len(pids)} processes killed)")
    containers = docker.remove_leftovers()     # none when no engine answers
    for name in containers:
        click.echo(f"removed container {name}")
    removed_images = docker.remove_images() if remove_images else []
    for name in removed_images:
        click.echo(f"removed image {name}")
    if not found and not containers and not removed_images:
        click.echo("nothing to clean up")


register_result_commands(cli)
cli_aws.register(cli)


def main():
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        command = exc.ctx.command_path if getattr(exc, "ctx", None) else "coldbench"
        fail(f"{exc.format_message()} (see '{command} --help')", EXIT_USAGE)
    except click.exceptions.Abort:
        fail("interrupted", EXIT_INTERRUPTED)
    except ColdbenchError as exc:
        fail(str(exc), exc.exit_status)
    except KeyboardInterrupt:
        fail("interrupted; results measured so far were kept", EXIT_INTERRUPTED)
    sys.exit(EXIT_OK)
