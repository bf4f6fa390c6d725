"""The `coldbench` command: parse, call the core, print. No measurement logic here.

Exit statuses (errors.py): 0 every configuration produced valid samples; 1 some
configuration produced none; 2 bad input or an unusable machine, nothing measured;
3 `compare` or `ab` found a regression; 130 interrupted (results so far are kept).
"""

from __future__ import annotations

import signal
import sys
from dataclasses import replace
from itertools import groupby
from pathlib import Path

import click

from coldbench import __version__, targets
from coldbench.cli import ab as ab_command
from coldbench.cli import mitigate as mitigate_command
from coldbench.cli import profile as profile_command
from coldbench.cli import serve as serve_command
from coldbench.cli.common import (MEMORY_DEFAULT, confirm_on_terminal, given, history_option,
                                  python_bytecode_option, sample_options, target_options,
                                  timeout_option, work_option)
from coldbench.cli.function_set import function_set_option
from coldbench.cli.template import own_memory, template_options, template_settings
from coldbench.cli.layers import layer_options, parsed_layers
from coldbench.cli.results import open_results, register as register_result_commands
from coldbench.errors import (EXIT_FAILED_SAMPLES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE,
                              ColdbenchError, UsageError)
from coldbench.model.options import DEFAULT_IDLE_SAMPLES
from coldbench.runtimes import RUNTIMES, identifiers


def fail(message: str, status: int = EXIT_USAGE):
    click.echo(f"coldbench: error: {message}", err=True)
    sys.exit(status)


def print_summary(results, fmt: str) -> int:
    """Print the table and, after it, a profiled run's profiles (``run.profiles``: `run
    --profile`) (stdout), then the run's notes and the warnings (stderr); the
    exit status they call for."""
    from coldbench.analysis.summary import summarize_samples
    from coldbench.render.table import render
    from coldbench.render.warnings import warning_lines

    configs = summarize_samples(results.samples)
    click.echo(render(configs, fmt, results.run), nl=False)
    if results.run.get("profiles") and fmt in ("table", "markdown"):
        from coldbench.render.profile import render_run
        click.echo(render_run(results.run), nl=False)
    for note in dict.fromkeys(results.run.get("notes", [])):
        click.echo(f"note: {note}", err=True)
    for line in warning_lines(configs):
        click.echo(f"warning: {line}", err=True)
    if not configs:
        return EXIT_FAILED_SAMPLES
    return EXIT_OK if all(c.ok for c in configs) else EXIT_FAILED_SAMPLES


def _targets_help() -> str:
    return ", ".join(f"{name} ({target.summary})" if target.summary else name
                     for name, target in targets.TARGETS.items())


@click.group()
@click.version_option(__version__, prog_name="coldbench")
def cli():
    """Measure what a Lambda cold start costs, per runtime and memory size."""


@cli.command()
@click.option("--target", default="local", show_default=True,
              help=f"Where functions run: {_targets_help()}.")
@click.option("--runtimes", "--runtime", "runtimes", default="all", show_default=True,
              help=f"'all' or a comma-separated list: {','.join(RUNTIMES)} (a language: "
                   "the version the documented row names), or Lambda's identifiers: "
                   f"{','.join(identifiers())}.")
@click.option("--memory", default=MEMORY_DEFAULT, show_default=True,
              help="Memory sizes in MB (128..10240); CPU follows as on Lambda (1769 MB = 1 vCPU).")
@sample_options()
@click.option("--burst", default=0, show_default=True,
              help="Also send this many invocations at once at each configuration with no "
                   "environment, after the other samples (AWS target): cold starts under a "
                   "burst, shown as a row of their own; throttles are counted, not retried.")
@click.option("--idle", "idle", default="",
              help="Also measure cold starts after idle time (AWS target), e.g. 5m,15m,30m,60m "
                   "(s, m, h): per configuration and interval, --idle-samples functions are "
                   "invoked, left alone for the interval (no configuration change) and "
                   "invoked again, all waiting at once; the share of second invocations that "
                   "were cold, and their cold starts, are shown per interval.")
@click.option("--idle-samples", default=DEFAULT_IDLE_SAMPLES, show_default=True,
              help="Idle samples (one function each) per configuration and --idle interval.")
