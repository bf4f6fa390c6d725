"""The local target as a plug-in: how the run's options make one."""

from __future__ import annotations

from coldbench.errors import UsageError
from coldbench.targets.local.target import PROVISIONED_UNDER_RIE, LocalTarget, check_api


def from_options(options) -> LocalTarget:
    api = options.target_options.get("api", "coldbench")
    check_api(api)
    if api == "rie" and options.provisioned:
        raise UsageError(PROVISIONED_UNDER_RIE)
    return LocalTarget(timeout_s=options.timeout_s, cpu_model=options.cpu_model,
                       limits=options.limits, api=api)
