"""`coldbench ab`: two versions of a function measured interleaved in one run and compared,
and the pull-request check built on it (scripts/ab-check, action.yml)."""

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from coldbench.analysis import ab as analysis
from coldbench.analysis import compare as comparing
from coldbench.errors import EXIT_REGRESSION, EXIT_USAGE
from coldbench.render.ab import MARKER, markdown
from coldbench.model import Variant
from coldbench.results.schema import Results, load

from conftest import ROOT, make_sample, run_cli
from github_standin import GitHub

EXAMPLE = ROOT / "examples" / "ab-function"
REPO, TOKEN = "octo/app", "t0ken"
# the regression the check must catch: a module that takes 100 ms to import
SLOW_MODULE = '"""Settings, slow to load."""\nimport time\n\ntime.sleep(0.1)\nREGION = "eu"\n'

RUN = {"target": "local", "cpu": "AMD EPYC 7R13", "run_id": "20261206T190000Z-0a1b2c3d",
       "coldbench_version": "0.9.0", "runtime_versions": {"python": "Python 3.11.7"},
       "plan": {"cold": 10, "warm": 10, "provisioned": 0, "event": {"work": 100}},
       "functions": [{"name": "orders", "runtime": "python", "source_digest": "aaaa",
                      "version": "base"},
                     {"name": "orders", "runtime": "python", "source_digest": "bbbb",
                      "version": "head"}],
       "ab": {"base": {"ref": "main", "commit": "1f2e3d4c5b6a"},
              "head": {"ref": "4c5d6e7f8a9b", "commit": "4c5d6e7f8a9b"},
              "functions": ["functions/orders"]}}


def ab_results() -> Results:
    base = dict(memory_mb=512, function="orders", variant=Variant(version="base"))
    head = base | {"variant": Variant(version="head")}
    samples = []
    for i in range(10):     # interleaved, as the run takes them; cold starts 60 + i, 161 + i
        samples += [make_sample(**base, init_ms=59.0 + i), make_sample(**head, init_ms=160.0 + i)]
    for i in range(10):
        samples += [make_sample(**base, mode="warm", duration_ms=2.0 + i / 10),
                    make_sample(**head, mode="warm", duration_ms=2.05 + i / 10)]
    return Results(run=json.loads(json.dumps(RUN)), samples=samples)


def test_each_version_is_a_run_of_its_own_without_its_label():
    results = ab_results()
    base, head = (analysis.version(results, v) for v in ("base", "head"))
    assert len(base.samples) == len(head.samples) == 20
    assert {s.key for s in base.samples} == {s.key for s in head.samples}
    assert all(s.key.variant.version is None for s in base.samples + head.samples)
    assert base.run["functions"] == [{"name": "orders", "runtime": "python",
                                      "source_digest": "aaaa"}]
    assert [s.figure for s in head.samples if s.mode == "cold"][:2] == [161.0, 162.0]
    # in the file they are two configurations, labelled by version
    assert sorted({str(s.key) for s in results.samples}) == ["orders (python) base 512 MB",
                                                             "orders (python) head 512 MB"]


def test_the_comparison_is_compares_with_the_code_check_lifted():
    cold, warm = analysis.compare(ab_results())
    assert (cold.mode, cold.status, cold.base_n, cold.new_n) == ("cold", comparing.SLOWER, 10, 10)
    assert cold.result.ratio == pytest.approx(165.5 / 64.5)
    assert warm.status == comparing.SAME and not warm.differences


