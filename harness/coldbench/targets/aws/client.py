"""boto3 clients for the AWS target, and AWS errors as one-line messages.

Control-plane retries are botocore's adaptive mode (client-side rate limiting plus
exponential backoff with jitter on throttling and transient errors: TooManyRequestsException,
5xx, dropped connections), bounded by ``CONTROL_ATTEMPTS``. The Invoke client never retries
(an answer lost after a 5xx or a dropped connection may hide an invocation that ran): the
AWS target retries only what was certainly not run, at most ``INVOKE_ATTEMPTS`` times.

Endpoints: the control plane (Lambda, IAM, CloudWatch Logs, STS, ECR) and Invoke each go to
AWS unless ``endpoint_url`` / ``invoke_endpoint_url`` name a local stand-in that speaks
AWS's wire protocol (the tests use moto's server and ``coldbench serve``).

Credentials come from boto3's usual chain (``--aws-profile``, the AWS_* variables, ...);
coldbench never reads, prints or stores them, and ``redact`` strips anything shaped like
a key from the messages it does print.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass

from coldbench import __version__
from coldbench.errors import EnvironmentUnavailable

CONTROL_ATTEMPTS = 8       # per call, first try included
# An invocation retried after a lost answer would run the function twice (and find a warm
# environment): only throttling and connection failures before the request are retried.
INVOKE_ATTEMPTS = 3
# Error codes of an Invoke that Lambda did not run: throttled (429), or no connection made.
INVOKE_NOT_SENT = ("TooManyRequestsException", "EndpointConnectionError")
INVOKE_BACKOFF_S = 0.5     # full jitter up to this times 2**try before a retried invoke


def invoke_backoff(attempt: int) -> None:
    """Wait before trying again an invocation whose try ``attempt`` was not run (an Invoke
    or a function URL request): exponential backoff with full jitter."""
    time.sleep(random.uniform(0, INVOKE_BACKOFF_S * 2 ** attempt))


_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{12,}\b")
_SECRETS = re.compile(r"(?i)(aws_secret_access_key|aws_session_token|secret_?access_?key|"
                      r"session_?token|x-amz-security-token|x-amz-signature|signature|"
                      r"credential)(\s*[=:]\s*)[^\s&,;'\"]+")


def redact(text: str) -> str:
    """``text`` without anything that looks like an AWS key id, secret or token."""
    return _SECRETS.sub(r"\1\2<redacted>", _KEY_ID.sub("<redacted>", text))


@dataclass(frozen=True)
class Endpoints:
    region: str
    profile: str | None = None
    endpoint_url: str | None = None           # control plane; None: AWS
    invoke_endpoint_url: str | None = None    # Invoke; None: AWS
    url_endpoint_url: str | None = None       # function URL requests (--via url); None: AWS


class Clients:
    """The clients one run uses. ``invoke_timeout_s``: the functions' timeout, so that an
    invocation's answer is waited for as long as Lambda may take."""

    def __init__(self, endpoints: Endpoints, invoke_timeout_s: float = 60.0,
                 max_connections: int = 10, attempts: int = CONTROL_ATTEMPTS):
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        try:
            session = boto3.session.Session(profile_name=endpoints.profile,
                                            region_name=endpoints.region)
        except BotoCoreError as exc:
            raise EnvironmentUnavailable(f"AWS: {redact(str(exc))}") from None
        self.region = endpoints.region
        self._session = session
        self.partition = session.get_partition_for_region(endpoints.region)
        control = Config(retries={"mode": "adaptive", "total_max_attempts": attempts},
                         connect_timeout=10, read_timeout=60,
                         max_pool_connections=max_connections,
                         user_agent_extra=f"coldbench/{__version__}")
        # standard mode: adaptive mode's client-side rate limiter would delay the request
        # inside the timed e2e span; one attempt: retries are the target's (see above)
        invoke = Config(retries={"mode": "standard", "total_max_attempts": 1},
                        connect_timeout=10, read_timeout=invoke_timeout_s + 30,
                        max_pool_connections=max_connections, tcp_keepalive=True,
                        user_agent_extra=f"coldbench/{__version__}")
        url = endpoints.endpoint_url
        self.lambda_ = session.client("lambda", endpoint_url=url, config=control)
        self.iam = session.client("iam", endpoint_url=url, config=control)
        self.logs = session.client("logs", endpoint_url=url, config=control)
        self.sts = session.client("sts", endpoint_url=url, config=control)
        self.ecr = session.client("ecr", endpoint_url=url, config=control)   # --package image
        self.invoke = session.client("lambda", endpoint_url=endpoints.invoke_endpoint_url,
                                     config=invoke)

    def credentials(self):
        """The caller's credentials as they are now (refreshed if they expire), for
        signing requests that go through no boto3 client (``function_urls``)."""
        return self._session.get_credentials().get_frozen_credentials()

    def check_credentials(self) -> None:
        """EnvironmentUnavailable unless the credentials work (STS GetCallerIdentity)."""
        try:
            self.sts.get_caller_identity()
        except Exception as exc:  # noqa: BLE001 - any failure here means: cannot go on
            raise EnvironmentUnavailable(
                f"AWS credentials do not work in {self.region}: {describe(exc)} (configure "
                "them with 'aws configure', --aws-profile or the AWS_* variables)") from None


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def unavailable(exc: BaseException) -> EnvironmentUnavailable | None:
    """An AWS API error (AccessDenied, a missing quota, ...) as one line for the CLI:
    ``AWS: <operation>: <code>: <message>``; None for anything else."""
    if error_code(exc) is None:
        return None
    return EnvironmentUnavailable(f"AWS: {describe(exc)}")


def describe(exc: BaseException) -> str:
    """One line for an AWS failure: the error code and message, or botocore's text."""
    code = error_code(exc)
    if code is not None:
        message = exc.response.get("Error", {}).get("Message") or ""
        operation = getattr(exc, "operation_name", "")
        text = f"{operation}: {code}: {message}" if operation else f"{code}: {message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact(" ".join(text.split()))
