"""The AWS target as registered (entry point ``aws``): its options, their rules, how they
make one, and what a killed run leaves behind: the resources tagged ``coldbench:run-id``
in a region."""

from __future__ import annotations

from functools import partial

from coldbench.errors import EnvironmentUnavailable, UsageError
from coldbench.model import DEFAULT_ARCHITECTURE, RunOptions
from coldbench.targets.aws import lambda_runtimes
from coldbench.targets.aws import resources
from coldbench.targets.aws.client import Clients, Endpoints, unavailable
from coldbench.targets.aws.images import check_architectures, parse_package_types
from coldbench.targets.aws.package import parse_architectures
from coldbench.targets.aws.copies import PROVISIONED_POLL_S
from coldbench.targets.aws.regions import Regions, endpoints_by_region, parse_regions
from coldbench.targets.aws.resources import new_run_id
from coldbench.targets.aws.target import (DEFAULT_CONCURRENCY, DEFAULT_COPIES, Asking,
                                          AwsSettings, AwsTarget)
from coldbench.targets.base import TargetPlugin, Leftover, NotSearched, Option

REGION_NEEDED = "--target aws needs --region (e.g. --region us-east-1)"
REGION = Option("--region", help="the AWS region (e.g. us-east-1), or several, comma-separated "
                                 "(measured side by side, each with its own functions).")
# not --profile: that is `run --profile` (where init time goes); AWS_PROFILE works as well
PROFILE = Option("--aws-profile", dest="profile", help="the AWS credentials profile to use.")
ENDPOINT_URL = Option("--endpoint-url",
                      help="send control-plane calls (Lambda, IAM, Logs, STS, ECR) here instead of "
                           "AWS: for local stand-ins such as moto's server.")


