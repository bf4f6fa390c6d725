"""The model every coldbench package may import, and which imports none of them: a
configuration (``Config``), its key and label (``ConfigKey``), its variant as typed fields
(``Variant``), the plan of samples (``Plan``), a built function (``Artifact``), an
invocation and the environment that serves it (``Invoked``, ``Environment``), idle
intervals, run metadata and the median."""

from coldbench.model.architecture import ARCHITECTURES, DEFAULT_ARCHITECTURE, host_architecture
from coldbench.model.artifact import Artifact
from coldbench.model.config import (BUILTIN_FUNCTION, BUILTIN_RUNTIMES, Config, ConfigKey,
                                    Plan, runtime_rank)
from coldbench.model.intervals import interval_text, parse_interval
from coldbench.model.invocation import Environment, Invoked
from coldbench.model.metadata import collect_metadata, cpu_model_name, now_iso
from coldbench.model.options import RunOptions
from coldbench.model.stats import median
from coldbench.model.variant import Variant

__all__ = ["ARCHITECTURES", "Artifact", "BUILTIN_FUNCTION", "DEFAULT_ARCHITECTURE", "BUILTIN_RUNTIMES", "Config", "ConfigKey",
           "Environment", "Invoked", "Plan", "RunOptions", "Variant", "collect_metadata", "cpu_model_name",
           "host_architecture", "interval_text", "median", "now_iso", "parse_interval",
           "runtime_rank"]
