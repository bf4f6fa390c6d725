"""`coldbench serve`: AWS Lambda's Invoke API over local execution environments, for AWS
SDKs pointed at it. Parse, call the core, print. (The AWS target's own options, like every
target's, come from its plug-in: ``coldbench.targets.aws.plugin``.)
"""

from __future__ import annotations

from pathlib import Path

import click

from coldbench.cli.common import timeout_option


def register(cli) -> None:
    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=3001, show_default=True, help="0: any free port.")
    @click.option("--runtimes", "--runtime", "runtime_names", default="all",
                  show_default=True, help="The runtimes to offer: 'all' or python,node,...")
    @click.option("--function", "function_dir", type=click.Path(path_type=Path),
                  help="Offer this function folder in place of its runtime's built-in one.")
    @click.option("--handler", help="Handler of --function, in the runtime's notation.")
    @timeout_option("Seconds allowed for init and each invocation (without a control plane).")
    @click.option("--cpu-model", default="lambda", show_default=True,
                  type=click.Choice(["lambda", "proportional", "none"]))
    @click.option("--no-limits", is_flag=True, help="No memory and CPU limits (no cgroups).")
    @click.option("--idle-timeout", "idle_timeout_s", default=600.0, show_default=True,
                  help="Seconds after which an idle environment is stopped.")
    @click.option("--control-plane-url",
                  help="Read functions' configurations from this Lambda API endpoint (a "
                       "local stand-in): a changed configuration gets new environments.")
    @click.option("--region", default="us-east-1", show_default=True,
                  help="Region of --control-plane-url.")
    @click.option("--max-concurrency", default=1000, show_default=True,
                  help="Invocations at once (Lambda's default account quota); past it, "
                       "429 TooManyRequestsException.")
    @click.option("--read-timeout", "read_timeout_s", default=30.0, show_default=True,
                  help="Seconds a request may take to arrive whole (and an idle "
                       "connection may stay open).")
    def serve(host, port, runtime_names, function_dir, handler, timeout_s, cpu_model,
              no_limits, idle_timeout_s, control_plane_url, region, max_concurrency,
              read_timeout_s):
        """Serve the Lambda Invoke API over local execution environments."""
        from coldbench.workflows import options as runner
        from coldbench import serve as serving

        serving.check_settings(host, port, timeout_s, idle_timeout_s, read_timeout_s,
                               max_concurrency, control_plane_url)
        names = runner.parse_runtimes(runtime_names)
        control_plane = None
        if control_plane_url:
            control_plane = serving.LambdaApi(control_plane_url, region)
            control_plane.check()
        artifacts = serving.artifacts_for(names, function_dir, handler,
                                          on_status=serving.stderr_line)
        server = serving.Server(artifacts, host=host, port=port, timeout_s=timeout_s,
                                cpu_model=cpu_model, limits=not no_limits,
                                idle_timeout_s=idle_timeout_s, control_plane=control_plane,
                                max_concurrency=max_concurrency,
                                read_timeout_s=read_timeout_s)
        serving.main_loop(server, announce=serving.stderr_line)
