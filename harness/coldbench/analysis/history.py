"""The history store: every run kept under a results folder, one file per run, side by side
whatever target ran it (the run metadata tells them apart).

Layout of the folder (``results/`` unless told otherwise)::

    runs/<run_id>.json   the results file of one run, as `coldbench run` wrote it; never replaced
    index.csv            one row per run, configuration and mode with the summary figures
                         (``pandas.read_csv``); derived from runs/, rebuilt from it when needed
    partial/             results files of runs still being measured, or interrupted: a run
                         joins runs/ only once it has finished
    .lock                held (flock) by the one process that writes at a time

A run file is written under a temporary name and hard-linked into place, which fails rather
than replace a file of the same name; the index is then rewritten whole and renamed over the
old one. A writer that dies between the two leaves a run that the index lacks: readers list
runs/ and summarise such a run on the fly, and the next writer adds it to the index. Readers
never wait for the lock: they see the old index or the new one, never half of one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coldbench import files
from coldbench.analysis.summary import summarize_samples
from coldbench.errors import ResultsError
from coldbench.results.schema import Results, load, new_run_id, region_of

DEFAULT_DIR = Path("results")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
REF = re.compile(r"^latest(?:~(\d+))?$")
READABLE = 0o644          # kept runs are published: readable by all, like any results file

# index.csv columns: who ran what, then the summary of one mode's figure (summary.py)
INDEX_COLUMNS = [
    "run_id", "started_at", "ended_at", "target", "host", "cpu", "coldbench_version",
    "function", "runtime", "runtime_version", "source_digest", "memory_mb", "variant", "region",
    "mode",
    "attempts", "failures", "misclassified", "n", "min", "p50", "p90", "p99", "max", "mean",
    "stdev", "ci_low", "ci_high", "init_p50",
]


@dataclass(frozen=True)
class Added:
    run_id: str
    path: Path
    new: bool          # False: this very run was already in the history
    replaced: bool = False   # a damaged copy of this run was kept: this one took its place


def run_id_of(results: Results, raw: bytes, path: Path | str = "the results file") -> str:
    """The run's own id, or for files written before run ids existed one made from its
    start time and content (the same file always gets the same id). A file with neither
    is refused: a history is ordered by when runs started."""
    run_id = results.run.get("run_id")
    if run_id:
        if not RUN_ID.match(str(run_id)):
            raise ResultsError(f"run id '{run_id}' cannot name a file: use letters, digits, "
                               "'.', '_' and '-'")
        return str(run_id)
    started = re.sub(r"[^0-9]", "", str(results.run.get("started_at") or ""))[:14]
    if len(started) != 14:
        raise ResultsError(f"{path}: the run has no run_id and no started_at, so it cannot "
                           "take its place in a history; was it written by `coldbench run`?")
    return f"{started[:8]}T{started[8:]}Z-{hashlib.sha256(raw).hexdigest()[:8]}"


def index_rows(run_id: str, results: Results) -> list[dict]:
    """The index rows of one run: one per configuration and mode."""

    run = results.run
    functions = {(f.get("name"), f.get("runtime")): f for f in run.get("functions", [])}
    regions: dict = {}          # AWS: the regions of each configuration's samples
    for s in results.samples:
        region = region_of(s, run)
        if region:
            regions.setdefault(s.key, set()).add(region)
    rows = []
    for config in summarize_samples(results.samples):
        function = functions.get((config.function, config.runtime), {})
        for mode, m in config.modes.items():
            row = {
                "run_id": run_id, "started_at": run.get("started_at"),
                "ended_at": run.get("ended_at"), "target": run.get("target"),
                "host": run.get("host"), "cpu": run.get("cpu"),
                "coldbench_version": run.get("coldbench_version"),
                "function": config.function, "runtime": config.runtime,
                "memory_mb": config.memory_mb, "variant": config.variant.label(),
                "region": ",".join(sorted(regions.get(config.key, ()))) or None,
                "runtime_version": run.get("runtime_versions", {}).get(config.runtime),
                "source_digest": function.get("source_digest"),
                "mode": mode, "attempts": m.attempts,
                "failures": m.failures, "misclassified": m.misclassified,
                "n": m.figure.n if m.figure else 0,
                "init_p50": m.init.p50 if m.init else None,
            }
            for key in ("min", "p50", "p90", "p99", "max", "mean", "stdev", "ci_low", "ci_high"):
                row[key] = getattr(m.figure, key) if m.figure else None
            rows.append(row)
    return rows


class History:
    """The runs kept under ``root``."""

    def __init__(self, root: Path = DEFAULT_DIR):
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.index_path = self.root / "index.csv"

    # -- writing (one writer at a time) ------------------------------------------------

    @contextmanager
    def _writer(self):
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"cannot create history folder {self.runs_dir}: {exc}") from None
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add(self, path: Path) -> Added:
        """Keep the finished run in results file ``path``, whole: a file that ``load``
        refuses (a line that is not a sample, cut short) or whose run has not finished is
        refused. Adding the same run twice is a no-op; a different run under an id already
        kept is refused, unless the kept copy is damaged (kept by a coldbench that read past
        damage): then this intact one replaces it."""
        results = load(path)
        if results.incomplete:
            raise ResultsError(f"{results.incomplete}: only whole, finished runs go into "
                               "the history")
        raw = Path(path).read_bytes()
        if not results.run.get("ended_at"):
            raise ResultsError(f"{path}: the run has not finished (no ended_at); only "
                               "finished runs go into the history")
        if results.run.get("completed") is False:    # absent in files older than the key
            raise ResultsError(f"{path}: the run was interrupted or failed before it finished; "
                               "only completed runs go into the history (measure it again)")
        run_id = run_id_of(results, raw, path)
        with self._writer():
            target = self.runs_dir / f"{run_id}.json"
            fd, tmp = tempfile.mkstemp(prefix=f".{run_id}.", dir=self.runs_dir)
            try:
                with os.fdopen(fd, "wb") as out:
                    os.fchmod(out.fileno(), READABLE)
                    out.write(raw)
                    out.flush()
                    os.fsync(out.fileno())
                replaced = False
                try:
                    os.link(tmp, target)          # never replaces an existing file
                    new = True
                except FileExistsError:
                    new = False
                    if target.read_bytes() != raw:
                        if not _damaged(target):
                            raise ResultsError(f"run {run_id} is already in {self.root} with "
                                               "different content; a kept run is never "
                                               "replaced") from None
                        os.replace(tmp, target)
                        replaced = True
            finally:
                Path(tmp).unlink(missing_ok=True)
            self._update_index(refresh={run_id} if replaced else set())
        return Added(run_id, target, new, replaced)

    def partial_path(self) -> Path:
        """A new results file in partial/ for `coldbench run --history` to write as it
        measures; ``add`` keeps it once the run has finished."""
        folder = self.root / "partial"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"cannot create history folder {folder}: {exc}") from None
        return folder / f"{new_run_id()}.json"

    def reindex(self) -> int:
        """Rebuild index.csv from runs/; returns the number of runs."""
        with self._writer():
            return self._update_index(rebuild=True)

    def _update_index(self, rebuild: bool = False, refresh: set[str] = frozenset()) -> int:
        """Bring index.csv up to runs/: add the runs it lacks, drop those gone, and
        summarise the runs in ``refresh`` again (their file was replaced)."""
        import pandas as pd

        index = None if rebuild else self._read_index()
        known = set() if index is None else set(index["run_id"]) - set(refresh)
        ids = self.run_ids_on_disk()
        missing = [i for i in ids if i not in known]
        stale = (known - set(ids)) | set(refresh)
        if not missing and not stale and index is not None:
            return len(ids)
        rows = [row for run_id in missing for row in index_rows(run_id, self.load_run(run_id))]
        added = pd.DataFrame(rows, columns=INDEX_COLUMNS)
        if index is not None:
            index = index[~index["run_id"].isin(stale)]
        frames = [f for f in (index, added) if f is not None and not f.empty]
        table = (pd.concat(frames, ignore_index=True) if frames
                 else pd.DataFrame(columns=INDEX_COLUMNS))
        table = table.sort_values(
            ["run_id", "runtime", "function", "memory_mb", "variant", "region", "mode"],
            kind="stable")
        files.replace_file(self.index_path, table.to_csv(index=False, columns=INDEX_COLUMNS))
        return len(ids)

    # -- reading (no lock) -------------------------------------------------------------

    def run_ids_on_disk(self) -> list[str]:
        """Every kept run, oldest first (run ids sort by start time)."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.stem for p in self.runs_dir.glob("*.json") if not p.name.startswith("."))

    def _read_index(self):
        import pandas as pd

        if not self.index_path.exists():
            return None
        try:
            index = pd.read_csv(self.index_path,
                                dtype={"run_id": str, "source_digest": str, "variant": str,
                                       "region": str})
        except (OSError, ValueError, pd.errors.EmptyDataError):
            return None                 # unreadable: rebuilt from runs/ by the next writer
        # columns of an older coldbench (no variant): rebuilt from runs/ the same way
        return index if list(index.columns) == INDEX_COLUMNS else None

    def index(self):
        """The index as a DataFrame, with runs a dead writer left out of index.csv added."""
        import pandas as pd

        index = self._read_index()
        known = set() if index is None else set(index["run_id"])
        ids = self.run_ids_on_disk()
        rows = [row for run_id in ids if run_id not in known
                for row in index_rows(run_id, self.load_run(run_id))]
        frames = [f for f in (index, pd.DataFrame(rows, columns=INDEX_COLUMNS))
                  if f is not None and not f.empty]
        if not frames:
            return pd.DataFrame(columns=INDEX_COLUMNS)
        table = pd.concat(frames, ignore_index=True)
        return table[table["run_id"].isin(ids)].reset_index(drop=True)

    def runs(self, target: str | None = None) -> list[dict]:
        """One dict per kept run, oldest first: run_id, started_at, target, host, cpu."""
        index = self.index()
        if index.empty:
            return []
        runs = (index.drop_duplicates("run_id")[["run_id", "started_at", "target", "host", "cpu"]]
                .sort_values("run_id"))
        if target:
            runs = runs[runs["target"] == target]
        return [{k: (None if v != v else v) for k, v in r.items()}     # NaN -> None
                for r in runs.to_dict("records")]

    def load_run(self, run_id: str) -> Results:
        try:
            return load(self.runs_dir / f"{run_id}.json")
        except ResultsError as exc:
            raise ResultsError(f"{exc} (a damaged run kept by an earlier coldbench: replace "
                               f"it with an intact copy of the results file, coldbench "
                               f"history --history {self.root} add FILE)") from None

    def resolve(self, ref: str, target: str | None = None) -> Path:
        """The file of a run named by ``latest``, ``latest~N`` (N runs before the latest),
        a run id or a unique prefix of one; ``target`` narrows ``latest`` to one target."""
        match = REF.match(ref)
        if match:
            ids = [r["run_id"] for r in self.runs(target)]
            back = int(match.group(1) or 0)
            if back >= len(ids):
                where = f" of target {target}" if target else ""
                held = f"{len(ids)} run{'' if len(ids) == 1 else 's'}{where}"
                raise ResultsError(f"{ref}: the history in {self.root} holds {held}; run "
                                   f"`coldbench run --history {self.root}` to add some")
            return self.runs_dir / f"{ids[-1 - back]}.json"
        ids = self.run_ids_on_disk()
        if ref in ids:
            return self.runs_dir / f"{ref}.json"
        candidates = [i for i in ids if i.startswith(ref)] if len(ref) >= 4 else []
        if len(candidates) == 1:
            return self.runs_dir / f"{candidates[0]}.json"
        if len(candidates) > 1:
            raise ResultsError(f"'{ref}' names {len(candidates)} runs in {self.root}: "
                               "give more of the run id")
        raise ResultsError(f"{ref}: no such results file, and no run of that name in the "
                           f"history {self.root} (give a file, a run id from `coldbench "
                           "history`, latest or latest~N)")


def _damaged(path: Path) -> bool:
    """A kept run file that ``load`` refuses, or reads only in part."""
    try:
        return load(path).incomplete is not None
    except ResultsError:
        return True


def open_run(ref: str | Path, history_dir: Path = DEFAULT_DIR,
             target: str | None = None) -> tuple[Path, Results]:
    """A results file or a history reference -> (its path, its results)."""
    path = Path(ref)
    if path.is_file() or path.suffix == ".json" or "/" in str(ref):
        return path, load(path)            # a file, or meant to be one: its own error
    path = History(history_dir).resolve(str(ref), target)
    return path, load(path)
