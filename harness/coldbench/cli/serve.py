"""The command line of the AWS target and of `coldbench serve`: the options `run` and
`cleanup` take for ``--target aws``, and the `serve` command. Parse, call the core, print.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coldbench.errors import EXIT_FAILED_SAMPLES, EXIT_OK, UsageError

_RUN_OPTIONS = [
    click.option("--region", help="aws target: the AWS region to deploy to (e.g. us-east-1)."),
    click.option("--profile", help="aws target: the AWS credentials profile to use."),
    click.option("--role-arn", help="aws target: an existing Lambda execution role; without "
                                    "it a role with only the basic logging policy is created "
                                    "and deleted."),
    click.option("--arch", "architectures", default="x86_64", show_default=True,
                 help="aws target: CPU architectures, comma-separated: x86_64, arm64."),
    click.option("--snapstart", is_flag=True,
                 help="aws target: also measure SnapStart (published versions, Restore "
                      "Duration) for the runtimes that support it (Java, Python)."),
    click.option("--lambda-runtime", "lambda_runtimes",
                 help="aws target: runtime identifiers to deploy with, e.g. "
                      "python=python3.13,node=nodejs22.x (default: python3.12, nodejs20.x, "
                      "java21, provided.al2023)."),
    click.option("--copies", default=3, show_default=True,
                 help="aws target: functions per configuration, primed for cold starts in "
                      "turn."),
    click.option("--concurrency", default=8, show_default=True,
                 help="aws target: control-plane operations (deploys, config updates) at once."),
    click.option("--max-cost", type=float,
                 help="aws target: refuse plans that can cost more than this (USD)."),
    click.option("--yes", is_flag=True,
                 help="aws target: create the resources without asking."),
    click.option("--endpoint-url",
                 help="aws target: send control-plane calls (Lambda, IAM, Logs, STS) here "
                      "instead of AWS: for local stand-ins such as moto's server."),
    click.option("--invoke-endpoint-url",
                 help="aws target: send Invoke calls here instead of AWS: for local "
                      "stand-ins such as 'coldbench serve'."),
]


def run_options(command):
    """The AWS options of `coldbench run` (the command takes them as ``**aws``)."""
    for option in reversed(_RUN_OPTIONS):
        command = option(command)
    return command


def confirm_on_terminal(text: str) -> bool:
    """Ask on a terminal; without one, the answer is no (--yes is the way to go on)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    return click.confirm("Create these resources and run?", default=False, err=True)


def apply(options, aws: dict, status) -> None:
    """Set the AWS target's options on ``options`` (a RunOptions) when it is chosen."""
    if options.target != "aws":
        given = [k for k in ("region", "profile", "role_arn", "endpoint_url",
                             "invoke_endpoint_url", "max_cost") if aws.get(k)]
        if given or aws.get("snapstart") or aws.get("yes"):
            raise UsageError(f"--{(given or ['snapstart'])[0].replace('_', '-')} is for "
                             "--target aws")
        return
    from coldbench.targets.aws.package import parse_architectures
    from coldbench.targets.aws.target import parse_lambda_runtimes

    context = click.get_current_context(silent=True)
    if context is not None and context.get_parameter_source("provisioned") \
            == click.core.ParameterSource.DEFAULT:
        options.provisioned = 0      # opt-in on AWS: provisioned concurrency costs money
    options.target_options.update(
        region=aws.get("region"), profile=aws.get("profile"), role_arn=aws.get("role_arn"),
        architectures=parse_architectures(aws.get("architectures") or "x86_64"),
        lambda_runtimes=parse_lambda_runtimes(aws.get("lambda_runtimes")),
        snapstart=bool(aws.get("snapstart")), copies=aws.get("copies", 3),
        concurrency=aws.get("concurrency", 8), max_cost=aws.get("max_cost"),
        yes=bool(aws.get("yes")), endpoint_url=aws.get("endpoint_url"),
        invoke_endpoint_url=aws.get("invoke_endpoint_url"),
        confirm=confirm_on_terminal, status=status,
        announce=lambda text: click.echo(text, err=True))