@work_option("SHA-256 rounds each invocation computes (see functions/README.md).")
@timeout_option()
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
@function_set_option
@template_options
@click.option("--rebuild", is_flag=True, help="Build functions again even if cached.")
@python_bytecode_option
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@history_option("Keep the finished run in this history folder (e.g. results).", default=None)
@click.option("--calibration", "calibration_file", type=click.Path(path_type=Path),
              help="Predict AWS's Init Duration with this calibration (made by coldbench "
                   "calibrate) instead of the one shipped with coldbench.")
@click.option("--via", default="invoke", show_default=True, type=click.Choice(["invoke", "url"]),
              help="How each invocation reaches the function: the Invoke API, or an HTTP "
                   "request to its function URL (payload format 2.0; local and docker "
                   "targets), whose client-observed latency is recorded too.")
@click.option("--profile", "profile_init", is_flag=True,
              help="Also take --cold profiled cold samples per configuration (local target), "
                   "kept out of the statistics, and print where init time goes.")
@layer_options
@click.option("--layer-overhead", is_flag=True,
              help="Measure the functions without and with their layers (each prefix: none, "
                   "the first, the first two, ...), interleaved, and print each layer's "
                   "overhead with its interval.")
@target_options("run")
def run(target, runtimes, memory, cold, warm, provisioned, burst, idle, idle_samples, work,
        timeout_s, cpu_model,
        no_limits, fmt, output, force, function_dir, handler, function_set, template,
        function_names, env_vars, layer_dirs, rebuild, python_bytecode, quiet,
        history_dir, calibration_file, via, profile_init, layer_overhead, **settings):
    """Measure cold, warm and provisioned invocations and print the comparison table."""
    from coldbench.analysis import prediction
    from coldbench.cli.progress import Progress
    from coldbench.workflows import options as runner
    from coldbench.workflows.sweeps import parse_intervals
    from coldbench.workflows.run import run as measure_run

    context = click.get_current_context()
    chosen_layers = parsed_layers(settings)
    targets.refuse_others(target, "run", given(context, settings))
    partial = None
    if history_dir is not None:                       # checked before anything is measured
        from coldbench.files import check_folder
        check_folder(history_dir, "--history")
    if history_dir is not None and output is None:   # measured into partial/ until finished
        from coldbench.analysis.history import History
        output = partial = History(history_dir).partial_path()
    options = runner.RunOptions(
        runtimes=runner.parse_runtimes(runtimes), memory=runner.parse_memory(memory),
        cold=cold, warm=warm, provisioned=provisioned, burst=burst,
        idle=parse_intervals(idle) if idle else (), idle_samples=idle_samples, work=work,
        timeout_s=timeout_s,
        target=target, cpu_model=cpu_model, limits=not no_limits, output=output, force=force,
        function_dir=function_dir, handler=handler, function_set=function_set,
        rebuild=rebuild, python_bytecode=python_bytecode, profile=profile_init,
        calibration=prediction.load(calibration_file) if calibration_file else None,
        layers=chosen_layers, layer_overhead=layer_overhead,
        target_options=targets.settings(targets.get(target), "run", settings),
        defaulted=frozenset(context.params) - given(context, context.params),
        template_memory=own_memory("memory"), via=via,
        **template_settings(template, function_names, env_vars, layer_dirs),
        announce=lambda text: click.echo(text, err=True), confirm=confirm_on_terminal)
    with Progress(quiet=quiet) as progress:
        results = measure_run(replace(options, status=progress.status),
                              on_sample=progress.sample, on_status=progress.status)
    status = print_summary(results, fmt)
    if layer_overhead and fmt in ("table", "markdown"):
        from coldbench.analysis.layers import overheads
        from coldbench.render.layers import render_overheads
        click.echo(render_overheads(overheads(results.samples, options.layers)), nl=False)
    if history_dir is not None:
        from coldbench.analysis.history import History
        added = History(history_dir).add(output)
        if partial is not None:
            partial.unlink()
        click.echo(f"kept as run {added.run_id} in {history_dir}", err=True)
    sys.exit(status)


