"""Compare on constructed samples with known answers: a shift must be flagged, noise not."""

import json

import numpy as np
import pytest

from coldbench.analysis import compare
from coldbench.errors import EXIT_OK, EXIT_REGRESSION, EXIT_USAGE
from coldbench.model import Variant
from coldbench.render import compare as comparison_table
from coldbench.results.schema import Results

from conftest import make_sample, run_cli

RUN = {"target": "local", "cpu": "AMD EPYC", "runtime_versions": {"python": "Python 3.12.1"},
       "plan": {"event": {"work": 100}},
       "functions": [{"name": "coldbench", "runtime": "python", "source_digest": "9c51c6aa"}]}


def cold_starts(seed: int, n: int = 12, median_ms: float = 100.0, spread: float = 0.08):
    """Skewed, cold-start-like values: lognormal around ``median_ms``."""
    return list(median_ms * np.random.default_rng(seed).lognormal(0.0, spread, n))


def results(values, mode="cold", run=RUN, memory=128):
    # a cold start of v ms is Init v - 1 + Duration 1
    samples = [make_sample(memory_mb=memory, mode=mode, init_ms=v - 1.0)
               if mode == "cold" else make_sample(memory_mb=memory, mode=mode, duration_ms=v)
               for v in values]
    return Results(run=dict(run), samples=samples)


def test_a_shift_of_a_third_is_flagged_as_slower():
    base = cold_starts(seed=1)
    new = [v * 1.34 for v in cold_starts(seed=2)]
    [c] = compare.compare(results(base), results(new))
    assert c.status == compare.SLOWER and c.regression
    assert c.result.p_value < 0.001
    assert comparison_table.verdict(c) == f"{c.result.ratio:.2f}x slower"
    assert 1.25 < c.result.ratio < 1.45


def test_a_faster_run_is_not_a_regression():
    [c] = compare.compare(results(cold_starts(seed=3)), results([v * 0.7 for v in cold_starts(seed=4)]))
    assert c.status == compare.FASTER and not c.regression
    assert comparison_table.verdict(c) == f"{1 / c.result.ratio:.2f}x faster" and 1.3 < 1 / c.result.ratio < 1.55


@pytest.mark.parametrize("seed", range(20))
def test_noise_from_one_distribution_is_never_flagged(seed):
    base, new = cold_starts(seed=100 + seed), cold_starts(seed=200 + seed)
    [c] = compare.compare(results(base), results(new))
    assert c.status == compare.SAME, (c.result, seed)
    assert comparison_table.verdict(c) == "not significant"


def test_a_significant_change_below_the_minimum_does_not_count():
    base = cold_starts(seed=5, n=40, spread=0.01)
    new = [v * 1.05 for v in cold_starts(seed=6, n=40, spread=0.01)]
    [c] = compare.compare(results(base), results(new))
    assert c.result.p_value < 1e-6 and c.status == compare.SAME
    [c] = compare.compare(results(base), results(new), min_change=0.03)
    assert c.status == compare.SLOWER


def test_too_few_samples_say_so():
    [c] = compare.compare(results([100.0, 101.0]), results([300.0, 310.0]))
    assert c.status == compare.SAME and not c.result.reachable
    assert comparison_table.verdict(c) == "not significant (too few samples to tell)"
    assert compare.smallest_p(2, 2) == pytest.approx(1 / 3)
    assert compare.smallest_p(6, 6) == pytest.approx(2 / 924)


@pytest.mark.parametrize("field, changed, phrase", [
    ("runtime_versions", {"python": "Python 3.13.0"}, "runtime version Python 3.12.1 -> Python 3.13.0"),
    ("target", "aws", "target local -> aws"),
    ("cpu", "Graviton3", "CPU model AMD EPYC -> Graviton3"),
    ("functions", [{"name": "coldbench", "runtime": "python", "source_digest": "0701f742"}],
     "function code 9c51c6aa -> 0701f742"),
    ("plan", {"event": {"work": 3000}}, 'event {"work": 100} -> {"work": 3000}'),
])
def test_configurations_that_differ_are_not_comparable(field, changed, phrase):
    other = dict(RUN) | {field: changed}
    base, new = results(cold_starts(seed=7)), results([v * 2 for v in cold_starts(seed=8)], run=other)
    [c] = compare.compare(base, new)
    assert c.status == compare.NOT_COMPARABLE and not c.regression
    assert comparison_table.verdict(c) == f"not comparable: {phrase}"
    allowed = {"runtime_versions": "runtime", "target": "target", "cpu": "cpu",
               "functions": "code", "plan": "event"}[field]
    [c] = compare.compare(base, new, allow={allowed})
    assert c.status == compare.SLOWER


def test_configurations_in_one_run_only_are_listed():
    found = compare.compare(results(cold_starts(9), memory=128), results(cold_starts(9), memory=512))
    assert [(c.key.memory_mb, c.status) for c in found] == [(128, compare.ONLY_BASE),
                                                        (512, compare.ONLY_NEW)]


