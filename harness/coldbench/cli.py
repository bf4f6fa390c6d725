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
from coldbench.errors import (EXIT_FAILED_SAMPLES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE,
                              ColdbenchError)


def fail(message: str, status: int = EXIT_USAGE):
    click.echo(f"coldbench: error: {message}", err=True)
    sys.exit(status)


def print_summary(results, fmt: str) -> int:
    """Print the table (stdout) and warnings (stderr); the exit status they call for."""
    from coldbench.summary import summarize_samples
    from coldbench.table import render

    configs = summarize_samples(results.samples)
    click.echo(render(configs, fmt), nl=False)
    for note in results.run.get("notes", []):
        click.echo(f"note: {note}", err=True)
    for config in configs:
        for warning in config.warnings:
            click.echo(f"warning: {warning}", err=True)
    if not configs:
        return EXIT_FAILED_SAMPLES
    return EXIT_OK if all(c.ok for c in configs) else EXIT_FAILED_SAMPLES


@click.group()
@click.version_option(__version__, prog_name="coldbench")
def cli():
    """Measure what a Lambda cold start costs, per runtime and memory size."""


@cli.command()
@click.option("--target", default="local", show_default=True,
              help="Where functions run: local (processes on this machine).")
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
def run(target, runtimes, memory, cold, warm, provisioned, work, timeout_s, cpu_model,
        no_limits, fmt, output, force, function_dir, handler, rebuild, quiet):
    """Measure cold, warm and provisioned invocations and print the comparison table."""
    from coldbench import runner
    from coldbench.progress import Progress

    options = runner.RunOptions(
        runtimes=runner.parse_runtimes(runtimes), memory=runner.parse_memory(memory),
        cold=cold, warm=warm, provisioned=provisioned, work=work, timeout_s=timeout_s,
        target=target, cpu_model=cpu_model, limits=not no_limits, output=output, force=force,
        function_dir=function_dir, handler=handler, rebuild=rebuild)
    with Progress(quiet=quiet) as progress:
        results = runner.run(options, on_sample=progress.sample, on_status=progress.status)
    sys.exit(print_summary(results, fmt))


@cli.command()
@click.option("--runtimes", "--runtime", "runtimes", default="all", show_default=True)
@click.option("--function", "function_dir", type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Build again even if cached.")
def build(runtimes, function_dir, rebuild):
    """Build functions into the cache (run builds what is missing)."""
    from coldbench import build as builder
    from coldbench import runner

    options = runner.RunOptions(runtimes=runner.parse_runtimes(runtimes),
                                function_dir=function_dir)
    runner.check(options)
    for function in runner.functions(options):
        artifact = builder.build(function, rebuild=rebuild)
        click.echo(f"{function.runtime.name:<8} {artifact.toolchain:<28} {artifact.task_root}")


@cli.command()
@click.argument("results_file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "markdown", "json", "csv"]))
def report(results_file, fmt):
    """Render the table again from a saved results file."""
    from coldbench import results

    sys.exit(print_summary(results.load(results_file), fmt))


@cli.command()
def cleanup():
    """Remove what a killed run left behind (processes and cgroups)."""
    from coldbench import cgroups

    found = cgroups.leftovers()
    for group in found:
        pids = group.pids()
        group.remove()
        click.echo(f"removed cgroup {group.name} ({len(pids)} processes killed)")
    if not found:
        click.echo("nothing to clean up")


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
