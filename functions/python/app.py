"""The coldbench function (contract: functions/README.md)."""

import hashlib
import os
import platform
import secrets

BUF = bytes(i % 256 for i in range(4096))
INSTANCE_ID = secrets.token_hex(8)
INITIALIZATION_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    work = int((event or {}).get("work", 0))
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
