"""`coldbench ab`: did a change make the cold start worse? Two versions of the same
functions measured interleaved in one run, compared as `coldbench compare` compares two
runs. Parse, call the core (``workflows.ab``, ``analysis.ab``), print."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from coldbench.cli.common import (MEMORY_DEFAULT, comparison_options, given, sample_options,
                                  target_options, timeout_option, work_option)
from coldbench.cli.template import own_memory, template_options, template_settings
from coldbench.errors import EXIT_FAILED_SAMPLES, EXIT_OK, EXIT_REGRESSION
from coldbench.render import compare as comparison_table
from coldbench.results.schema import MODES
from coldbench.runtimes import RUNTIMES


def register(cli) -> None:
    from coldbench.cli.function_set import function_set_option

    @cli.command()
    @click.argument("base", metavar="BASE")
    @click.argument("head", metavar="HEAD")
    @click.option("--dirs", is_flag=True,
                  help="BASE and HEAD are two folders, not git revisions.")
    @click.option("--function", "function_dirs", multiple=True, type=click.Path(path_type=Path),
                  help="A function folder, as a path in the checkout (repeatable; all in "
                       "--runtime, with --handler).")
    @click.option("--runtimes", "--runtime", "runtime_names", default="all", show_default=True,
                  help=f"The runtime of --function; without --function, the built-in "
                       f"functions of these ('all' or a list: {','.join(RUNTIMES)}).")
    @click.option("--handler", help="Handler of --function, in the runtime's notation.")
    @function_set_option
    @template_options
    @click.option("--target", default="local", show_default=True,
                  type=click.Choice(["local", "docker"]), help="Where functions run.")
    @click.option("--memory", default=MEMORY_DEFAULT, show_default=True,
                  help="Memory sizes in MB (128..10240).")
    @sample_options("configuration and version")
    @work_option()
    @timeout_option()
    @click.option("--cpu-model", default="lambda", show_default=True,
                  type=click.Choice(["lambda", "proportional", "none"]),
                  help="lambda: CPU share applies after init; proportional: from the start.")
    @click.option("--no-limits", is_flag=True, help="Run without memory and CPU limits.")
    @click.option("--profile", "profile_init", is_flag=True,
                  help="Also take --cold profiled cold starts per configuration and version "
                       "(local target): a regression then names what in init grew.")
    @comparison_options
    @click.option("--format", "fmt", default="table", show_default=True,
                  type=click.Choice(comparison_table.FORMATS))
    @click.option("--output", type=click.Path(path_type=Path),
                  help="Results file (JSON): every raw sample of both versions.")
    @click.option("--force", is_flag=True,
                  help="Replace existing --output, --markdown and --comment-payload files.")
    @click.option("--markdown", "markdown_file", type=click.Path(path_type=Path),
                  help="Also write the comparison as Markdown here (a CI job summary).")
    @click.option("--comment-payload", "payload_file", type=click.Path(path_type=Path),
                  help="Also write the pull-request comment GitHub's API takes here (JSON).")
    @click.option("--rebuild", is_flag=True, help="Build functions again even if cached.")
    @click.option("--quiet", is_flag=True, help="No progress on stderr.")
    @target_options("run")
    def ab(base, head, dirs, function_dirs, runtime_names, handler, function_set, target,
           memory, cold, warm, provisioned, work, timeout_s, cpu_model, no_limits,
           profile_init, min_change, alpha, modes, fmt, output, force, markdown_file,
           payload_file, rebuild, quiet, **settings):
        """Is HEAD's cold start slower than BASE's? BASE and HEAD are git revisions of the
        checkout you are in (or, with --dirs, two folders); the functions are --function
        folders (paths in the checkout, as they are at each revision) or the built-in
        functions of --runtimes. Both versions are built and measured interleaved in one
        run, and compared as coldbench compare compares two runs.

        Exit status 3 when a configuration is significantly slower by at least
        --min-change; 2 for bad input (nothing measured); 1 when a configuration produced
        no valid sample or nothing could be compared."""
        from coldbench import files, targets
        from coldbench.analysis import ab as analysis
        from coldbench.analysis.summary import summarize_samples
        from coldbench.cli.progress import Progress
        from coldbench.cli.results import parse_share
        from coldbench.errors import UsageError
        from coldbench.workflows import ab as workflow
        from coldbench.workflows import options as runner
        from coldbench.render import ab as rendering

        context = click.get_current_context()
        template = template_settings(*(settings.pop(name) for name in (
            "template", "function_names", "env_vars", "layer_dirs")))
        if template["template"] is not None and runtime_names != "all":
            raise UsageError("--template: each function's runtime comes from its definition; "
                             "drop --runtimes (pick functions with --function-name)")
        targets.refuse_others(target, "run", given(context, settings))
        wanted = [m.strip() for m in modes.split(",") if m.strip()]
        if not wanted or any(m not in MODES for m in wanted):
            raise UsageError(f"--mode {modes}: choose from {', '.join(MODES)}")
        if not 0 < alpha < 1:
            raise UsageError("--alpha must be between 0 and 1")
        change = parse_share(min_change, "--min-change")
        markdown_file, payload_file = context.with_resource(    # held until the command ends
            files.writing(("--markdown", markdown_file), ("--comment-payload", payload_file),
                          force=force))
        options = runner.RunOptions(
            runtimes=runner.parse_runtimes(runtime_names), memory=runner.parse_memory(memory),
            cold=cold, warm=warm, provisioned=provisioned, work=work, timeout_s=timeout_s,
            target=target, cpu_model=cpu_model, limits=not no_limits, output=output,
            force=force, handler=handler, function_set=function_set, rebuild=rebuild,
            profile=profile_init, template_memory=own_memory("memory"),
            function_names=template["function_names"], env_vars=template["env_vars"],
            layer_dirs=template["layer_dirs"],
            target_options=targets.settings(targets.get(target), "run", settings),
            defaulted=frozenset(context.params) - given(context, context.params),
            announce=lambda text: click.echo(text, err=True))
        with Progress(quiet=quiet) as progress:
            request = workflow.AbRequest(base, head, replace(options, status=progress.status),
                                         list(function_dirs), dirs, template=template["template"])
            results = workflow.ab(request, on_sample=progress.sample, on_status=progress.status)
        found = analysis.compare(results, change, alpha, wanted)
        click.echo(comparison_table.render(found, fmt, change, alpha), nl=False)
        text = rendering.markdown(results, found, change, alpha)
        if markdown_file is not None:
            files.replace_file(markdown_file, text)
        if payload_file is not None:
            files.replace_file(payload_file, rendering.comment_payload(text))
        for note in dict.fromkeys(results.run.get("notes", [])):
            click.echo(f"note: {note}", err=True)
        if any(c.regression for c in found):
            sys.exit(EXIT_REGRESSION)
        if not any(c.result is not None for c in found):
            click.echo("coldbench: error: nothing was compared: no configuration has valid "
                       "samples in both versions (see the results file's errors)", err=True)
            sys.exit(EXIT_FAILED_SAMPLES)
        configs = summarize_samples(results.samples)
        sys.exit(EXIT_OK if all(c.ok for c in configs) else EXIT_FAILED_SAMPLES)