def test_markdown_golden():
    results = ab_results()
    text = markdown(results, analysis.compare(results))
    assert text == textwrap.dedent("""\
        <!-- coldbench-ab -->
        ### coldbench A/B: `main` (1f2e3d4) → `4c5d6e7` (`functions/orders`)

        **:x: 1 regression**: head is slower than base by at least 10% (Mann-Whitney U, p < 0.05)

        | Runtime         | Memory   | Mode   | Base p50 (n)   | New p50 (n)   | New/base (95% interval)   | p        | Verdict         |
        |-----------------|----------|--------|----------------|---------------|---------------------------|----------|-----------------|
        | orders (python) | 512 MB   | cold   | 64.5 (10)      | 165.5 (10)    | 2.57 (2.46-2.68)          | 0.000183 | 2.57x slower    |
        | orders (python) | 512 MB   | warm   | 2.45 (10)      | 2.50 (10)     | 1.02 (0.88-1.19)          | 0.734    | not significant |

        Medians in ms (cold: Init Duration + Duration; warm, provisioned: Duration). A change counts when Mann-Whitney U gives p < 0.05 and the medians differ by at least 10%. 1 regression.

        <sub>Both versions measured interleaved (A B A B ...) in one run on one machine: local target, AMD EPYC 7R13, 10 cold, 10 warm samples per configuration and version; coldbench 0.9.0, run `20261206T190000Z-0a1b2c3d`.</sub>
        """)
    assert text.startswith(MARKER)


def test_the_action_runs_the_check_script_and_names_its_inputs():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"function", "runtime", "handler", "samples", "threshold"} <= set(action["inputs"])
    script = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    assert "scripts/ab-check" in script and "scripts/setup" in script
    assert (ROOT / "scripts" / "ab-check").stat().st_mode & 0o111


# -- bad input: one line on stderr, exit 2, nothing measured, nothing left -----------------

