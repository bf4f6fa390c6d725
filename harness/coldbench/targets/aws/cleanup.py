"""The end of an AWS run: everything in its ledger deleted, with the signals that would
interrupt the deletion deferred, and a closed terminal (SIGHUP) taken as Ctrl-C so that
the deletion runs. What a killed run left is found by tag instead (``plugin.Aws``)."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable

from coldbench.targets.aws import resources
from coldbench.targets.aws.client import Clients


def delete_created(clients: Clients, ledger: resources.Ledger, run_id: str, region: str,
                   status: Callable[[str], None], announce: Callable[[str], None]) -> None:
    """Delete what the run created; what could not be deleted is announced, with the
    command that tries again."""
    created = ([resources.Resource("function URL", f, run_id) for f in ledger.urls]
               + [resources.Resource("function", f, run_id) for f in ledger.functions]
               + [resources.Resource("layer", name, run_id) for name in ledger.layers]
               + [resources.Resource("repository", r, run_id) for r in ledger.repositories]
               + [resources.Resource("log group", g, run_id) for g in ledger.log_groups]
               + ([resources.Resource("role", ledger.role, run_id)]
                  if ledger.role else []))
    if not created:
        return
    images = (f"the repository {', '.join(ledger.repositories)} with its images, "
              if ledger.repositories else "")
    layers = f"{len(ledger.layers)} layers, " if ledger.layers else ""
    urls = f"{len(ledger.urls)} function URLs, " if ledger.urls else ""
    status(f"deleting {urls}{len(ledger.functions)} functions, {layers}{images}{len(ledger.log_groups)} "
           f"log groups{' and role ' + ledger.role if ledger.role else ''}")
    errors = resources.delete(clients, created)
    for line in errors:
        announce(f"could not delete {line}")
    if errors:
        announce(f"run 'coldbench cleanup --target aws --region "
                 f"{region} --run-id {run_id}' to try again")


def catch_hangup():
    """A closed terminal (SIGHUP) ends the run as Ctrl-C does: cleanup runs. The handler
    it replaces, for ``restore_hangup`` (None off the main thread)."""
    if threading.current_thread() is threading.main_thread():
        def interrupt(signum, frame):
            raise KeyboardInterrupt
        return signal.signal(signal.SIGHUP, interrupt)
    return None


def restore_hangup(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGHUP, previous)


@contextmanager
def signals_deferred(status: Callable[[str], None]):
    """While cleanup runs, Ctrl-C, SIGTERM and SIGHUP only say to wait."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def wait(signum, frame):
        status("cleaning up AWS resources: please wait (interrupting now would leave "
               "resources behind for 'coldbench cleanup --target aws')")
    saved = {s: signal.signal(s, wait) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
