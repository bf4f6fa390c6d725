"""The anchored prediction (calibration.py; its fit in analysis/prediction.py): the
published hello figure of the function's runtime plus the function's own init work,
counted against references measured in the same run; its fit, its out-of-fit errors, the
validation table in docs/fidelity.md."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from coldbench import build, calibration
from coldbench.analysis import prediction
from coldbench.errors import UsageError
from coldbench.measure import references
from coldbench.render import calibration as calibration_table
from coldbench.runtimes import RUNTIMES, anchor_of, get
from conftest import make_sample

ROOT = Path(__file__).resolve().parents[1]


def case(name, units, extra_mb, aws, hello=80.0, in_fit=True, cpu=25.0):
    return prediction.Case(name=name, runtime="python", aws_runtime="python3.12",
                           arch="x86_64", memory_mb=128, aws_init_ms=aws, statistic="median",
                           aws_hello_ms=hello, local_init_ms=90.0 + units * cpu,
                           hello_init_ms=90.0, local_cpu_ms=40.0 + units * cpu,
                           hello_cpu_ms=40.0, init_read_mb=0.1 + extra_mb,
                           hello_read_mb=0.1, cpu_reference_ms=cpu, in_fit=in_fit)


def test_the_fit_finds_the_shared_parameters_that_made_the_cases():
    made = [case(f"c{i}", units, mb, 80.0 + 30.0 * units + 4.0 * mb)
            for i, (units, mb) in enumerate([(2, 0.5), (10, 0.1), (1, 6.0), (20, 2.0)])]
    model = prediction.fit_anchored(made)
    assert model.ms_per_unit == pytest.approx(30.0)
    assert model.ms_per_mb == pytest.approx(4.0)
    rows = prediction.anchored_rows(model)
    assert all(abs(r["error"]) < 1e-9 and abs(r["out_of_fit_error"]) < 1e-9 for r in rows)
    # the work counts in units of the CPU reference: a machine twice as slow (every local
    # CPU time doubled) predicts the same, and so does a busier one (wall time only)
    slow = prediction.replace_case(made[1], local_cpu_ms=2 * made[1].local_cpu_ms,
                                   hello_cpu_ms=80.0, cpu_reference_ms=50.0)
    busy = prediction.replace_case(made[1], local_init_ms=3 * made[1].local_init_ms)
    assert model.predict_case(busy) == pytest.approx(model.predict_case(made[1]))
    assert model.predict_case(slow) == pytest.approx(model.predict_case(made[1]))


def test_out_of_fit_errors_are_leave_one_out_in_the_fit_and_plain_outside_it():
    cases = [case("a", 2, 0, 150), case("b", 10, 0, 420), case("c", 5, 0, 200),
             case("held", 4, 0, 300, in_fit=False)]
    model = prediction.fit_anchored(cases)
    rows = {r["case"]: r for r in prediction.anchored_rows(model)}
    without_a = prediction.fit_anchored([prediction.replace_case(cases[0], in_fit=False),
                                         *cases[1:]])
    assert rows["a"]["out_of_fit_error"] == pytest.approx(
        without_a.predict_case(cases[0]) / 150 - 1)
    assert rows["held"]["out_of_fit_error"] == pytest.approx(rows["held"]["error"])
    errors = sorted(abs(r["out_of_fit_error"]) for r in rows.values())
    # the stated error is what held for 80 % of the cases
    assert model.error_pct == pytest.approx(100 * prediction._quantile(errors, 0.8))
    assert errors[2] * 100 <= model.error_pct <= errors[3] * 100
    with pytest.raises(Exception):
        prediction.fit_anchored([cases[3]])


def sample(function, used, read, cpu=None):
    extra = {"init_read_mb": read, "init_cpu_user_ms": used - 10, "init_cpu_system_ms": 10}
    if cpu is not None:
        extra["cpu_reference_ms"] = 2 * cpu
        extra["cpu_reference_cpu_ms"] = cpu
    # wall time (3 x the CPU time) is what the model does not use
    return make_sample(function=function, init_ms=3 * used, extra=extra)


def test_a_runs_samples_are_predicted_against_the_references_measured_in_it():
    model = prediction.AnchoredModel(ms_per_unit=30.0, ms_per_mb=4.0)
    samples = [sample("coldbench", 40, 0.1, 20), sample("mine", 140, 2.1, 30),
               sample("coldbench", 50, 0.1, 25), sample("mine", 160, 2.1, 25),
               sample("coldbench", 45, 0.1, 20)]
    predicted = prediction.anchored_predictions(samples, model, {"python": 84.7})
    # hello median 45 ms of CPU and 0.1 MB; the CPU reference's CPU time, median 25 ms
    assert predicted[1] == pytest.approx(84.7 + 30 * (140 - 45) / 25 + 4 * 2.0)
    assert predicted[0] == pytest.approx(84.7 + 30 * (40 - 45) / 25)
    # no hello reference of its runtime, no published figure, no CPU time: no prediction
    assert prediction.anchored_predictions(samples[1:2], model, {"python": 84.7}) == [None]
    assert prediction.anchored_predictions(samples, model, {})[1] is None
    del samples[1].extra["init_cpu_system_ms"]
    assert prediction.anchored_predictions(samples, model, {"python": 84.7})[1] is None


def language(runtime: str) -> str:
    """The registered runtime a name or a Lambda identifier ("nodejs22.x") is a version of."""
    return next(name for name, r in RUNTIMES.items()
                if runtime == name or runtime in r.lambda_runtimes)


def test_the_shipped_model_is_the_one_docs_fidelity_validates():
    model = prediction.load_anchored()
    published = {row["case"]: row for row in prediction.validation_set()}
    assert {c.name for c in model.cases} == set(published)
    for c in model.cases:          # the AWS side is the data file's, the anchor the CSV's
        row = published[c.name]
        assert c.aws_init_ms == float(row["aws_init_ms"])
        assert c.in_fit == (row["use"] == "fit")
        assert c.aws_hello_ms == prediction.anchor_figure(row)[0]
        assert row["source"].startswith("https://") and row["published"]
    assert {language(c.runtime) for c in model.cases} >= {"python", "node", "go", "java"}
    # beyond the hello functions: cases whose own init work varies, from three runtimes
    working = [c for c in model.cases if c.local_cpu_ms != c.hello_cpu_ms
               or c.init_read_mb != c.hello_read_mb]
    assert {language(c.runtime) for c in working} >= {"python", "node", "go"}
    assert any(not c.in_fit for c in model.cases) and any(c.in_fit for c in model.cases)
    docs = (ROOT / "docs" / "fidelity.md").read_text()
    assert calibration_table.anchored_table(model) in docs
    assert calibration_table.error_summary(model) in docs
    # the stated error a run gives with each prediction is the one the fit found
    assert model.error_pct == pytest.approx(prediction.stated_error_pct(model))
    assert calibration.load() is not None
    assert isinstance(calibration.from_json(calibration.anchored_to_json(model), "again"),
                      calibration.AnchoredModel)


def test_a_case_anchored_on_its_sources_own_empty_function_starts_from_that_figure():
    rows = prediction.data_rows(prediction.VALIDATION_FILE)
    anchors = {r["case"]: r for r in rows if r["use"] == prediction.ANCHOR_USE}
    named = [r for r in prediction.validation_set()
             if r["anchor"].startswith(prediction.CASE_ANCHOR)]
    assert named and anchors
    for row in named:
        source = anchors[row["anchor"][len(prediction.CASE_ANCHOR):]]
        # the same source, the same day, architecture and memory size
        assert (source["source"], source["published"], source["arch"], source["memory_mb"]) \
            == (row["source"], row["published"], row["arch"], row["memory_mb"])
        assert prediction.anchor_figure(row) == (float(source["aws_init_ms"]),
                                                 source["statistic"])
    # the anchor rows are not cases
    assert not anchors.keys() & {r["case"] for r in prediction.validation_set()}
    assert prediction.anchor_figure({"anchor": "case:nothing", "arch": "x86_64"}) is None


def test_a_case_at_the_version_a_languages_name_stands_for_is_found_under_that_name():
    # a data file row may name nodejs20.x, the version "node" stands for; the run calls it node
    row = {"case": "c", "runtime": "nodejs20.x", "reference": "nodejs20.x",
           "anchor": "nodejs20.x", "aws_runtime": "nodejs20.x", "arch": "x86_64",
           "memory_mb": "128", "aws_init_ms": "300", "statistic": "p50", "use": "held-out"}
    samples = [sample("coldbench", 50, 0.2, 25), sample("mine", 150, 1.2, 25),
               sample("coldbench", 50, 0.2, 25)]
    for s in samples:
        s.runtime = "node"
    case = prediction.case_from_run(row, SimpleNamespace(samples=samples, run={}), "mine")
    assert (case.local_cpu_ms, case.hello_cpu_ms, case.cpu_reference_ms) == (150, 50, 25)
    with pytest.raises(UsageError):
        prediction.case_from_run(row | {"runtime": "python", "reference": "python"},
                                 SimpleNamespace(samples=samples, run={}), "mine")


def test_a_case_is_read_only_from_a_run_that_built_it_as_its_source_delivered_it():
    row = {"case": "c", "runtime": "python", "reference": "python", "anchor": "python3.12",
           "aws_runtime": "python3.12", "arch": "x86_64", "memory_mb": "128",
           "aws_init_ms": "300", "statistic": "p50", "use": "held-out",
           "python_bytecode": "none"}
    samples = [sample("coldbench", 50, 0.2, 25), sample("mine", 150, 1.2, 25)]
    def run(bytecode):
        return SimpleNamespace(samples=samples, run={"functions": [
            {"name": "mine", "runtime": "python", "python_bytecode": bytecode}]})
    assert prediction.case_from_run(row, run("none"), "mine").local_cpu_ms == 150
    with pytest.raises(UsageError, match="--python-bytecode stale"):
        prediction.case_from_run(row, run("stale"), "mine")
    # no column: coldbench's default, stale
    assert prediction.case_from_run(row | {"python_bytecode": ""}, run("stale"), "mine")


def test_a_runtime_without_a_figure_of_its_own_is_predicted_from_the_one_it_is_anchored_on():
    # provided.al2023: the function's own bootstrap, against Rust's hello function and figure
    model = prediction.AnchoredModel(ms_per_unit=30.0, ms_per_mb=4.0)
    samples = [sample("coldbench", 10, 1.8, 20), sample("bootstrap", 60, 51.8, 20),
               sample("coldbench", 10, 1.8, 20)]
    samples[0].runtime = samples[2].runtime = "rust"
    samples[1].runtime = "provided"
    anchored = prediction.anchored_predictions(samples, model, {"provided": 15.9, "rust": 15.9},
                                               anchored_on={"provided": "rust"})
    assert anchored[1] == pytest.approx(15.9 + 30 * (60 - 10) / 20 + 4 * 50.0)
    assert prediction.anchored_predictions(samples, model, {"provided": 15.9})[1] is None
    # a run measures that runtime's hello function beside it, not the provided one's
    provided = build.Function.user(get("provided"), ROOT / "functions" / "provided", None)
    added = references.reference_functions([provided])
    assert [(f.runtime.name, f.source) for f in added] == [
        ("rust", build.Function.builtin(get("rust")).source)]
    assert anchor_of(get("provided")).aws_init_row == "rust (provided.al2023)"
