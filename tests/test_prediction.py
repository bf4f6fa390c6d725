"""The prediction of AWS's Init Duration from local cold samples: the model's fit, the
shipped calibration and its published validation, `coldbench calibrate` and
`coldbench run --calibration`."""

import json
import os
from pathlib import Path

import pytest

from coldbench.analysis import prediction
from coldbench.render import calibration as calibration_table
from coldbench.model import Variant
from coldbench.results.schema import ResultsWriter
from conftest import make_sample, run_cli

ROOT = Path(__file__).resolve().parents[1]


def point(runtime, local, read, aws, memory=128):
    return prediction.Point("coldbench", runtime, memory, local, read, aws)


def test_the_fit_finds_the_parameters_that_made_the_points():
    made = [point(r, local, read, 1.4 * local + 5.0 * read)
            for r, local, read in [("python", 60, 0.1), ("go", 5, 6.3), ("java", 190, 0.03),
                                   ("rust", 4, 1.7)]]
    calibration = prediction.fit(made)
    assert calibration.cpu_factor == pytest.approx(1.4)
    assert calibration.ms_per_mb == pytest.approx(5.0)
    assert all(abs(e) < 1e-9 for e in prediction.relative_errors(calibration).values())
    assert all(abs(e) < 1e-9 for e in prediction.leave_one_runtime_out(made).values())
    assert calibration.predict(100, 2) == pytest.approx(150)
    assert calibration.predict(100, None) is None       # no bytes read: no prediction


def test_leave_one_out_errors_are_those_of_a_fit_without_the_runtime():
    points = [point("python", 60, 0.1, 85), point("node", 80, 0.2, 139),
              point("go", 18, 6.3, 50), point("java", 190, 0.03, 239), point("rust", 10, 1.8, 16)]
    loo = prediction.leave_one_runtime_out(points)
    without_go = prediction.fit([p for p in points if p.runtime != "go"])
    assert loo["go"] == pytest.approx(without_go.predict(18, 6.3) / 50 - 1)
    # parameters never go below zero, whatever the points
    flat = prediction.fit([point("a", 10, 5, 10), point("b", 20, 1, 40)])
    assert flat.cpu_factor >= 0 and flat.ms_per_mb >= 0


def test_the_shipped_calibration_is_the_one_docs_fidelity_validates():
    calibration = prediction.load()
    assert calibration.made and "lambda-perf" in calibration.aws_source
    assert {p.runtime for p in calibration.points} >= {"python", "node", "go", "java", "rust"}
    docs = (ROOT / "docs" / "fidelity.md").read_text()
    # the leave-one-runtime-out table, recomputed from the shipped points, is the published one
    assert calibration_table.markdown_table(calibration) in docs
    assert f"+-{calibration.error_pct:.0f}%" in docs


def _results(path: Path, target: str, configs: dict, run: dict | None = None) -> Path:
    """A results file with cold samples: {(runtime, memory): [(init, read), ...]}."""
    writer = ResultsWriter(path, run={"target": target, "run_id": f"{target}-run", **(run or {})})
    for (runtime, memory), samples in configs.items():
        for init, read in samples:
            extra = {} if read is None else {"init_read_mb": read}
            writer.add(make_sample(runtime=runtime, memory_mb=memory, init_ms=init,
                                   e2e_ms=init + 5, billed_ms=init + 1, max_memory_mb=50.0,
                                   extra=extra))
    writer.close()
    return path


@pytest.mark.slow
def test_calibrate_fits_a_pair_of_runs_and_run_uses_what_it_wrote(tmp_path):
    local = _results(tmp_path / "local.json", "local", {
        ("python", 128): [(60, 0.1), (62, 0.1), (58, 0.1)], ("go", 128): [(6, 6.3), (5, 6.3)],
        ("java", 128): [(190, 0.03)], ("rust", 128): [(4, 1.7)]},
        run={"code_path": {"read_mb_per_s": None, "read_iops": None}})
    aws = _results(tmp_path / "aws.json", "aws", {
        ("python", 128): [(90, None), (91, None)], ("go", 128): [(40, None)],
        ("java", 128): [(230, None)], ("rust", 128): [(14, None)]},
        run={"lambda_runtimes": {"python": "python3.12"}, "region": "eu-west-1"})
    output = tmp_path / "mine.json"
    result = run_cli("calibrate", local, aws, "--output", output)
    assert result.returncode == 0, result.stderr
    assert "leave-one-out" in result.stdout and "cpu_factor" in result.stdout
    mine = prediction.load(output)
    assert {p.runtime for p in mine.points} == {"python", "go", "java", "rust"}
    python = next(p for p in mine.points if p.runtime == "python")
    assert (python.local_init_ms, python.aws_init_ms, python.aws_runtime) == (60, 90.5, "python3.12")

    # a real run under that calibration predicts with its parameters
    run = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "go", "--memory", "128", "--cold", "2", "--warm", "0",
                     "--provisioned", "0", "--calibration", output, "--output", run, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Predicted AWS Init" in result.stdout
    document = json.loads(run.read_text())
    assert document["run"]["calibration"]["name"] == str(output)
    for sample in document["samples"]:
        expected = mine.cpu_factor * sample["init_ms"] + mine.ms_per_mb * sample["init_read_mb"]
        assert sample["predicted_aws_init_ms"] == pytest.approx(expected, abs=0.01)
        assert sample["prediction_error_pct"] == pytest.approx(mine.error_pct, abs=0.1)