AWS_RUN = {"target": "aws", "cpu": "AMD EPYC", "region": "eu-west-1",
           "runtime_versions": {"python": "Python 3.12.1"},
           "lambda_runtimes": {"python": "python3.12"}, "plan": {"event": {"work": 100}},
           "functions": [{"name": "coldbench", "runtime": "python", "source_digest": "9c51c6aa"}]}


def by_variant(values_by_variant, run=AWS_RUN):
    samples = []
    for variant, values in values_by_variant.items():
        samples += results(values, run=run).samples
        for s in samples[-len(values):]:
            s.variant = Variant(architecture=variant)
    return Results(run=dict(run), samples=samples)


def test_variants_are_compared_apart():
    base = by_variant({"x86_64": cold_starts(seed=10), "arm64": cold_starts(seed=11, median_ms=300)})
    new = by_variant({"x86_64": cold_starts(seed=12), "arm64": cold_starts(seed=13, median_ms=600)})
    found = compare.compare(base, new)
    assert [(c.key.variant.architecture, c.status) for c in found] == [("arm64", compare.SLOWER),
                                                          ("x86_64", compare.SAME)]
    assert found[0].key.label == "python arm64" and 1.8 < found[0].result.ratio < 2.2


def test_aws_runs_compare_lambda_runtime_and_region_not_the_harness_cpu():
    base = by_variant({"arm64": cold_starts(seed=14)})
    other_host = by_variant({"arm64": cold_starts(seed=15)}, run=AWS_RUN | {"cpu": "Apple M2"})
    [c] = compare.compare(base, other_host)
    assert c.status == compare.SAME and not c.differences
    newer = by_variant({"arm64": cold_starts(seed=15)},
                       run=AWS_RUN | {"lambda_runtimes": {"python": "python3.13"}})
    [c] = compare.compare(base, newer)
    assert comparison_table.verdict(c) == "not comparable: runtime version python3.12 -> python3.13"
    elsewhere = by_variant({"arm64": cold_starts(seed=15)}, run=AWS_RUN | {"region": "us-east-1"})
    [c] = compare.compare(base, elsewhere)
    assert comparison_table.verdict(c) == "not comparable: region eu-west-1 -> us-east-1"


def test_step_changes_are_found_where_the_series_steps():
    series = [cold_starts(seed=i) for i in range(8)]
    series[5:] = [[v * 1.5 for v in s] for s in series[5:]]
    steps = compare.step_changes(series, alpha=0.01)
    assert [(s.index, s.result.status) for s in steps] == [(5, compare.SLOWER)]
    comparable = [True] * 8
    comparable[5] = False            # the runtime changed there: not a step of the cold start
    assert compare.step_changes(series, comparable, alpha=0.01) == []
    assert compare.step_changes([cold_starts(seed=50 + i) for i in range(12)], alpha=0.01) == []


def write(path, base_values, run=RUN):
    document = results(base_values, run=run)
    path.write_text(json.dumps({"schema_version": 1, "run": document.run | {"ended_at": "x"},
                                "samples": [s.to_json() for s in document.samples]}))
    return path


def test_the_command_gates_on_a_regression(tmp_path):
    base = write(tmp_path / "base.json", cold_starts(seed=10))
    slower = write(tmp_path / "slower.json", [v * 1.5 for v in cold_starts(seed=11)])
    noisy = write(tmp_path / "noisy.json", cold_starts(seed=12))
    result = run_cli("compare", base, slower)
    assert result.returncode == EXIT_REGRESSION, result.stderr
    assert "x slower" in result.stdout and "1 regression." in result.stdout
    result = run_cli("compare", base, noisy, "--format", "json")
    assert result.returncode == EXIT_OK, result.stderr
    [found] = json.loads(result.stdout)
    assert found["verdict"] == "not significant"
    assert {k: found[k] for k in ("function", "runtime", "memory_mb", "variant", "mode")} == {
        "function": "coldbench", "runtime": "python", "memory_mb": 128, "variant": None,
        "mode": "cold"}
    assert run_cli("compare", base, slower, "--min-change", "60%").returncode == EXIT_OK
    other = write(tmp_path / "other.json", cold_starts(seed=13), run=RUN | {"cpu": "Graviton3"})
    result = run_cli("compare", base, other)
    assert result.returncode == EXIT_USAGE and "nothing was compared" in result.stderr
    assert "not comparable: CPU model AMD EPYC -> Graviton3" in result.stdout


def test_the_ratio_has_an_interval_around_the_shift():
    base = cold_starts(seed=7, n=20)
    new = [v * 1.5 for v in cold_starts(seed=8, n=20)]
    [c] = compare.compare(results(base), results(new))
    assert c.result.ratio_low < c.result.ratio < c.result.ratio_high
    assert c.result.ratio_low < 1.5 < c.result.ratio_high and c.result.ratio_low > 1.2
    again = compare.change(list(reversed(base)), new)        # seeded: the same interval
    assert (again.ratio_low, again.ratio_high) == pytest.approx(
        (c.result.ratio_low, c.result.ratio_high), rel=0.05)
    assert f"({c.result.ratio_low:.2f}-{c.result.ratio_high:.2f})" in comparison_table.render([c])
