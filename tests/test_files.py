"""What coldbench writes and reads: paths checked before anything is measured, nothing
replaced without --force, one writer per path, no sample dropped without a word."""

import json
import os
import stat
import subprocess
import sys
import time

import click
import pytest

from coldbench.results.schema import SCHEMA_VERSION, ResultsWriter, load

from conftest import make_sample, run_cli


def one_line_refusal(result, *words):
    """Exit status 2, one line on stderr naming ``words``, nothing on stdout."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("coldbench: error: "), \
        result.stderr
    for word in words:
        assert str(word) in result.stderr
    assert result.stdout == ""


def results_file(path, count: int = 14, ended: bool = True):
    """A results file as `coldbench run` writes it, one sample per line."""
    run = {"run_id": "20261206T120000Z-0000beef", "target": "local",
           "started_at": "2026-12-06T12:00:00+00:00"}
    writer = ResultsWriter(path, run=dict(run))
    for k in range(count):
        writer.add(make_sample(runtime="go", init_ms=10.0 + k, e2e_ms=12.0 + k, billed_ms=12.0,
                               max_memory_mb=9.0, invocation=k))
    if ended:
        writer.results.run |= {"ended_at": "2026-12-06T12:01:00+00:00", "completed": True}
        writer.close()
    else:
        writer.close()          # as written so far: a run that is still going
    return path


# -- written paths, checked before anything is measured ------------------------------------

@pytest.fixture
def null_device(tmp_path):
    """A device node of its own, as /dev/null is (1, 3): a coldbench that replaced it would
    replace this one, not the machine's."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    node = tmp_path / "dev" / "null"
    node.parent.mkdir()
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return node


