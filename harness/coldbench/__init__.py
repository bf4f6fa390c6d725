"""coldbench: what a Lambda cold start costs, per runtime and memory size."""

__version__ = "0.1.0"
