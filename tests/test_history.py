"""The history store: round trips, never overwriting, consistency after a writer died."""

import json
import multiprocessing

import pandas as pd
import pytest

from coldbench.errors import ResultsError
from coldbench.model import Variant
from coldbench.analysis.history import INDEX_COLUMNS, History, open_run
from coldbench.results.schema import ResultsWriter, load

from conftest import make_sample, run_cli


def a_run(path, run_id, target="local", cold=(100.0, 110.0, 120.0), completed=True,
          variants=(None,)):
    """A results file as runner.run leaves it: ended_at always set, completed only when
    every sample was measured (``completed=None``: a file from before that key)."""
    run = {"run_id": run_id, "target": target, "host": "box", "cpu": "AMD EPYC",
           "started_at": f"2026-11-{run_id[6:8]}T{run_id[9:11]}:00:00+00:00",
           "ended_at": "2026-11-27T06:00:00+00:00", "completed": completed,
           "runtime_versions": {"go": "go1.26.8"},
           "functions": [{"name": "coldbench", "runtime": "go", "source_digest": "0701f742"}]}
    if completed is None:
        del run["completed"]
    writer = ResultsWriter(path, run=run)
    for k, variant in enumerate(variants):
        for value in cold:
            writer.add(make_sample(runtime="go", init_ms=value * (k + 1) - 1, e2e_ms=value + 1,
                                   billed_ms=value, max_memory_mb=9.0,
                                   variant=Variant(architecture=variant)))
    writer.add(make_sample(runtime="go", mode="warm", duration_ms=0.5, e2e_ms=0.6, billed_ms=1.0,
                           max_memory_mb=9.0))
    return path


def test_a_run_round_trips_and_the_index_holds_its_summary(tmp_path):
    path = a_run(tmp_path / "run.json", "20261127T050000Z-aaaa0001")
    history = History(tmp_path / "results")
    added = history.add(path)
    assert added.new and added.run_id == "20261127T050000Z-aaaa0001"
    assert added.path.read_bytes() == path.read_bytes()
    assert load(added.path) == load(path)
    index = pd.read_csv(tmp_path / "results" / "index.csv")
    assert list(index.columns) == INDEX_COLUMNS
    cold = index[index["mode"] == "cold"].iloc[0]
    assert (cold["runtime"], cold["memory_mb"], cold["n"], cold["p50"]) == ("go", 128, 3, 110.0)
    assert cold["runtime_version"] == "go1.26.8" and cold["target"] == "local"
    assert sorted(index["mode"]) == ["cold", "warm"]


def test_a_kept_run_is_never_overwritten(tmp_path):
    history = History(tmp_path / "results")
    first = a_run(tmp_path / "a.json", "20261127T050000Z-aaaa0001")
    assert history.add(first).new
    assert not history.add(first).new                   # the same run again: a no-op
    other = a_run(tmp_path / "b.json", "20261127T050000Z-aaaa0001", cold=(5.0, 6.0))
    kept = (tmp_path / "results" / "runs" / "20261127T050000Z-aaaa0001.json").read_bytes()
    with pytest.raises(ResultsError, match="never replaced"):
        history.add(other)
    assert (tmp_path / "results" / "runs" / "20261127T050000Z-aaaa0001.json").read_bytes() == kept
    assert len(history.runs()) == 1


def test_unfinished_runs_stay_out(tmp_path):
    path = a_run(tmp_path / "run.json", "20261127T050000Z-aaaa0001", completed=False)
    with pytest.raises(ResultsError, match="interrupted or failed"):
        History(tmp_path / "results").add(path)
    assert not (tmp_path / "results" / "runs").exists() or not list((tmp_path / "results" / "runs").iterdir())


def test_runs_from_before_completed_are_kept_when_they_ended(tmp_path):
    path = a_run(tmp_path / "run.json", "20261127T050000Z-aaaa0001", completed=None)
    assert History(tmp_path / "results").add(path).new


def test_the_index_keeps_variants_apart(tmp_path):
    path = a_run(tmp_path / "run.json", "20261127T050000Z-aaaa0001", target="aws",
                 variants=("x86_64", "arm64"))
    local = a_run(tmp_path / "local.json", "20261127T060000Z-aaaa0002")
    history = History(tmp_path / "results")
    history.add(path)
    history.add(local)
    index = pd.read_csv(tmp_path / "results" / "index.csv", keep_default_na=False)
    cold = index[index["mode"] == "cold"]
    assert sorted(zip(cold["run_id"].str[-4:], cold["variant"], cold["n"], cold["p50"])) == [
        ("0001", "arm64", 3, 220.0), ("0001", "x86_64", 3, 110.0), ("0002", "", 3, 110.0)]


def test_files_without_a_run_id_get_a_stable_one(tmp_path):
    path = a_run(tmp_path / "old.json", "20261127T050000Z-aaaa0001")
    document = json.loads(path.read_text())
    del document["run"]["run_id"]
    path.write_text(json.dumps(document))
    history = History(tmp_path / "results")
    first = history.add(path)
    assert first.run_id.startswith("20261127T050000Z-") and not history.add(path).new