class Aws(TargetPlugin):
    """The aws target as registered: its options, their rules, how they make a
    ``AwsTarget``, and what killed runs left."""

    name = "aws"

    summary = "AWS Lambda"
    cleanup_asks = True                 # the resources are in an account: say what, then ask
    makes = (AwsTarget, Regions)        # both take bursts and idle sweeps
    run_options = (
        REGION, PROFILE,
        Option("--role-arn", help="an existing Lambda execution role; without it a role with "
                                  "only the basic logging policy is created and deleted."),
        Option("--arch", dest="architectures", default=DEFAULT_ARCHITECTURE,
               help="CPU architectures, comma-separated: x86_64, arm64."),
        Option("--package", dest="package_types", default="zip",
               help="deployment package types, comma-separated: zip, image (the same "
                    "functions as container images on AWS's base images, pushed to an ECR "
                    "repository the run creates and deletes; this machine's architecture)."),
        Option("--snapstart", type=bool,
               help="also measure SnapStart (published versions, Restore Duration) for the "
                    "runtimes that support it (Java, Python)."),
        Option("--lambda-runtime", dest="lambda_runtimes",
               help="runtime identifiers to deploy with: 'latest' (the newest Lambda "
                    "supports), identifiers (nodejs22.x) or runtime=identifier "
                    "(python=python3.13), comma-separated (default: each runtime's own "
                    "while Lambda supports it, else its nearest supported successor)."),
        Option("--copies", type=int, default=DEFAULT_COPIES,
               help="functions per configuration, primed for cold starts in turn."),
        Option("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
               help="control-plane operations (deploys, config updates) at once."),
        Option("--max-cost", type=float,
               help="refuse plans that can cost more than this (USD)."),
        Option("--yes", type=bool, help="create the resources without asking."),
        ENDPOINT_URL,
        Option("--invoke-endpoint-url",
               help="send Invoke calls here instead of AWS: for local stand-ins such as "
                    "'coldbench serve'; region=URL pairs, comma-separated, for one per region."),
        Option("--url-endpoint-url",
               help="with --via url: send function URL requests here instead of to each "
                    "function's URL (its host kept in the Host header, as signed): for "
                    "local stand-ins."),
    )
    cleanup_options = (
        REGION, PROFILE,
        Option("--run-id", help="only the resources of this run (as tagged)."),
        ENDPOINT_URL,
    )

    @classmethod
    def check_options(cls, options: RunOptions) -> RunOptions:
        settings = options.target_options
        if not settings.get("region"):
            raise UsageError(REGION_NEEDED)
        endpoints_by_region(settings.get("invoke_endpoint_url"),
                            parse_regions(settings["region"]))
        architectures = parse_architectures(settings.get("architectures") or DEFAULT_ARCHITECTURE)
        if "image" in parse_package_types(settings.get("package_types")):
            check_architectures(architectures)
        # refused here, before anything is built, if Lambda creates no functions with it;
        # "today" (a date, no option) reads the deprecation schedule for another day
        choices = lambda_runtimes.choose(options.runtimes, settings.get("lambda_runtimes"),
                                         settings.get("today") or lambda_runtimes.today())
        for choice in choices.values():
            if choice.note:
                options = options.adjusted(choice.note)
        if "provisioned" in options.defaulted:
            # opt-in on AWS: provisioned concurrency costs money
            options = options.adjusted(provisioned=0)
        if options.via == "url":
            # a function URL serves $LATEST or an alias, never a published version, which
            # SnapStart and provisioned concurrency are measured on here ("Creating and
            # managing Lambda function URLs": the qualifier must be an alias)
            if settings.get("snapstart") or options.provisioned:
                raise UsageError("--via url on AWS measures on-demand cold starts through "
                                 "each function's URL: drop --snapstart and --provisioned")
        elif settings.get("url_endpoint_url"):
            raise UsageError("--url-endpoint-url goes with --via url")
        return options

    @classmethod
    def from_options(cls, options) -> AwsTarget | Regions:
        settings = options.target_options
        regions = parse_regions(settings["region"])     # several: one target per region
        invoke_urls = endpoints_by_region(settings.get("invoke_endpoint_url"), regions)
        run_id = new_run_id()
        asking = Asking(max_cost=settings.get("max_cost"), yes=bool(settings.get("yes")),
                        confirm=options.confirm, status=options.status,
                        announce=options.announce)

        def one(region: str) -> AwsTarget:
            return AwsTarget(
                Endpoints(region=region, profile=settings.get("profile"),
                          endpoint_url=settings.get("endpoint_url"),
                          invoke_endpoint_url=invoke_urls[region],
                          url_endpoint_url=settings.get("url_endpoint_url")),
                AwsSettings(
                    timeout_s=options.timeout_s,
                    architectures=tuple(parse_architectures(settings.get("architectures")
                                                            or DEFAULT_ARCHITECTURE)),
                    lambda_runtimes=settings.get("lambda_runtimes"),
                    today=settings.get("today"),
                    role_arn=settings.get("role_arn"),
                    copies=settings.get("copies", DEFAULT_COPIES),
                    concurrency=settings.get("concurrency", DEFAULT_CONCURRENCY),
                    snapstart=bool(settings.get("snapstart")),
                    package_types=tuple(parse_package_types(settings.get("package_types"))),
                    provisioned_poll_s=settings.get("provisioned_poll_s", PROVISIONED_POLL_S),
                    own_architecture="architectures" in options.defaulted,
                    via=options.via),
                asking, run_id=run_id, one_of_regions=len(regions) > 1)

        if len(regions) == 1:
            return one(regions[0])
        return Regions([one(region) for region in regions], max_cost=settings.get("max_cost"),
                       yes=bool(settings.get("yes")), confirm=options.confirm,
                       announce=options.announce)

    @classmethod
    def find_leftovers(cls, settings: dict) -> list[Leftover]:
        """Every resource tagged coldbench:run-id (of --run-id if given) in each region
        of --region, functions first, roles last, in the order they are deleted."""
        if not settings.get("region"):
            raise NotSearched(f"cleanup {REGION_NEEDED}")
        leftovers = []
        for region in parse_regions(settings["region"]):      # one region after another
            clients = Clients(Endpoints(region=region, profile=settings.get("profile"),
                                        endpoint_url=settings.get("endpoint_url")))
            clients.check_credentials()
            try:
                found = resources.find_leftovers(clients, settings.get("run_id"))
            except Exception as exc:
                error = unavailable(exc)
                if error is None:
                    raise
                raise error from None
            leftovers += [Leftover(str(resource), f"in {region}",
                                   partial(_delete, clients, resource)) for resource in found]
        return leftovers


def _delete(clients, resource) -> str:
    errors: list[str] = []
    resources.delete(clients, [resource], on_result=lambda _, error: errors.append(error))
    if errors and errors[0]:
        raise EnvironmentUnavailable(errors[0])
    return f"deleted {resource}"