def test_a_device_is_never_an_output_even_with_force(null_device):
    result = run_cli("run", "--runtimes", "go", "--cold", "1", "--warm", "0",
                     "--provisioned", "0", "--output", null_device, "--force", "--quiet")
    one_line_refusal(result, null_device, "character device")
    after = os.stat(null_device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == os.makedev(1, 3)


@pytest.mark.parametrize("kind", ["folder", "link to a folder", "link to a device", "pipe"])
def test_a_folder_or_a_link_to_one_is_refused_before_measuring(tmp_path, kind, request):
    folder = tmp_path / "folder"
    folder.mkdir()
    output = {"folder": folder, "link to a folder": tmp_path / "link.json",
              "link to a device": tmp_path / "null.json", "pipe": tmp_path / "pipe"}[kind]
    if kind == "link to a folder":
        output.symlink_to(folder)
    if kind == "link to a device":
        output.symlink_to(request.getfixturevalue("null_device"))
    if kind == "pipe":
        os.mkfifo(output)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_cli("run", "--runtimes", "go", "--cold", "1", "--warm", "0",
                     "--provisioned", "0", "--output", output, "--force", "--quiet")
    one_line_refusal(result, output)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert output.is_symlink() or kind in ("folder", "pipe")
    assert list(folder.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only file system needs root")
def test_a_read_only_file_system_is_refused_before_measuring(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], check=True)
    try:
        result = run_cli("run", "--runtimes", "go", "--cold", "1", "--warm", "0",
                         "--provisioned", "0", "--output", mount / "out.json", "--quiet")
        one_line_refusal(result, mount / "out.json", "Read-only file system")
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("args", [
    ["profile", "--runtimes", "go", "--samples", "1", "--chart", "{tmp}/missing/chart.svg"],
    ["profile", "--runtimes", "go", "--samples", "1", "--output", "{tmp}/missing/p.json"],
    ["mitigate", "--runtime", "go", "--output", "{tmp}/missing/m.json"],
    ["run", "--runtimes", "go", "--history", "{tmp}/a-file"],
    ["calibrate", "{tmp}/no-run.json", "--output", "{tmp}/missing/c.json"],
])
def test_every_written_path_is_checked_before_anything_runs(tmp_path, args):
    (tmp_path / "a-file").write_text("not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    started = time.monotonic()
    result = run_cli(*args)
    one_line_refusal(result)
    assert [a for a in args if str(tmp_path) in a][-1] in result.stderr     # named
    assert time.monotonic() - started < 20          # refused, not measured
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]   # no .partial left


def test_two_outputs_of_one_command_cannot_be_one_file(tmp_path):
    result = run_cli("profile", "--runtimes", "go", "--output", tmp_path / "p",
                     "--chart", tmp_path / "p")
    one_line_refusal(result, "--output and --chart name the same file")
    assert list(tmp_path.iterdir()) == []


def test_report_replaces_an_existing_file_only_with_force(tmp_path):
    run = results_file(tmp_path / "run.json")
    report = tmp_path / "report.html"
    report.write_text("mine")
    one_line_refusal(run_cli("report", run, "--format", "html", "--output", report),
                     report, "--force")
    assert report.read_text() == "mine"
    result = run_cli("report", run, "--format", "html", "--output", report, "--force")
    assert result.returncode == 0, result.stderr
    assert report.read_text().startswith("<!DOCTYPE html>")
    # the charts of a markdown report are outputs too
    markdown = tmp_path / "report.md"
    (tmp_path / "report-charts").mkdir()
    (tmp_path / "report-charts" / "cold-distribution.svg").write_text("mine")
    one_line_refusal(run_cli("report", run, "--format", "markdown", "--output", markdown),
                     "report-charts", "--force")
    assert not markdown.exists()


def kept_history(tmp_path):
    history = tmp_path / "history"
    result = run_cli("history", "--history", history, "add",
                     results_file(tmp_path / "run.json"))
    assert result.returncode == 0, result.stderr
    return history


def test_publish_writes_into_a_folder_of_other_files_only_with_force(tmp_path):
    history = kept_history(tmp_path)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("my own page")
    one_line_refusal(run_cli("publish", site, "--history", history), site, "--force")
    assert (site / "index.html").read_text() == "my own page"
    assert run_cli("publish", site, "--history", history, "--force").returncode == 0
    assert "coldbench" in (site / "index.html").read_text()
    # a site published before is published again without --force
    assert run_cli("publish", site, "--history", history).returncode == 0
    new = tmp_path / "new" / "site"
    assert run_cli("publish", new, "--history", history).returncode == 0
    assert (new / "data" / "history.json").is_file()


def test_publish_onto_a_file_is_one_line(tmp_path):
    history = kept_history(tmp_path)
    target = tmp_path / "site.html"
    target.write_text("a file")
    one_line_refusal(run_cli("publish", target, "--history", history), target, "not a folder")
    assert target.read_text() == "a file"


def test_calibrate_replaces_an_existing_file_only_with_force(tmp_path):
    existing = tmp_path / "mine.json"
    existing.write_text("keep me")
    one_line_refusal(run_cli("calibrate", results_file(tmp_path / "run.json"),
                             "--output", existing), existing, "--force")
    assert existing.read_text() == "keep me"


# -- one writer per path ----------------------------------------------------------------

def test_a_second_writer_of_a_path_is_refused_while_the_first_holds_it(tmp_path):
    path = tmp_path / "run.json"
    first = ResultsWriter(path, run={})
    with pytest.raises(Exception, match="being written by another coldbench process"):
        ResultsWriter(path, run={}, overwrite=True)
    first.add(make_sample())
    first.close()
    # released: the next writer may take it, and the lock file is gone
    ResultsWriter(path, run={}, overwrite=True).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_a_lock_left_by_a_killed_writer_is_taken_over(tmp_path):
    path = tmp_path / "run.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom coldbench.files import Claim\n"
         "claim = Claim(sys.argv[1]); print('held', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    result = run_cli("report", results_file(tmp_path / "r.json"), "--format", "html",
                     "--output", path)
    one_line_refusal(result, path, f"process {holder.pid}")
    holder.kill()
    holder.wait()
    assert (tmp_path / ".run.json.lock").exists()          # left by the killed process
    result = run_cli("report", tmp_path / "r.json", "--format", "html", "--output", path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".run.json.lock").exists()


COLD, WARM = 20, 50          # long enough for a second run to start while it measures


