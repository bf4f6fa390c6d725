"""`coldbench mitigate`: the guide's cold-start mitigations, each beside what it measurably
does to one function. Parse, call the core (``measure.mitigation``, ``analysis.mitigation``),
print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coldbench import files
from coldbench.cli.common import (confirm_on_terminal, given, sample_options, target_options,
                                  timeout_option, work_option)
from coldbench.cli.template import own_memory, template_options, template_settings
from coldbench.errors import EXIT_FAILED_SAMPLES, EXIT_OK


def register(cli) -> None:
    from coldbench.workflows.mitigate import (DEFAULT_IDLE_SAMPLES, DEFAULT_KEEP_WARM,
                                              DEFAULT_MEMORY, DEFAULT_PROFILE_SAMPLES, TARGETS)

    @cli.command()
    @click.option("--function", "function_dir", type=click.Path(path_type=Path),
                  help="Your function folder (default: the runtime's built-in function).")
    @click.option("--runtime", help="The function's runtime (python, node, ...); with "
                                    "--template, its definition's.")
    @click.option("--handler", help="Handler of --function, in the runtime's notation.")
    @click.option("--target", default="local", show_default=True, type=click.Choice(TARGETS),
                  help="Where to measure: local, or aws (Lambda, with --region; also "
                       "SnapStart and keep-warm pings).")
    @click.option("--memory", default=DEFAULT_MEMORY, show_default=True,
                  help="Memory sizes in MB; the largest is where the other rows are measured.")
    @sample_options()
    @click.option("--profile-samples", default=DEFAULT_PROFILE_SAMPLES, show_default=True,
                  help="Profiled cold starts (and as many unprofiled) that tell which packages "
                       "init loads.")
    @click.option("--compare", default="all", show_default=True,
                  help="Built-in functions of these runtimes are measured beside yours "
                       "('all', 'none' or a list such as go,rust).")
    @work_option("SHA-256 rounds of the built-in functions' invocations.")
    @timeout_option()
    @click.option("--no-limits", is_flag=True, help="Run without memory and CPU limits.")
    @click.option("--output", type=click.Path(path_type=Path),
                  help="Write every row, its figures and its raw samples here as JSON.")
    @click.option("--force", is_flag=True, help="Replace an existing --output file.")
    @click.option("--rebuild", is_flag=True, help="Build the function again even if cached.")
    @click.option("--quiet", is_flag=True, help="No progress on stderr.")
    @click.option("--keep-warm", default=DEFAULT_KEEP_WARM, show_default=True,
                  help="--target aws: the keep-warm ping interval the pings are priced at.")
    @click.option("--idle", help="--target aws: also measure how often a call after this much "
                                 "idle time starts cold (e.g. 5m,15m,45m).")
    @click.option("--idle-samples", default=DEFAULT_IDLE_SAMPLES, show_default=True,
                  help="--target aws: idle samples per --idle interval.")
    @template_options
    @target_options("run")
    def mitigate(function_dir, runtime, handler, target, memory, cold, warm, provisioned,
                 profile_samples, compare, work, timeout_s, no_limits, output, force, rebuild,
                 quiet, keep_warm, idle, idle_samples, template, function_names, env_vars,
                 layer_dirs, **settings):
        """What each of the guide's cold-start mitigations would do to your function,
        measured: provisioned concurrency (the cold start it takes off the request path and
        what remains), memory size (cold start and cost per million invocations), a smaller
        deployment package (the packages of the task root that no profiled init loaded, and
        a build without them, measured), lighter runtimes (the other runtimes' built-in
        functions). With --target aws (and --region, --yes or --max-cost as for run) all
        of them are measured on Lambda, provisioned concurrency asked for explicitly, and
        also SnapStart for Java and Python (cold start with and without, and its charges)
        and keep-warm pings (their cost a month at --keep-warm; with --idle, how often a
        call after idle time starts cold); which packages are unused is still profiled on
        this machine. Rows that do not apply to the target or runtime say so.

        Exit status 2 for bad input (nothing measured), 1 when a configuration produced no
        valid sample."""
        from coldbench import prices as price_tables
        from coldbench.analysis import mitigation as analysis
        from coldbench.render import mitigation as table
        from coldbench.analysis.summary import summarize_samples
        from coldbench.workflows import mitigate as mitigation
        from coldbench.workflows.options import parse_memory, parse_runtimes
        from coldbench.model import now_iso
        from coldbench.workflows import profile_document as documents

        from coldbench import targets
        from coldbench.errors import UsageError
        from coldbench.workflows.sweeps import parse_intervals

        context = click.get_current_context()
        if template is not None and runtime is not None:
            raise UsageError("--template: the function's runtime comes from its definition; "
                             "drop --runtime (pick the function with --function-name)")
        targets.refuse_others(target, "run", given(context, settings))
        aws_only = given(context, ["keep_warm", "idle", "idle_samples"])
        if target != "aws" and aws_only:
            raise UsageError(f"--{sorted(aws_only)[0].replace('_', '-')} is for --target aws")
        try:
            (keep_warm_s,) = parse_intervals(keep_warm)
        except (UsageError, ValueError):
            raise UsageError(f"--keep-warm: '{keep_warm}' is not one interval: write a number "
                             "with s, m or h, e.g. --keep-warm 5m") from None
        (output,) = context.with_resource(                   # held until the command ends
            files.writing(("--output", output), force=force))
        request = mitigation.MitigateRequest(
            runtime=runtime, function_dir=function_dir, handler=handler,
            memory=parse_memory(memory), cold=cold, warm=warm, provisioned=provisioned,
            profile_samples=profile_samples,
            compare=[] if compare == "none" else (None if compare == "all"
                                                  else parse_runtimes(compare)),
            work=work, timeout_s=timeout_s, target=target, limits=not no_limits,
            rebuild=rebuild,
            target_options=targets.settings(targets.get(target), "run", settings),
            idle=parse_intervals(idle) if idle else (), idle_samples=idle_samples,
            keep_warm_s=keep_warm_s, announce=lambda text: click.echo(text, err=True),
            template_memory=own_memory("memory"),
            **template_settings(template, function_names, env_vars, layer_dirs),
            confirm=confirm_on_terminal,
            defaulted=frozenset(context.params) - given(context, context.params))
        mitigation.run_options(request)            # refused before anything is built
        prices = price_tables.load()
        status = (lambda text: None) if quiet else (lambda text: click.echo(text, err=True))
        started_at = now_iso()
        findings = mitigation.mitigate(request, on_status=status)
        rows = analysis.rows(findings, prices)
        if output is not None:
            documents.write(output, table.document(
                rows, findings, prices, mitigation.run_metadata(request, started_at)))
        click.echo(table.render(rows, findings, prices), nl=False)
        configs = summarize_samples(findings.samples)
        for config in configs:
            for mode in config.modes.values():
                if mode.figure is None:
                    errors = ", ".join(f"{kind} x{count}" for kind, count in
                                       mode.error_types.items()) or "none valid"
                    click.echo(f"error: {config.key}: no valid {mode.mode} sample of "
                               f"{mode.attempts} ({errors})", err=True)
        sys.exit(EXIT_OK if configs and all(c.ok for c in configs) else EXIT_FAILED_SAMPLES)
