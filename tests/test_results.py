import json

import pytest

from coldbench.errors import ResultsError
from coldbench.results.schema import SCHEMA_VERSION, ResultsWriter, Sample, load


def a_sample(**changes):
    fields = dict(runtime="go", memory_mb=512, mode="cold", init_ms=40.5, duration_ms=1.25,
                  e2e_ms=45.0, billed_ms=2.0, max_memory_mb=20.1, cold=True, error=None)
    return Sample(**(fields | changes))


def test_every_sample_is_on_disk_as_soon_as_it_is_taken(tmp_path):
    path = tmp_path / "run.json"
    writer = ResultsWriter(path, run={"target": "local"})
    writer.add(a_sample())
    document = json.loads(path.read_text())
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["run"] == {"target": "local"}
    assert document["samples"][0]["init_ms"] == 40.5
    writer.add(a_sample(mode="warm", init_ms=None, cold=False))
    assert len(json.loads(path.read_text())["samples"]) == 2


def test_round_trip_keeps_target_specific_fields(tmp_path):
    path = tmp_path / "run.json"
    writer = ResultsWriter(path, run={})
    writer.add(a_sample(extra={"container_start_ms": 310.0}))
    [sample] = load(path).samples
    assert sample == a_sample(extra={"container_start_ms": 310.0})
    assert json.loads(path.read_text())["samples"][0]["container_start_ms"] == 310.0


def test_an_existing_file_is_never_overwritten_silently(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("precious")
    with pytest.raises(ResultsError, match="--force"):
        ResultsWriter(path, run={})
    assert path.read_text() == "precious"
    ResultsWriter(path, run={}, overwrite=True).flush()
    assert json.loads(path.read_text())["samples"] == []


def test_unknown_schema_versions_are_refused_with_advice(tmp_path):
    path = tmp_path / "future.json"
    path.write_text(json.dumps({"schema_version": 99, "run": {}, "samples": []}))
    with pytest.raises(ResultsError, match="upgrade coldbench"):
        load(path)
    path.write_text("{not json")
    with pytest.raises(ResultsError, match="not a coldbench results file"):
        load(path)
