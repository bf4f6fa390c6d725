import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from coldbench.errors import ResultsError
from coldbench.model import Variant
from coldbench.results.schema import (SCHEMA_VERSION, ConfigKey, ResultsWriter, Sample, load,
                                      runtime_rank)

from conftest import make_sample, run_cli


# a cold start with every figure set, so that what is read back shows each field
GO = dict(runtime="go", memory_mb=512, init_ms=40.5, duration_ms=1.25, e2e_ms=45.0,
          billed_ms=2.0, max_memory_mb=20.1)


def test_every_sample_is_on_disk_as_soon_as_it_is_taken(tmp_path):
    path = tmp_path / "run.json"
    writer = ResultsWriter(path, run={"target": "local"})
    writer.add(make_sample(**GO))
    document = json.loads(path.read_text())
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["run"] == {"target": "local"}
    assert document["samples"][0]["init_ms"] == 40.5
    writer.add(make_sample(**(GO | {"mode": "warm", "init_ms": None})))
    assert len(json.loads(path.read_text())["samples"]) == 2


def test_a_sample_is_appended_not_the_file_rewritten(tmp_path):
    path = tmp_path / "run.json"
    writer = ResultsWriter(path, run={"target": "local"})
    for k in range(3):
        writer.add(make_sample(**GO, invocation=k))
    before, inode = path.read_text(), path.stat().st_ino
    writer.add(make_sample(**GO, invocation=3))
    after = path.read_text()
    # the same file, its text kept up to the closing "]}", one line per sample
    assert path.stat().st_ino == inode
    assert after.startswith(before.removesuffix("\n]}\n"))
    assert after == textwrap.dedent("""\
        {"schema_version": %d, "run": {"target": "local"},
        "samples": [
        %s,
        %s,
        %s,
        %s
        ]}
        """) % (SCHEMA_VERSION,
                *(json.dumps(make_sample(**GO, invocation=k).to_json()) for k in range(4)))


def test_the_end_of_the_run_completes_the_document(tmp_path):
    path = tmp_path / "run.json"
    writer = ResultsWriter(path, run={"target": "local", "ended_at": None})
    writer.add(make_sample(**GO))
    writer.results.run |= {"ended_at": "2026-11-27T06:00:00+00:00", "completed": True}
    writer.close()
    document = json.loads(path.read_text())
    assert document["run"] == {"target": "local", "ended_at": "2026-11-27T06:00:00+00:00",
                               "completed": True}
    assert [Sample.from_json(s) for s in document["samples"]] == [make_sample(**GO)]


def test_nothing_is_written_before_the_first_sample_and_abandon_leaves_nothing(tmp_path):
    path = tmp_path / "run.json"
    writer = ResultsWriter(path, run={"target": "local"})
    assert not path.exists()
    writer.abandon()
    writer.close()
    assert list(tmp_path.iterdir()) == []


def test_round_trip_keeps_target_specific_fields(tmp_path):
    path = tmp_path / "run.json"
    writer = ResultsWriter(path, run={})
    writer.add(make_sample(**GO, extra={"container_start_ms": 310.0}))
    [sample] = load(path).samples
    assert sample == make_sample(**GO, extra={"container_start_ms": 310.0})
    assert json.loads(path.read_text())["samples"][0]["container_start_ms"] == 310.0


def test_an_existing_file_is_never_overwritten_silently(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("precious")
    with pytest.raises(ResultsError, match="--force"):
        ResultsWriter(path, run={})
    assert path.read_text() == "precious"
    ResultsWriter(path, run={}, overwrite=True).close()
    assert json.loads(path.read_text())["samples"] == []
    # one that appears while the run measures is not replaced either
    other = tmp_path / "other.json"
    writer = ResultsWriter(other, run={})
    other.write_text("appeared meanwhile")
    with pytest.raises(ResultsError, match="exists"):
        writer.add(make_sample(**GO))
    assert other.read_text() == "appeared meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json", "run.json"]


WRITER = """
import sys
from coldbench.results.schema import ResultsWriter, Sample
writer = ResultsWriter(sys.argv[1], run={"target": "local", "ended_at": None,
                                         "completed": False})
for k in range(1_000_000):
    writer.add(Sample(runtime="go", memory_mb=128, mode="warm", init_ms=None,
                      duration_ms=0.5 + k, e2e_ms=None, billed_ms=1.0, max_memory_mb=None,
                      cold=False, error=None, invocation=k))
    print(k + 1, flush=True)
"""


def test_a_run_killed_with_sigkill_reads_back_with_every_sample(tmp_path):
    path = tmp_path / "killed.json"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True)
    for _ in range(2000):
        written = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    results = load(path)
    assert results.run["completed"] is False and results.run["ended_at"] is None
    assert len(results.samples) >= written
    assert [s.invocation for s in results.samples] == list(range(len(results.samples)))


