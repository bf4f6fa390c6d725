"""Validation case: a function whose init imports Powertools for AWS Lambda (Python)'s Logger
and parser, creates a Logger and defines a model, as aws-powertools/powertools-lambda-layer-cdk#10
measured it ("importing Parser and Logging", against an empty handler) with the Powertools
layer built two ways: pydantic compiled with Cython ("optimized", powertools-layer-2022-compiled)
and pure Python ("unoptimized", powertools-layer-2022-pure, whose app.py is this file); both
builds deleted the bytecode. The event is validated with the model. The response follows
functions/README.md."""

import hashlib
import os
import platform
import secrets

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import BaseModel, parse

logger = Logger(service="validation")
BUF = bytes(i % 256 for i in range(4096))
INSTANCE_ID = secrets.token_hex(8)
INITIALIZATION_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
invocations = 0


class Work(BaseModel):
    work: int = 0


def handler(event, context):
    global invocations
    invocations += 1
    work = parse(event=event or {}, model=Work).work
    state = b""
    for _ in range(work):
        state = hashlib.sha256(state + BUF).digest()
    return {
        "runtime": "python",
        "runtime_version": platform.python_version(),
        "cold": invocations == 1 and INITIALIZATION_TYPE != "provisioned-concurrency",
        "instance_id": INSTANCE_ID,
        "invocation": invocations,
        "initialization_type": INITIALIZATION_TYPE,
        "work": work,
        "digest": state.hex(),
    }
