"""``--via url`` on AWS: every invocation through the function's own function URL.

Each function of the run gets a function URL (CreateFunctionUrlConfig, ``AuthType``
``AWS_IAM``), deleted before the function at the end of the run and found by
``coldbench cleanup`` with it (``resources``). A sample is one HTTP POST of the plan's
event, signed with Signature Version 4 from the caller's credentials (botocore's signer,
service ``lambda``: AWS Lambda Developer Guide, "Invoking Lambda function URLs", AWS_IAM
requests must be signed) and sent with httpx; the client observes its latency
(``url_ms``, also the sample's ``e2e_ms``). The caller needs both
``lambda:InvokeFunctionUrl`` and ``lambda:InvokeFunction`` ("Control access to Lambda
function URLs": both are required of URLs created since October 2025).

A function URL answers with the function's response only, not its log: Init Duration,
Duration and Max Memory Used come from the REPORT line Lambda writes to the function's
log group, found by the request id the answer carries (``x-amzn-RequestId``) with
FilterLogEvents, polled until it is there (CloudWatch Logs takes seconds to deliver it;
after ``LOG_WAIT_S`` the sample is an error, ``Coldbench.NoReport``).

The function receives the request as payload format 2.0 ("Invoking Lambda function URLs":
"Request and response payloads"); its answer is the HTTP body (JSON), a function error a
502. ``url_endpoint_url`` sends the requests to a local stand-in instead, the function
URL's host kept in the ``Host`` header, as signed.
"""

from __future__ import annotations

import json
import time
from typing import Callable
from urllib.parse import urlsplit

from coldbench.phases import ms_between, now_ns
from coldbench.targets.aws import invoke as invocation
from coldbench.targets.aws import lambda_report as reports
from coldbench.targets.aws import resources
from coldbench.targets.aws.client import INVOKE_ATTEMPTS, Clients, describe, invoke_backoff
from coldbench.targets.aws.copies import Copy
from coldbench.targets.base import Invoked

AUTH_TYPE = "AWS_IAM"
LOG_WAIT_S = 120.0          # how long a REPORT line is looked for in CloudWatch Logs
LOG_POLL_S = 1.0            # between two looks
# Lambda's answer to a function that raised, timed out or crashed behind its URL
FUNCTION_ERROR_STATUS = 502


def create(clients: Clients, function: str, ledger: resources.Ledger) -> str:
    """The function's URL (CreateFunctionUrlConfig, AWS_IAM), in the ledger first."""
    ledger.add("urls", function)
    config = clients.lambda_.create_function_url_config(FunctionName=function,
                                                        AuthType=AUTH_TYPE)
    return config["FunctionUrl"]


class UrlCaller:
    """Signed requests to function URLs, and their REPORT lines from CloudWatch Logs."""

    def __init__(self, clients: Clients, timeout_s: float, endpoint_url: str | None = None,
                 log_wait_s: float = LOG_WAIT_S, log_poll_s: float = LOG_POLL_S,
                 stop: Callable[[], bool] = lambda: False):
        import httpx

        self.clients = clients
        self.endpoint_url = endpoint_url
        self.log_wait_s = log_wait_s
        self.log_poll_s = log_poll_s
        self.stop = stop
        self.http = httpx.Client(timeout=timeout_s + 30)

    def _signed(self, url: str, body: bytes) -> tuple[str, dict[str, str]]:
        """Where to send a POST of ``body`` to ``url``, and its headers, SigV4-signed."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = self.clients.credentials()
        request = AWSRequest(method="POST", url=url, data=body,
                             headers={"Content-Type": "application/json"})
        SigV4Auth(credentials, "lambda", self.clients.region).add_auth(request)
        headers = dict(request.headers.items())
        parts = urlsplit(url)
        headers["Host"] = parts.netloc
        if self.endpoint_url is None:
            return url, headers
        return self.endpoint_url.rstrip("/") + (parts.path or "/"), headers

    def call(self, copy: Copy, event: dict,
             attempts: int = INVOKE_ATTEMPTS) -> tuple[Invoked, bool]:
        """One request to ``copy``'s URL: the sample and whether the environment lives on.
        A throttle (429) is tried again up to ``attempts`` in all, as an Invoke is."""
        import httpx

        body = json.dumps(event).encode()
        extra: dict = {"region": self.clients.region, "function_name": copy.function}
        for attempt in range(1, attempts + 1):
            where, headers = self._signed(copy.url, body)     # signed when sent
            started = now_ns()
            try:
                answer = self.http.post(where, content=body, headers=headers)
            except httpx.HTTPError as exc:
                return Invoked(duration_ms=None, e2e_ms=ms_between(started, now_ns()),
                               extra=extra, error={
                                   "type": "Coldbench.UrlRequestFailed", "phase": "invoke",
                                   "message": f"{type(exc).__name__}: {exc}"}), False
            latency_ms = ms_between(started, now_ns())
            if answer.status_code == 429 and attempt < attempts:
                invoke_backoff(attempt)
                continue
            break
        extra |= {"url_ms": round(latency_ms, 3), "url_status": answer.status_code}
        try:
            document = answer.json()
        except ValueError:
            document = answer.text
        request_id = answer.headers.get("x-amzn-RequestId")
        # refused before the function ran, so no REPORT to look for: throttled, or denied
        # (Lambda names the error in x-amzn-ErrorType; a 403 the function answers has none)
        denied = answer.status_code == 403 and "x-amzn-ErrorType" in answer.headers
        if answer.status_code == 429 or denied or request_id is None:
            kind = ("TooManyRequestsException" if answer.status_code == 429 else
                    "AccessDeniedException" if answer.status_code == 403 else
                    "Coldbench.UrlRequestFailed")
            return Invoked(duration_ms=None, e2e_ms=latency_ms, extra=extra, error={
                "type": kind, "phase": "invoke",
                "message": f"the function URL answered {answer.status_code}: "
                           f"{str(document)[:300]}"}), False
        answered = now_ns()
        report, failure = self.report(copy.function, request_id, started)
        # after the answer, not part of any latency: the idle sweep counts from the answer
        extra["report_wait_ms"] = round(ms_between(answered, now_ns()), 3)
        return invocation.sample(
            report, document, answer.status_code == FUNCTION_ERROR_STATUS, latency_ms, extra,
            missing=f"no REPORT line of request {request_id} in the log group "
                    f"{resources.log_group(copy.function)} after {self.log_wait_s:g} s"
                    + (f" ({failure})" if failure else ""))

    def report(self, function: str, request_id: str,
               started_ns: int) -> tuple[reports.Report | None, str | None]:
        """The REPORT line of ``request_id`` in the function's log group, once delivered;
        else None and why the last look failed, if it did."""
        deadline = time.monotonic() + self.log_wait_s
        since_ms = int(time.time() * 1000 - ms_between(started_ns, now_ns())) - 60_000
        while True:
            try:
                pages = self.clients.logs.get_paginator("filter_log_events").paginate(
                    logGroupName=resources.log_group(function), startTime=since_ms,
                    filterPattern=f'"{request_id}"')
                lines = "\n".join(event["message"].rstrip("\n")
                                  for page in pages for event in page["events"])
            except Exception as exc:  # noqa: BLE001 - not delivered yet, or denied: wait
                lines, failure = "", describe(exc)
            else:
                failure = None
            report = reports.find(lines, request_id)
            if report is not None:
                return report, None
            if time.monotonic() >= deadline or self.stop():
                return None, failure and f"CloudWatch Logs: {failure}"
            time.sleep(self.log_poll_s)

    def close(self) -> None:
        self.http.close()