@pytest.mark.slow
def test_two_runs_with_one_output_the_second_is_refused_and_the_first_keeps_every_sample(
        tmp_path):
    output = tmp_path / "run.json"
    output.write_text("an earlier run")
    args = ["run", "--runtimes", "python", "--memory", "128", "--cold", COLD, "--warm", WARM,
            "--provisioned", "0", "--output", output, "--force", "--quiet"]
    first = subprocess.Popen([sys.executable, "-m", "coldbench", *map(str, args)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while output.read_text() == "an earlier run":    # the first has begun measuring
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = run_cli(*args)
        assert first.poll() is None, "the first run ended before the second was refused"
        one_line_refusal(second, output, "being written by another coldbench process")
    finally:
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    results = load(output)
    assert results.run["completed"] is True and results.incomplete is None
    modes = [s.mode for s in results.samples]
    assert (modes.count("cold"), modes.count("warm")) == (COLD, WARM)


# -- readers drop nothing silently ---------------------------------------------------------

def test_a_garbage_line_in_the_middle_is_refused_naming_it(tmp_path):
    path = results_file(tmp_path / "run.json")
    lines = path.read_text().split("\n")
    lines[7] = "garbage"                                     # line 8: the 6th sample
    path.write_text("\n".join(lines))
    for args in (["report", path], ["compare", path, path],
                 ["cost", path, "--requests-per-month", "1M"]):
        one_line_refusal(run_cli(*args), path, "line 8 is not a sample", "nothing was read")
    one_line_refusal(run_cli("history", "--history", tmp_path / "h", "add", path), "line 8")


def test_a_finished_run_cut_mid_sample_is_refused(tmp_path):
    path = results_file(tmp_path / "run.json")
    text = path.read_text()
    path.write_text(text[:text.index('"invocation": 9') + 5])        # cut inside sample 9
    for args in (["report", path], ["history", "--history", tmp_path / "h", "add", path]):
        one_line_refusal(run_cli(*args), path, "line 12", "cut short")


def test_a_run_being_written_is_read_to_its_last_whole_sample_with_a_warning(tmp_path):
    path = results_file(tmp_path / "run.json", count=6, ended=False)
    text = path.read_text()
    path.write_text(text.removesuffix("\n]}\n") + ',\n{"runtime": "go", "memory_m')
    result = run_cli("report", path, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr and "line 9 is cut short" in result.stderr
    assert "read the 6 samples before it" in result.stderr
    assert ",6," in result.stdout                   # every whole sample counted
    one_line_refusal(run_cli("history", "--history", tmp_path / "h", "add", path), "line 9")


def test_an_intact_copy_replaces_a_damaged_one_kept_before(tmp_path):
    history = tmp_path / "history"
    intact = results_file(tmp_path / "run.json")
    # as an earlier coldbench kept it: a garbage line read as the end, 9 of 14 samples in
    # the index
    nine = results_file(tmp_path / "nine.json", count=9)
    assert run_cli("history", "--history", history, "add", nine).returncode == 0
    assert ",cold,9,0,0,9," in (history / "index.csv").read_text()
    kept = history / "runs" / "20261206T120000Z-0000beef.json"
    lines = intact.read_text().split("\n")
    kept.write_text("\n".join(lines[:11] + ["garbage"] + lines[12:]))
    one_line_refusal(run_cli("publish", tmp_path / "site", "--history", history),
                     "line 12 is not a sample", "history --history")
    result = run_cli("history", "--history", history, "add", intact)
    assert result.returncode == 0, result.stderr
    assert "replaced its damaged copy" in result.stdout
    assert kept.read_bytes() == intact.read_bytes()
    index = (history / "index.csv").read_text().splitlines()
    assert len(index) == 2 and ",cold,14,0,0,14," in index[1]
    # an intact kept run is still never replaced by another
    other = results_file(tmp_path / "other.json", count=3)
    one_line_refusal(run_cli("history", "--history", history, "add", other), "never replaced")


def test_non_finite_numbers_in_a_sample_are_refused(tmp_path):
    path = tmp_path / "run.json"
    sample = make_sample().to_json() | {"init_ms": float("nan")}
    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "run": {},
                                "samples": [sample]}))
    one_line_refusal(run_cli("report", path), "init_ms is NaN")


