"""Progress of a run on stderr: a bar with count and time left on a terminal, one plain
line per sample otherwise (logs, CI)."""

from __future__ import annotations

import sys

from coldbench.render.table import ms
from coldbench.results.schema import Sample


def describe(sample: Sample) -> str:
    """One line about a sample: "python 128 MB cold: 59.8 ms"."""
    where = f"{sample.key} {sample.mode}"
    if sample.error:
        return f"{where}: {sample.error.get('type')}: {sample.error.get('message', '')[:120]}"
    flag = " (misclassified)" if sample.misclassified else ""
    return f"{where}: {ms(sample.figure)} ms{flag}"


class Progress:
    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.count = 0
        self.bar = None
        if not quiet and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                       TextColumn, TimeRemainingColumn)
            self.bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn(), console=Console(file=self.stream),
                           transient=True)
            self.task = None

    def __enter__(self):
        if self.bar:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar:
            self.bar.__exit__(*exc)

    def status(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar:
            self.bar.console.print(text)
        else:
            print(text, file=self.stream, flush=True)

    def sample(self, sample: Sample, total: int) -> None:
        self.count += 1
        if self.quiet:
            return
        if self.bar:
            if self.task is None:
                self.task = self.bar.add_task("measuring", total=total)
            self.bar.update(self.task, completed=min(self.count, total),
                            description=describe(sample)[:60])
        else:
            print(f"[{self.count:>4}/{total}] {describe(sample)}", file=self.stream, flush=True)