@cli.command()
@click.option("--runtimes", "--runtime", "runtimes", default="all", show_default=True)
@click.option("--function", "function_dir", type=click.Path(path_type=Path))
@function_set_option
@template_options
@click.option("--rebuild", is_flag=True, help="Build again even if cached.")
@python_bytecode_option
@layer_options
def build(runtimes, function_dir, function_set, template, function_names, env_vars,
          layer_dirs, rebuild, python_bytecode, **layer_settings):
    """Build functions into the cache (run builds what is missing), and merge their
    layers (--layer) into the folder that is /opt for them."""
    from coldbench import build as builder
    from coldbench import layers
    from coldbench.workflows import layers as layered
    from coldbench.workflows import options as runner

    options = runner.RunOptions(runtimes=runner.parse_runtimes(runtimes),
                                function_dir=function_dir, function_set=function_set,
                                layers=parsed_layers(layer_settings),
                                python_bytecode=python_bytecode,
                                **template_settings(template, function_names, env_vars,
                                                    layer_dirs))
    options = runner.check(options)
    for note in options.notes if template is not None else ():
        click.echo(f"note: {note}", err=True)
    for function in runner.functions(options):
        artifact = builder.build(function, rebuild=rebuild)
        name = function.name if template is not None else function.runtime.name
        click.echo(f"{name:<8} {artifact.toolchain:<28} {artifact.task_root}")
        if function.layers:
            layered.check([artifact])
            click.echo(f"{'layers':<8} {'+'.join(l.name for l in function.layers):<28} "
                       f"{layers.merge(function.layers)}")


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "markdown", "html", "json", "csv"]),
              help="table, json, csv: the table; markdown, html: the report with charts.")
@click.option("--output", type=click.Path(path_type=Path),
              help="Write the markdown or html report here (markdown: charts beside it).")
@click.option("--force", is_flag=True, help="Replace an existing --output file (and charts).")
@history_option("History folder that RUN may name a run of (latest, latest~N, a run id).")
def report(run_ref, fmt, output, force, history_dir):
    """Render a saved run again: a results file, or a run in the history."""
    _, results = open_results(run_ref, history_dir)
    if fmt not in ("markdown", "html"):
        if output is not None:
            raise UsageError("--output is for --format markdown or html; redirect the others")
        sys.exit(print_summary(results, fmt))
    from coldbench.render import report as reports
    from coldbench.analysis.summary import summarize_samples

    text = reports.write(results, fmt, output, force)
    if text:
        click.echo(text, nl=False)
    configs = summarize_samples(results.samples)
    sys.exit(EXIT_OK if configs and all(c.ok for c in configs) else EXIT_FAILED_SAMPLES)


@cli.command()
@click.option("--target",
              help=f"Only this target's leftovers (default: every target's): {_targets_help()}.")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--yes", is_flag=True,
              help="Remove without asking (targets whose leftovers are in an account, such "
                   "as aws, ask first).")
@target_options("cleanup")
def cleanup(target, dry_run, yes, **settings):
    """Remove what killed runs left behind: every target is asked for its leftovers
    (processes, cgroups and folders; containers, and with --images the docker images; with
    --region, AWS resources tagged coldbench:run-id)."""
    if target:
        targets.refuse_others(target, "cleanup", given(click.get_current_context(), settings))
    found = targets.find_leftovers(
        settings, target,
        skipped=lambda name, reason: click.echo(f"note: {name} not searched: {reason}", err=True))
    for _, kept in (item for item in found if item[1].in_use):
        click.echo(f"kept {kept.what}: {kept.in_use}")
    found = [item for item in found if not item[1].in_use]
    if not found:
        click.echo("nothing to clean up")
        sys.exit(EXIT_OK)
    for where, group in groupby(found, key=lambda item: item[1].where):
        group = list(group)
        plural = "s" if len(group) != 1 else ""
        click.echo(f"found {len(group)} resource{plural} left by coldbench runs {where}:")
        for _, leftover in group:
            click.echo(f"  {leftover.what}")
    if dry_run:
        sys.exit(EXIT_OK)
    if (any(owner.cleanup_asks for owner, _ in found) and not yes
            and not confirm_on_terminal("Remove them?")):
        raise UsageError("nothing removed: pass --yes to remove without a question")
    failed = 0
    for _, leftover in found:
        try:
            click.echo(leftover.remove())
        except Exception as exc:  # noqa: BLE001 - go on with the others, then tell
            failed += 1
            click.echo(f"could not remove {leftover.what}: {exc}")
    sys.exit(EXIT_FAILED_SAMPLES if failed else EXIT_OK)


register_result_commands(cli)
serve_command.register(cli)
profile_command.register(cli)
mitigate_command.register(cli)
ab_command.register(cli)


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main():
    # SIGTERM ends every command as Ctrl-C does, in every phase (a build included): the
    # cleanup in `finally` blocks runs and the exit status is 130
    signal.signal(signal.SIGTERM, interrupt)
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