# -- numbers: non-finite and out-of-range values are bad input ------------------------------

REQUIRED = {"compare": ["base.json", "new.json"],
            "cost": ["run.json", "--requests-per-month", "1"],
            "mitigate": ["--runtime", "go"],
            "ab": ["base", "head", "--dirs"]}
OTHERS = {"serve"}          # its options are checked with its server


def float_options():
    from coldbench.cli import cli

    def walk(group, path):
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from walk(command, path + [name])
            elif name not in OTHERS:
                for param in command.params:
                    if isinstance(param, click.Option) and param.type == click.FLOAT:
                        yield path + [name], param.opts[0]
    return list(walk(cli, []))


@pytest.mark.parametrize("command, option", float_options())
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_on_every_command(tmp_path, command, option, value):
    result = run_cli(*command, *REQUIRED.get(command[-1], []), f"{option}={value}",
                     cwd=tmp_path)
    one_line_refusal(result, option)


def test_every_timeout_is_among_the_float_options():
    assert {("run", "--timeout"), ("profile", "--timeout"), ("mitigate", "--timeout")} <= {
        (command[-1], option) for command, option in float_options()}


@pytest.mark.parametrize("args, says", [
    (["profile", "--memory", "0"], "outside Lambda's 128..10240 MB"),
    (["profile", "--memory", "99999"], "outside Lambda's 128..10240 MB"),
    (["run", "--timeout", "901"], "at most 900"),
    (["run", "--timeout", "0"], "above 0"),
    (["run", "--idle-samples", "-1"], "--idle-samples must be at least 1"),
    (["profile", "--samples", "0"], "--samples"),
    (["profile", "--top", "-1"], "--top"),
])
def test_out_of_range_values_are_refused(args, says):
    one_line_refusal(run_cli(*args, "--runtimes", "go"), says)


def calibration(tmp_path, **changes) -> str:
    from importlib import resources
    document = json.loads(resources.files("coldbench.data")
                          .joinpath("calibration-2026-12.json").read_text())
    for key, value in changes.items():
        section, name = key.split("__")
        document[section][name] = value
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("changes, says", [
    ({"code_path__read_mb_per_s": "fast"}, 'read_mb_per_s is "fast", not a finite number'),
    ({"code_path__read_mb_per_s": -5}, "read_mb_per_s is -5; it must be above zero"),
    ({"code_path__read_iops": 2.5}, "read_iops is 2.5, not a whole number"),
    ({"parameters__cpu_factor": float("nan")}, "cpu_factor is nan, not a finite number"),
    ({"parameters__ms_per_mb": float("inf")}, "ms_per_mb is inf"),
    ({"parameters__ms_per_mb": "4.7"}, 'ms_per_mb is "4.7"'),
])
def test_a_calibration_with_values_out_of_range_is_refused(tmp_path, changes, says):
    result = run_cli("run", "--runtimes", "go", "--calibration",
                     calibration(tmp_path, **changes), "--output", tmp_path / "out.json")
    one_line_refusal(result, "calibration.json", says)
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("usd", ["nan", "inf", "-0.5"])
def test_a_price_table_with_a_price_out_of_range_is_refused(tmp_path, usd):
    from importlib import resources
    text = resources.files("coldbench.data").joinpath("prices-2026-12.csv").read_text()
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    columns = lines[header].split(",")
    row = next(i for i, line in enumerate(lines) if line.startswith("lambda,requests,"))
    cells = lines[row].split(",")
    cells[columns.index("usd")] = usd
    lines[row] = ",".join(cells)
    table = tmp_path / "prices-2026-12.csv"
    table.write_text("\n".join(lines) + "\n")
    result = run_cli("cost", "run.json", "--requests-per-month", "1M", "--prices", table,
                     cwd=tmp_path)
    one_line_refusal(result, "price table prices-2026-12.csv", f"'{usd}' is not a finite number")
