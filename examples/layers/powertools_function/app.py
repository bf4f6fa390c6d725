"""A hello function (the contract of functions/README.md) with AWS Lambda Powertools' Logger,
Tracer and Metrics around its handler, as Powertools' documentation sets them up, when
the Powertools layer is there; without the layer, the plain handler. Measured with
`coldbench run --function examples/layers/powertools_function --runtime python --layer
POWERTOOLS --layer-overhead` (see examples/layers/README.md)."""

import hashlib
import os
import uuid

INSTANCE_ID = uuid.uuid4().hex
BUFFER = bytes(range(256)) * 16            # the 4 KiB every built-in function hashes
invocations = 0


def _handler(event, context):
    global invocations
    invocations += 1
    digest = BUFFER
    for _ in range(int(event.get("work", 0))):
        digest = hashlib.sha256(digest).digest()
    return {"cold": invocations == 1 and os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")
            != "provisioned-concurrency", "instance_id": INSTANCE_ID,
            "invocation": invocations, "runtime": "python"}


try:
    from aws_lambda_powertools import Logger, Metrics, Tracer
except ImportError:                         # measured without the layer
    handler = _handler
else:
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "coldbench")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "coldbench")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")   # no X-Ray daemon here
    logger, tracer, metrics = Logger(), Tracer(), Metrics()
    handler = logger.inject_lambda_context(
        tracer.capture_lambda_handler(metrics.log_metrics(_handler)))
