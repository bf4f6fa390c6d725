"""CPU architectures as Lambda names them, the one it deploys unless told otherwise, and
this machine's under those names."""

from __future__ import annotations

import platform

# Lambda's architectures ("Selecting and configuring an instruction set architecture for
# your Lambda function"): x86_64, the default, and arm64
ARCHITECTURES = ("x86_64", "arm64")
DEFAULT_ARCHITECTURE = ARCHITECTURES[0]
# what the kernel calls a machine (``uname -m``; "amd64" on some systems) -> Lambda's name
_LAMBDA_NAMES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def host_architecture() -> str:
    """This machine's architecture under Lambda's name ("x86_64", "arm64"); another
    machine's as the kernel names it."""
    machine = platform.machine().lower()
    return _LAMBDA_NAMES.get(machine, machine)
