"""Expected failures, each with the exit status the CLI gives it.

Unexpected exceptions are not caught: they keep their traceback.
"""

from __future__ import annotations

# Exit statuses of the `coldbench` command (documented in the README).
EXIT_OK = 0
EXIT_FAILED_SAMPLES = 1   # the run finished, but some configuration has no valid sample
EXIT_USAGE = 2            # bad input or an unusable environment; nothing was measured
EXIT_REGRESSION = 3       # `coldbench compare` found a regression
EXIT_INTERRUPTED = 130    # Ctrl-C or SIGTERM; results written so far are kept


class ColdbenchError(Exception):
    """A failure coldbench expects; the message says what to do about it."""

    exit_status = EXIT_USAGE


class UsageError(ColdbenchError):
    """Bad command-line input."""


class MissingToolchain(ColdbenchError):
    """A compiler or runtime needed to build or start a function is not installed."""


class BuildError(ColdbenchError):
    """A function failed to build."""


class ResultsError(ColdbenchError):
    """A results file cannot be read or written, or another file or folder coldbench is
    asked to write (``coldbench.files``)."""


class EnvironmentUnavailable(ColdbenchError):
    """The place to run functions (cgroups, a Docker engine, an AWS account) is not usable."""
