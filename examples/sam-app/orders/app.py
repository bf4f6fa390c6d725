"""Orders: answers with what its environment looks like from inside, so that the
definition's memory size, timeout and variables can be checked where they land."""

import os
import secrets

INSTANCE_ID = secrets.token_hex(8)
INITIALIZATION_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    return {
        "function": "orders",
        "cold": invocations == 1 and INITIALIZATION_TYPE != "provisioned-concurrency",
        "instance_id": INSTANCE_ID,
        "invocation": invocations,
        "memory_mb": int(context.memory_limit_in_mb),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
        "environment": {name: os.environ.get(name)
                        for name in ("TABLE_NAME", "TABLE_ARN", "QUEUE_URL", "STAGE",
                                     "LOG_LEVEL")},
    }