def test_a_torn_last_line_is_read_up_to_the_last_whole_sample(tmp_path):
    path = tmp_path / "run.json"
    writer = ResultsWriter(path, run={"target": "local"})
    for k in range(3):
        writer.add(make_sample(**GO, invocation=k))
    text = path.read_text()
    # as a reader sees it while the writer is half-way through its next append
    path.write_text(text.removesuffix("\n]}\n") + ',\n{"runtime": "go", "memory_m')
    assert [s.invocation for s in load(path).samples] == [0, 1, 2]


def test_unknown_schema_versions_are_refused_with_advice(tmp_path):
    path = tmp_path / "future.json"
    path.write_text(json.dumps({"schema_version": 99, "run": {}, "samples": []}))
    with pytest.raises(ResultsError, match="upgrade coldbench"):
        load(path)
    path.write_text("{not json")
    with pytest.raises(ResultsError, match="not a coldbench results file"):
        load(path)


WRITTEN = make_sample(**GO).to_json()


@pytest.mark.parametrize("samples, message", [
    ({"a": 1}, "samples is {\"a\": 1}, not a list"),
    ([{"memory_mb": 128, "mode": "cold"}], "samples[0] has no runtime"),
    ([WRITTEN, WRITTEN | {"memory_mb": "x"}],
     "samples[1] memory_mb is \"x\", not a whole number"),
    ([WRITTEN | {"mode": "hot"}],
     "samples[0] mode is \"hot\", not one of cold, warm, provisioned"),
    ([WRITTEN | {"duration_ms": "fast"}],
     "samples[0] duration_ms is \"fast\", not a number"),
    ([WRITTEN | {"cold": 1}], "samples[0] cold is 1, not true or false"),
    ([WRITTEN | {"error": "boom"}], "samples[0] error is \"boom\", not an object"),
    (["cold"], "samples[0] is str, not an object"),
])
def test_malformed_samples_are_refused_saying_which_and_what(tmp_path, samples, message):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"schema_version": 1, "run": {}, "samples": samples}))
    with pytest.raises(ResultsError) as refused:
        load(path)
    assert message in str(refused.value)


def test_report_of_a_malformed_file_is_one_line_and_exit_status_2(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"schema_version": 1, "run": {},
                                "samples": [make_sample(**GO).to_json() | {"memory_mb": "x"}]}))
    result = run_cli("report", path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert 'samples[0] memory_mb is "x", not a whole number' in result.stderr


def test_files_of_version_1_are_read_and_their_samples_all_count(tmp_path):
    path = tmp_path / "v1.json"
    samples = [make_sample(**GO, invocation=k).to_json() for k in range(3)]
    path.write_text(json.dumps({"schema_version": 1, "run": {"target": "local"},
                                "samples": samples}))
    results = load(path)
    assert [s.invocation for s in results.samples] == [0, 1, 2]
    assert all(s.valid and not s.profiled for s in results.samples)
    assert "profiles" not in results.run


def test_a_profiled_sample_is_kept_but_never_valid(tmp_path):
    profiled = make_sample(**GO, extra={"profiled": True, "profile": {"parts": {}, "tree": {}}})
    assert profiled.profiled and not profiled.valid and profiled.error is None
    document = profiled.to_json()
    assert document["profiled"] is True and document["mode"] == "cold"
    assert Sample.from_json(document).profiled
    assert "profiled" not in make_sample(**GO).to_json() and not make_sample(**GO).profiled


def test_fields_that_may_be_null_may_be_absent():
    document = {"runtime": "go", "memory_mb": 128, "mode": "warm", "duration_ms": 0.5}
    sample = Sample.from_json(document)
    assert (sample.init_ms, sample.error, sample.function, sample.valid) == (None, None,
                                                                              "coldbench", True)


def test_a_configuration_is_one_key_with_one_label():
    assert make_sample(**GO).key == ConfigKey("coldbench", "go", 512)
    arm = make_sample(**GO, variant=Variant(architecture="arm64")).key
    assert (arm.label, str(arm)) == ("go arm64", "go arm64 512 MB")
    mine = make_sample(**GO, function="resize").key
    assert (mine.label, str(mine)) == ("resize (go)", "resize (go) 512 MB")


def test_runtimes_sort_in_the_registrys_order_then_unknown_ones_by_name():
    from coldbench.runtimes import RUNTIMES

    names = list(RUNTIMES)
    assert sorted(["zig", *reversed(names), "cobol"], key=runtime_rank) == [*names, "cobol", "zig"]
    keys = [ConfigKey("coldbench", r, m) for r in ("rust", "python") for m in (1769, 128)]
    assert [str(k) for k in sorted(keys, key=lambda k: k.order)] == [
        "python 128 MB", "python 1769 MB", "rust 128 MB", "rust 1769 MB"]
