"""The greeter service's two functions: each answers with what its environment looks like
from inside, so that the definition's memory size, timeout and variables can be checked
where they land."""

import os
import secrets

INSTANCE_ID = secrets.token_hex(8)
INITIALIZATION_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
invocations = 0


def _seen(name, context):
    global invocations
    invocations += 1
    return {
        "function": name,
        "cold": invocations == 1 and INITIALIZATION_TYPE != "provisioned-concurrency",
        "instance_id": INSTANCE_ID,
        "invocation": invocations,
        "memory_mb": int(context.memory_limit_in_mb),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
        "environment": {key: os.environ.get(key)
                        for key in ("SERVICE", "STAGE", "LOG_LEVEL", "TABLE", "API_KEY")},
        "packaged": sorted(os.listdir(os.environ["LAMBDA_TASK_ROOT"])),
    }


def hello(event, context):
    return _seen("hello", context)


def report(event, context):
    return _seen("report", context)