# cleanup -------------------------------------------------------------------------------

_CLEANUP_OPTIONS = [
    click.option("--target", default="local", show_default=True,
                 type=click.Choice(["local", "aws"]),
                 help="local: processes, cgroups and containers; aws: resources tagged "
                      "coldbench:run-id."),
    click.option("--region", help="aws: the region to clean up."),
    click.option("--profile", help="aws: the AWS credentials profile to use."),
    click.option("--run-id", help="aws: only the resources of this run (as tagged)."),
    click.option("--dry-run", is_flag=True, help="aws: list what would be deleted, delete nothing."),
    click.option("--yes", is_flag=True, help="aws: delete without asking."),
    click.option("--endpoint-url", help="aws: a local stand-in instead of AWS."),
]


def cleanup_options(command):
    for option in reversed(_CLEANUP_OPTIONS):
        command = option(command)
    return command


def cleanup(region, profile, run_id, dry_run, yes, endpoint_url) -> int:
    """List what coldbench runs left in the region, then delete it. The exit status."""
    from coldbench.targets.aws import resources
    from coldbench.targets.aws.client import Clients, Endpoints, unavailable

    if not region:
        raise UsageError("cleanup --target aws needs --region")
    clients = Clients(Endpoints(region=region, profile=profile, endpoint_url=endpoint_url))
    clients.check_credentials()
    try:
        found = resources.find_leftovers(clients, run_id)
    except Exception as exc:
        error = unavailable(exc)
        if error is None:
            raise
        raise error from None
    if not found:
        click.echo("nothing to clean up")
        return EXIT_OK
    click.echo(f"found {len(found)} resources left by coldbench runs in {region}:")
    for resource in found:
        click.echo(f"  {resource}")
    if dry_run:
        return EXIT_OK
    if not yes and not (sys.stdin.isatty() and
                        click.confirm("Delete them?", default=False, err=True)):
        raise UsageError("nothing deleted: pass --yes to delete without a question")

    def said(resource, error):
        click.echo(f"could not delete {resource}: {error}" if error else f"deleted {resource}")

    errors = resources.delete(clients, found, on_result=said)
    return EXIT_FAILED_SAMPLES if errors else EXIT_OK


# serve ---------------------------------------------------------------------------------

def register(cli) -> None:
    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=3001, show_default=True, help="0: any free port.")
    @click.option("--runtimes", "--runtime", "runtime_names", default="all",
                  show_default=True, help="The runtimes to offer: 'all' or python,node,...")
    @click.option("--function", "function_dir", type=click.Path(path_type=Path),
                  help="Offer this function folder in place of its runtime's built-in one.")
    @click.option("--handler", help="Handler of --function, in the runtime's notation.")
    @click.option("--timeout", "timeout_s", default=60.0, show_default=True,
                  help="Seconds allowed for init and each invocation (without a control plane).")
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
    def serve(host, port, runtime_names, function_dir, handler, timeout_s, cpu_model,
              no_limits, idle_timeout_s, control_plane_url, region):
        """Serve the Lambda Invoke API over local execution environments."""
        from coldbench.measure import options as runner
        from coldbench import serve as serving

        names = runner.parse_runtimes(runtime_names)
        artifacts = serving.artifacts_for(names, function_dir, handler,
                                          on_status=serving.stderr_line)
        control_plane = (serving.ControlPlane(control_plane_url, region)
                         if control_plane_url else None)
        server = serving.Server(artifacts, host=host, port=port, timeout_s=timeout_s,
                                cpu_model=cpu_model, limits=not no_limits,
                                idle_timeout_s=idle_timeout_s, control_plane=control_plane)
        serving.main_loop(server, announce=serving.stderr_line)