def test_calibrate_refuses_runs_that_do_not_match_and_names_what(tmp_path):
    local = _results(tmp_path / "local.json", "local", {
        ("python", 128): [(60, 0.1)], ("go", 128): [(6, 6.3)]})
    aws = _results(tmp_path / "aws.json", "aws", {
        ("python", 128): [(90, None)], ("python", 512): [(85, None)]})
    result = run_cli("calibrate", local, aws)
    assert result.returncode == 2
    assert "measured locally but not on AWS: go coldbench 128 MB" in result.stderr
    assert "measured on AWS but not locally: python coldbench 512 MB" in result.stderr
    # the wrong way round, and a local run without bytes read
    assert run_cli("calibrate", aws, local).returncode == 2
    host = _results(tmp_path / "host.json", "local", {("python", 128): [(60, None)]})
    lone = _results(tmp_path / "lone.json", "aws", {("python", 128): [(90, None)]})
    result = run_cli("calibrate", host, lone)
    assert result.returncode == 2 and "--delivery lambda" in result.stderr


def test_a_file_that_is_not_a_calibration_is_refused_before_anything_runs(tmp_path):
    results = _results(tmp_path / "run.json", "local", {("go", 128): [(6, 6.3)]})
    for given in (results, tmp_path / "missing.json"):
        result = run_cli("run", "--runtimes", "go", "--calibration", given,
                         "--output", tmp_path / "out.json")
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert str(given) in result.stderr
    assert not (tmp_path / "out.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the Lambda-shaped code path needs root")
def test_a_host_delivery_run_predicts_nothing(tmp_path):
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "go", "--memory", "128", "--cold", "1", "--warm",
                     "0", "--provisioned", "0", "--delivery", "host", "--output", output,
                     "--quiet")
    assert result.returncode == 0, result.stderr
    [sample] = json.loads(output.read_text())["samples"]
    assert "predicted_aws_init_ms" not in sample


def test_calibrate_without_an_aws_run_fits_this_machine_to_the_published_figures(tmp_path):
    from coldbench.analysis import reference

    local = _results(tmp_path / "local.json", "local", {
        ("python", 128): [(60, 0.07)], ("node", 128): [(85, 0.23)], ("go", 128): [(6, 6.3)],
        ("java", 128): [(190, 0.03)], ("rust", 128): [(4, 1.7)], ("python", 512): [(55, 0.07)]})
    output = tmp_path / "here.json"
    result = run_cli("calibrate", local, "--output", output)
    assert result.returncode == 0, result.stderr
    here = prediction.load(output)
    assert sorted(p.runtime for p in here.points) == ["go", "java", "node", "python", "rust"]
    for p in here.points:                # 128 MB only, each against its published figure
        assert p.memory_mb == 128 and p.aws_init_ms == reference.aws_init_ms(p.runtime)[0]
    # a run with none of the built-in functions at 128 MB cannot be fitted so
    other = _results(tmp_path / "other.json", "local", {("python", 512): [(55, 0.07)]})
    result = run_cli("calibrate", other)
    assert result.returncode == 2 and "--memory 128" in result.stderr


def test_calibrate_refuses_an_aws_run_with_several_variants_of_a_configuration(tmp_path):
    local = _results(tmp_path / "local.json", "local", {("go", 128): [(6, 6.3)],
                                                        ("rust", 128): [(4, 1.7)]})
    writer = ResultsWriter(tmp_path / "aws.json", run={"target": "aws"})
    for runtime, variant in (("go", "x86_64"), ("go", "arm64"), ("rust", "x86_64")):
        writer.add(make_sample(runtime=runtime, init_ms=40.0, e2e_ms=50.0, billed_ms=41.0,
                               max_memory_mb=20.0, variant=Variant(architecture=variant)))
    writer.close()
    result = run_cli("calibrate", local, tmp_path / "aws.json")
    assert result.returncode == 2 and "several variants" in result.stderr, result.stderr
