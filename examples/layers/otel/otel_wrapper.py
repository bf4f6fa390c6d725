"""The handler the exec wrapper gives the function (``_HANDLER=otel_wrapper.lambda_handler``),
as the OpenTelemetry Lambda layer's: it imports the function's own handler, named by
``ORIG_HANDLER``, once auto-instrumentation has started, so its patches stay in place."""

import os
from importlib import import_module

_module, _name = os.environ["ORIG_HANDLER"].rsplit(".", 1)
lambda_handler = getattr(import_module(_module.replace("/", ".")), _name)
