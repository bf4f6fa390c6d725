"""What every document coldbench writes says about the machine and the moment it was
written on (as pyperf's ``collect_metadata``): collected once, here."""

from __future__ import annotations

import os
import platform
import socket
from datetime import datetime, timezone
from pathlib import Path

from coldbench import __version__


def cpu_model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def collect_metadata() -> dict:
    """coldbench's version and the machine: host, platform, CPU model and count."""
    return {
        "coldbench_version": __version__,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu_model_name(),
        "cpus": os.cpu_count(),
    }