def test_a_file_without_run_id_or_start_time_is_refused(tmp_path):
    path = a_run(tmp_path / "anonymous.json", "20261127T050000Z-aaaa0001")
    document = json.loads(path.read_text())
    del document["run"]["run_id"], document["run"]["started_at"]
    path.write_text(json.dumps(document))
    history = History(tmp_path / "results")
    with pytest.raises(ResultsError, match="no run_id and no started_at"):
        history.add(path)
    assert history.run_ids_on_disk() == []


def test_a_run_joins_once_its_writer_has_completed_the_file(tmp_path):
    path = tmp_path / "run.json"
    run = {"run_id": "20261127T050000Z-aaaa0001", "started_at": "2026-11-27T05:00:00+00:00",
           "target": "local", "ended_at": None, "completed": False}
    writer = ResultsWriter(path, run=run)
    for value in (100.0, 110.0):
        writer.add(make_sample(runtime="go", init_ms=value, billed_ms=value + 1))
    history = History(tmp_path / "results")
    with pytest.raises(ResultsError, match="has not finished"):
        history.add(path)                       # as it is while the run measures
    writer.results.run |= {"ended_at": "2026-11-27T05:01:00+00:00", "completed": True}
    writer.close()
    added = history.add(path)
    assert added.new and added.path.read_bytes() == path.read_bytes()
    assert history.index()["p50"].tolist() == [106.0]


def test_references_name_runs(tmp_path):
    history = History(tmp_path / "results")
    for i, target in enumerate(["local", "docker", "local"], start=1):
        history.add(a_run(tmp_path / f"{i}.json", f"20261127T0{i}0000Z-aaaa000{i}", target))
    runs = history.runs()
    assert [r["target"] for r in runs] == ["local", "docker", "local"]
    assert history.resolve("latest").stem == "20261127T030000Z-aaaa0003"
    assert history.resolve("latest~1").stem == "20261127T020000Z-aaaa0002"
    assert history.resolve("latest~1", target="local").stem == "20261127T010000Z-aaaa0001"
    assert history.resolve("20261127T02").stem == "20261127T020000Z-aaaa0002"
    with pytest.raises(ResultsError, match="holds 3 runs"):
        history.resolve("latest~3")
    with pytest.raises(ResultsError, match="names 3 runs"):
        history.resolve("2026")
    with pytest.raises(ResultsError, match="no such results file"):
        open_run("nightly", tmp_path / "results")
    assert open_run("latest", tmp_path / "results")[1].run["target"] == "local"


def test_a_writer_that_died_before_the_index_leaves_a_readable_history(tmp_path):
    history = History(tmp_path / "results")
    history.add(a_run(tmp_path / "1.json", "20261127T010000Z-aaaa0001"))
    # died after linking its run file, before rewriting the index
    orphan = a_run(tmp_path / "2.json", "20261127T020000Z-aaaa0002")
    (history.runs_dir / "20261127T020000Z-aaaa0002.json").write_bytes(orphan.read_bytes())
    (history.runs_dir / ".20261127T030000Z-x.json.tmp").write_text("half a fil")
    assert [r["run_id"] for r in history.runs()][-1] == "20261127T020000Z-aaaa0002"
    assert set(pd.read_csv(history.index_path)["run_id"]) == {"20261127T010000Z-aaaa0001"}
    history.add(a_run(tmp_path / "3.json", "20261127T030000Z-aaaa0003"))   # the next writer
    assert len(set(pd.read_csv(history.index_path)["run_id"])) == 3
    history.index_path.write_text("garbage\n\x00")
    assert history.reindex() == 3
    assert len(set(pd.read_csv(history.index_path)["run_id"])) == 3


def _add_many(root, first, count, folder):
    history = History(root)
    for i in range(first, first + count):
        history.add(a_run(folder / f"{i}.json", f"20261127T{i:02d}0000Z-aaaa{i:04d}"))


def test_concurrent_writers_leave_every_run_in_the_index(tmp_path):
    root = tmp_path / "results"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_add_many, args=(root, first, 6, tmp_path))
               for first in (0, 10)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    assert [w.exitcode for w in writers] == [0, 0]
    index = pd.read_csv(root / "index.csv")
    assert index["run_id"].nunique() == 12 and len(index) == 24


@pytest.mark.slow
def test_run_with_history_keeps_the_finished_run(tmp_path):
    root = tmp_path / "results"
    result = run_cli("run", "--runtimes", "go", "--memory", "128", "--cold", "2", "--warm", "2",
                     "--provisioned", "0", "--history", root, "--quiet")
    assert result.returncode == 0, result.stderr
    [run] = History(root).runs()
    assert f"kept as run {run['run_id']} in {root}" in result.stderr
    assert list((root / "partial").iterdir()) == []
    assert load(root / "runs" / f"{run['run_id']}.json").run["run_id"] == run["run_id"]
    listed = run_cli("history", "--history", root)
    assert listed.returncode == 0 and run["run_id"] in listed.stdout
