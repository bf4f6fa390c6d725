"""The AWS target as a plug-in: how the run's options make one."""

from __future__ import annotations

from coldbench.errors import UsageError
from coldbench.targets.aws.client import Endpoints
from coldbench.targets.aws.target import (DEFAULT_CONCURRENCY, DEFAULT_COPIES,
                                          PROVISIONED_POLL_S, AwsTarget)


def from_options(options) -> AwsTarget:
    settings = options.target_options
    region = settings.get("region")
    if not region:
        raise UsageError("--target aws needs --region (e.g. --region us-east-1)")
    return AwsTarget(
        Endpoints(region=region, profile=settings.get("profile"),
                  endpoint_url=settings.get("endpoint_url"),
                  invoke_endpoint_url=settings.get("invoke_endpoint_url")),
        timeout_s=options.timeout_s,
        architectures=settings.get("architectures") or ["x86_64"],
        lambda_runtimes=settings.get("lambda_runtimes"),
        role_arn=settings.get("role_arn"),
        copies=settings.get("copies", DEFAULT_COPIES),
        concurrency=settings.get("concurrency", DEFAULT_CONCURRENCY),
        snapstart=settings.get("snapstart", False),
        max_cost=settings.get("max_cost"),
        yes=settings.get("yes", False),
        confirm=settings.get("confirm"),
        status=settings.get("status"),
        announce=settings.get("announce"),
        provisioned_poll_s=settings.get("provisioned_poll_s", PROVISIONED_POLL_S),
    )
