"""An example Python function for `coldbench ab` and the pull-request check (action.yml):
it does little at init, so a change that adds to init shows (examples/ab-function/README.md).
It reports its own cold flag, as functions/README.md asks."""

import json
import os

invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    cold = (invocations == 1
            and os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "provisioned-concurrency")
    return {"cold": cold, "invocation": invocations, "echo": json.dumps(event)}
