"""`coldbench profile`: where a cold start's Init Duration goes, per part and per module,
package or class. Parse, call the core (``coldbench.profile``), print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coldbench import files
from coldbench.cli.common import timeout_option
from coldbench.cli.function_set import function_set_option
from coldbench.cli.template import own_memory, template_options, template_settings
from coldbench.cli.layers import layer_options, parsed_layers
from coldbench.errors import EXIT_FAILED_SAMPLES, EXIT_OK
from coldbench.render.profile import DEFAULT_TOP
from coldbench.workflows.profile import DEFAULT_MEMORY_MB, DEFAULT_SAMPLES


def register(cli) -> None:
    @cli.command()
    @click.option("--runtimes", "--runtime", "runtimes", default="all", show_default=True,
                  help="'all' or a comma-separated list (python,node,...).")
    @click.option("--function", "function_dir", type=click.Path(path_type=Path),
                  help="Profile your own function folder (with --runtime and --handler).")
    @click.option("--handler", help="Handler of --function, in the runtime's notation.")
    @click.option("--samples", default=DEFAULT_SAMPLES, show_default=True,
                  type=click.IntRange(min=1),
                  help="Cold samples of each kind: this many unprofiled and as many profiled.")
    @click.option("--memory", "memory_mb", default=DEFAULT_MEMORY_MB, show_default=True,
                  help="Memory size in MB (CPU follows as on Lambda).")
    @click.option("--top", default=DEFAULT_TOP, show_default=True, type=click.IntRange(min=1),
                  help="Items to list per function, by self time.")
    @click.option("--output", type=click.Path(path_type=Path),
                  help="Write the whole profile (every sample's tree) here as JSON.")
    @click.option("--force", is_flag=True, help="Replace an existing --output or --chart file.")
    @click.option("--chart", type=click.Path(path_type=Path),
                  help="Draw an icicle chart of each function's tree into this SVG file.")
    @timeout_option("Seconds allowed for init and for the invocation.")
    @click.option("--no-limits", is_flag=True, help="Run without memory and CPU limits.")
    @click.option("--delivery", type=click.Choice(["host", "lambda"]),
                  help="How the code reaches the runtime, as for 'run --target local' "
                       "(default: the local target's).")
    @function_set_option
    @template_options
    @click.option("--rebuild", is_flag=True, help="Build functions again even if cached.")
    @click.option("--quiet", is_flag=True, help="No progress on stderr.")
    @layer_options
    def profile(runtimes, function_dir, handler, samples, memory_mb, top, output, force, chart,
                timeout_s, no_limits, delivery, function_set, template, function_names,
                env_vars, layer_dirs, rebuild, quiet, **layer_settings):
        """Explain a cold start: split Init Duration into the runtime starting, the runtime
        client and the function's own init, and time each module, package or class the
        function loads, with each language's own means (Python -X importtime, a Node.js
        preload, the JVM's class logging, Go's inittrace). Unprofiled and profiled cold
        samples are taken in turn on the local target; the difference of their medians is
        the profiling's overhead. See "Where init time goes" in the README.

        Exit status 1 when a function has no valid sample (its init failed: the error
        is printed and the partial profile kept)."""
        from coldbench.workflows.options import parse_runtimes
        from coldbench.workflows import profile_document as documents
        from coldbench.render import profile as render
        from coldbench.workflows import profile as session

        output, chart = click.get_current_context().with_resource(   # held until it ends
            files.writing(("--output", output), ("--chart", chart), force=force))
        request = session.ProfileRequest(
            runtimes=parse_runtimes(runtimes), function_dir=function_dir, handler=handler,
            function_set=function_set, samples=samples, memory_mb=memory_mb,
            timeout_s=timeout_s, limits=not no_limits,
            delivery=delivery, rebuild=rebuild, layers=parsed_layers(layer_settings),
            template_memory=own_memory("memory_mb"),
            **template_settings(template, function_names, env_vars, layer_dirs))
        status = (lambda text: None) if quiet else (lambda text: click.echo(text, err=True))
        started_at = documents.now_iso()
        results = session.profile(request, on_status=status)
        doc = documents.document(results, request, started_at)
        if output is not None:
            documents.write(output, doc)
        click.echo(render.render(doc, top), nl=False)
        if chart is not None:
            render.icicle_svg(doc, chart)
        failed = False
        for profile in doc["profiles"]:
            for error in profile["errors"][:1]:
                count = len(profile["errors"])
                click.echo(f"error: {profile['runtime']}: {error.get('type')}: "
                           f"{error.get('message')} (in {error.get('phase')}; {count} of "
                           f"{2 * samples} samples failed; the profile above is what "
                           f"loaded before)", err=True)
            if not profile["init_ms"]["profiled"]["n"] or not profile["init_ms"]["unprofiled"]["n"]:
                failed = True
        sys.exit(EXIT_FAILED_SAMPLES if failed else EXIT_OK)