def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c",
                           "user.email=t@example.invalid", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository with two commits of the example function: the second adds a
    module that takes 100 ms to import."""
    repo = tmp_path / "app"
    (repo / "functions").mkdir(parents=True)
    shutil.copytree(EXAMPLE, repo / "functions" / "orders",
                    ignore=shutil.ignore_patterns("README.md", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "orders function")
    app = repo / "functions" / "orders" / "app.py"
    (app.parent / "settings.py").write_text(SLOW_MODULE)
    app.write_text(app.read_text().replace("import os\n", "import os\n\nimport settings\n"))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "orders: read the settings")
    return repo


@pytest.mark.parametrize("args, message", [
    (["main", "nope", "--function", "functions/orders", "--runtime", "python"],
     "HEAD 'nope' is not a revision of the checkout"),
    (["main~1", "main", "--function", "functions/missing", "--runtime", "python"],
     "functions/missing does not exist at BASE"),
    (["main~1", "main", "--function", "/", "--runtime", "python"],
     "--function /: not a path inside the checkout"),
    (["main~1", "main", "--function", "functions/orders", "--runtime", "python,go"],
     "--function needs exactly one --runtime"),
    (["main~1", "main", "--function", "functions/orders", "--runtime", "python",
      "--target", "aws"], "Invalid value for '--target'"),
    (["main~1", "main", "--runtime", "python", "--handler", "app.handler"],
     "--handler is the handler of --function"),
    (["a", "b", "--dirs", "--runtime", "python"], "BASE 'a' is not a folder"),
    (["main~1", "main", "--template", "t.yaml", "--runtimes", "python"],
     "--template: each function's runtime comes from its definition"),
    (["main~1", "main", "--template", "t.yaml", "--function", "functions/orders"],
     "--template names the functions: drop --function"),
    (["main~1", "main", "--function-name", "Orders", "--runtime", "python"],
     "--function-name, --env-vars and --layer-dir go with --template"),
])
def test_bad_input_is_refused_before_anything_is_measured(repo, tmp_path, args, message):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    output = tmp_path / "ab.json"
    done = run_cli("ab", *args, "--output", output, cwd=repo,
                   env=os.environ | {"TMPDIR": str(scratch)}, timeout=120)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not output.exists() and not list(scratch.iterdir())


def test_outside_a_checkout_it_says_to_use_dirs(tmp_path):
    done = run_cli("ab", "main~1", "main", "--runtime", "python", cwd=tmp_path, timeout=120)
    assert done.returncode == EXIT_USAGE
    assert "is not inside a git checkout" in done.stderr and "--dirs" in done.stderr


# -- the real thing ------------------------------------------------------------------------

def check(repo: Path, github: GitHub, keep: Path, *extra: str) -> subprocess.CompletedProcess:
    """scripts/ab-check as action.yml runs it, from the repository's checkout."""
    env = os.environ | {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPO,
                        "GITHUB_TOKEN": TOKEN, "COLDBENCH_PR": "12",
                        "GITHUB_STEP_SUMMARY": str(keep / "summary.md"),
                        "COLDBENCH_AB_DIR": str(keep),
                        "COLDBENCH_BIN": str(Path(os.sys.executable).parent)}
    return subprocess.run([str(ROOT / "scripts" / "ab-check"), "main~1", "main",
                           "--function", "functions/orders", "--runtime", "python",
                           "--memory", "1769", "--cold", "14", "--warm", "0",
                           "--provisioned", "0", "--quiet", *extra],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_the_check_fails_a_pull_request_that_adds_100_ms_of_import(repo, tmp_path):
    keep = tmp_path / "out"
    with GitHub(REPO, TOKEN) as github:
        github.add(12, "Please have a look.")
        first = check(repo, github, keep, "--profile")
        assert first.returncode == EXIT_REGRESSION, first.stdout + first.stderr
        results = load(keep / "ab.json")
        # one run, both versions, the cold samples interleaved A B A B ...
        order = [s.key.variant.version for s in results.samples if s.mode == "cold" and not s.profiled]
        assert order == ["base", "head"] * 14
        assert {f["version"]: f["source_digest"] for f in results.run["functions"]}.keys() \
            == {"base", "head"}
        assert results.run["ab"]["functions"] == ["functions/orders"]
        (cold,) = analysis.compare(results)
        assert cold.regression and cold.new_p50 > cold.base_p50
        # the profiles name the import, with the time it sleeps
        assert any(b.item == "settings" and b.new and 95 < b.delta_ms < 200 for b in cold.blame)
        summary = (keep / "summary.md").read_text()
        assert summary == (keep / "ab.md").read_text()
        assert "**:x: 1 regression**" in summary and "settings (new)" in summary
        (ours,) = [dict(c) for c in github.on(12) if MARKER in c["body"]]
        assert ours["body"] == summary
        assert "orders (python)" in first.stdout and "x slower" in first.stdout

        # the next push: the same comment, updated in place
        second = check(repo, github, keep)
        assert second.returncode == EXIT_REGRESSION, second.stderr
        assert len(github.on(12)) == 2
        (again,) = [c for c in github.on(12) if MARKER in c["body"]]
        assert again["id"] == ours["id"] and again["body"] != ours["body"]
        assert [m for m, _ in github.calls].count("POST") == 1
        assert [m for m, _ in github.calls].count("PATCH") == 1


@pytest.mark.slow
def test_two_folders_of_the_same_code_are_not_a_regression(tmp_path):
    base, head = tmp_path / "base", tmp_path / "head"
    for folder in (base, head):
        shutil.copytree(EXAMPLE, folder / "orders", ignore=shutil.ignore_patterns("README.md"))
    output = tmp_path / "ab.json"
    done = run_cli("ab", base, head, "--dirs", "--function", "orders", "--runtime", "python",
                   "--memory", "512", "--cold", "6", "--warm", "6", "--provisioned", "0",
                   # two modes at the default alpha of 0.05 call identical code slower in
                   # about one run of ten; at 0.01 in about one of fifty
                   "--alpha", "0.01",
                   "--quiet", "--output", output, "--format", "json")
    assert done.returncode == 0, done.stderr + done.stdout
    found = json.loads(done.stdout)
    assert [(c["mode"], c["regression"]) for c in found] == [("cold", False), ("warm", False)]
    results = load(output)
    assert results.run["ab"]["base"]["folder"] == str(base)
    assert len({f["source_digest"] for f in results.run["functions"]}) == 1


@pytest.mark.slow
@pytest.mark.docker
def test_in_containers_each_version_has_its_own_image(repo, tmp_path, engine):
    output = tmp_path / "ab.json"
    done = run_cli("ab", "main~1", "main", "--function", "functions/orders", "--runtime",
                   "python", "--target", "docker", "--images", "local", "--memory", "1769",
                   "--cold", "14", "--warm", "0", "--provisioned", "0", "--quiet",
                   "--output", output, cwd=repo)
    assert done.returncode == EXIT_REGRESSION, done.stdout + done.stderr
    results = load(output)
    order = [s.key.variant.version for s in results.samples]
    assert order == ["base", "head"] * 14
    (cold,) = analysis.compare(results)
    assert cold.regression and cold.new_p50 > cold.base_p50
    images = {i["image"] for i in results.run["container_images"] if i["function"] == "orders"}
    assert len(images) == 2                 # one image per version, built from its own code


@pytest.mark.slow
def test_the_actions_step_runs_the_check_with_its_inputs(repo, tmp_path):
    """action.yml's "Compare base and head" step, its shell script run as the runner runs
    it, with the variables its env: block sets from the inputs and the pull request. Only
    sudo is a stand-in (this test runs as root): it runs the command as given."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    (step,) = [s for s in action["runs"]["steps"] if s.get("name") == "Compare base and head"]
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "sudo").write_text('#!/bin/sh\n[ "$1" = "-E" ] && shift\nexec "$@"\n')
    (shims / "sudo").chmod(0o755)
    summary = tmp_path / "summary.md"
    inputs = {"BASE": git(repo, "rev-parse", "main~1"), "HEAD": git(repo, "rev-parse", "main"),
              "FUNCTIONS": "functions/orders\n", "RUNTIME": "python", "HANDLER": "app.handler",
              "MEMORY": "1769", "COLD": "14", "WARM": "0", "PROVISIONED": "0",
              "THRESHOLD": "10%", "PROFILE": "false", "COMMENT": "true",
              "GITHUB_TOKEN": TOKEN, "PR_NUMBER": "31"}
    assert set(step["env"]) == set(inputs)
    with GitHub(REPO, TOKEN) as github:
        env = os.environ | inputs | {
            "PATH": f"{shims}:{Path(os.sys.executable).parent}:{os.environ['PATH']}",
            "HOME": str(tmp_path), "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_WORKSPACE": str(repo), "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": REPO, "GITHUB_STEP_SUMMARY": str(summary),
            "COLDBENCH_BIN": str(Path(os.sys.executable).parent)}
        # as GitHub Actions runs a bash step: bash --noprofile --norc -eo pipefail {0}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                               step["run"]], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == EXIT_REGRESSION, done.stdout + done.stderr
        (comment,) = github.on(31)
        assert comment["body"] == summary.read_text()
        assert f"({inputs['BASE'][:7]})" not in comment["body"]      # a sha names itself once
        assert f"`{inputs['BASE'][:7]}` → `{inputs['HEAD'][:7]}`" in comment["body"]
        assert "**:x: 1 regression**" in comment["body"]


TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    MemorySize: 512
Resources:
  OrdersFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../functions/orders/
      Handler: app.handler
      Runtime: python3.12
"""


@pytest.mark.slow
def test_a_template_is_read_at_each_revision(repo, tmp_path):
    """--template: the functions the definition names, as it and their code are at each
    revision (here one function, in ../functions/orders); HEAD adds 100 ms of import."""
    (repo / "app").mkdir()
    (repo / "app" / "template.yaml").write_text(TEMPLATE)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the app's definition")
    output = tmp_path / "ab.json"
    missing = run_cli("ab", "main~2", "main", "--template", "app/template.yaml", "--quiet",
                      cwd=repo)
    assert missing.returncode == 2, missing.stderr
    assert "app/template.yaml does not exist at BASE" in missing.stderr
    # base: the function before the import, with the same definition
    git(repo, "checkout", "-q", "-b", "before", "main~2")
    (repo / "app").mkdir()
    (repo / "app" / "template.yaml").write_text(TEMPLATE)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the app's definition, before the import")
    done = run_cli("ab", "before", "main", "--template", "app/template.yaml", "--cold", "14",
                   "--warm", "0", "--provisioned", "0", "--quiet", "--output", output,
                   "--format", "json", cwd=repo)
    assert done.returncode == EXIT_REGRESSION, done.stdout + done.stderr
    results = load(output)
    assert {s.function for s in results.samples} == {"OrdersFunction"}
    assert {s.memory_mb for s in results.samples} == {512}          # the template's size
    order = [s.key.variant.version for s in results.samples if s.mode == "cold"]
    assert order == ["base", "head"] * 14
