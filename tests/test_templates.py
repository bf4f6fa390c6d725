"""Functions read from an app's definition (coldbench.templates): SAM with Globals and
intrinsics, CDK's cdk.out, serverless.yml; SAM CLI's --env-vars; what cannot run says why
and the rest runs; a malformed file is one line naming the file and the line (exit 2).
The slow tests run each example end to end and check, inside each function, the memory
size, timeout and variables its definition gave it."""

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from coldbench import templates
from coldbench.build import build
from coldbench.errors import UsageError
from coldbench.targets.local.target import LocalTarget
from coldbench.templates.definition import placeholder

EXAMPLES = ROOT / "examples"
SAM = EXAMPLES / "sam-app" / "template.yaml"
CDK = EXAMPLES / "cdk-app" / "cdk.out"
SERVERLESS = EXAMPLES / "serverless-app" / "serverless.yml"


def by_name(app):
    return {d.name: d for d in app.definitions}


def test_sam_globals_parameters_and_intrinsics():
    app = templates.read(SAM)
    assert app.kind == "sam"
    orders, inventory = by_name(app)["OrdersFunction"], by_name(app)["InventoryFunction"]
    # Globals: Timeout 10 and MemorySize 256 unless the function says otherwise
    assert (orders.memory_mb, orders.timeout_s) == (512, 10.0)
    assert (inventory.memory_mb, inventory.timeout_s) == (256, 5.0)
    assert (orders.runtime, inventory.runtime) == ("python", "go")   # BuildMethod go1.x
    # Globals' variables merged with the function's; parameters resolved to defaults
    assert orders.environment["STAGE"] == "dev" and orders.environment["LOG_LEVEL"] == "INFO"
    assert orders.environment["TABLE_NAME"] == placeholder("!Ref OrdersTable")
    assert orders.environment["TABLE_ARN"] == placeholder("!GetAtt OrdersTable.Arn")
    assert sorted(orders.placeholders) == ["QUEUE_URL", "TABLE_ARN", "TABLE_NAME"]
    assert "TABLE_ARN" not in inventory.environment
    assert orders.layers[0].reference == "CommonLayer"
    assert orders.layers[0].path == (EXAMPLES / "sam-app" / "layers" / "common").resolve()
    assert orders.origin == "template.yaml:29"
    assert all(d.not_runnable is None for d in app.definitions)


def test_cdk_assets_from_metadata():
    app = templates.read(CDK)
    assert app.kind == "cdk"
    thumbnails, webhook = app.definitions
    assert thumbnails.code.name.startswith("asset.3f1c") and thumbnails.code.is_dir()
    # python3.13 runs as itself, on a Python 3.13 (not as python, the documented 3.12)
    assert (thumbnails.runtime, thumbnails.memory_mb, thumbnails.timeout_s) == ("python3.13", 1024, 30.0)
    assert (webhook.runtime, webhook.memory_mb, webhook.timeout_s) == ("provided", 256, 8.0)
    assert webhook.environment["SECRET_ARN"] == placeholder("!ImportValue shared-secret-arn")


def test_serverless_variables_and_package(monkeypatch):
    monkeypatch.setenv("GREETER_LOG_LEVEL", "debug")
    app = templates.read(SERVERLESS)
    hello, report = app.definitions
    assert (hello.name, hello.memory_mb, hello.timeout_s) == ("hello", 256, 12.0)
    assert (report.memory_mb, report.timeout_s) == (768, 20.0)
    assert hello.environment == {"SERVICE": "greeter", "STAGE": "dev", "LOG_LEVEL": "debug"}
    assert report.environment["TABLE"] == placeholder("${cf:reports-dev.TableName}")
    assert report.environment["API_KEY"] == placeholder("${ssm:/greeter/dev/api-key}")
    packaged = {p.relative_to(hello.code).as_posix() for p in hello.code.rglob("*")
                if p.is_file()}
    assert packaged == {"src/handler.py"}        # tests/ and serverless.yml left out


def test_serverless_placeholders_in_provider_variables(tmp_path):
    (tmp_path / "handler.py").write_text("def hello(event, context):\n    return {}\n")
    path = tmp_path / "serverless.yml"
    path.write_text("service: s\nprovider:\n  name: aws\n  runtime: python3.12\n"
                    "  environment:\n    SECRET: ${ssm:/s/secret}\n    PLAIN: ${self:service}\n"
                    "functions:\n  hello:\n    handler: handler.hello\n")
    (hello,) = templates.read(path).definitions
    assert hello.environment == {"SECRET": placeholder("${ssm:/s/secret}"), "PLAIN": "s"}
    assert hello.placeholders == ["SECRET"] and hello.not_runnable is None


def test_env_vars_in_sam_clis_format(tmp_path):
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({
        "Parameters": {"TABLE_NAME": "local-orders", "NOT_DECLARED": "x"},
        "OrdersFunction": {"TABLE_ARN": "arn:aws:dynamodb:us-east-1:1:table/o",
                           "TABLE_NAME": "orders-of-orders"}}))
    app = templates.read(SAM, env_vars=env_vars)
    orders, inventory = by_name(app)["OrdersFunction"], by_name(app)["InventoryFunction"]
    assert orders.environment["TABLE_NAME"] == "orders-of-orders"       # its own wins
    assert inventory.environment["TABLE_NAME"] == "local-orders"        # Parameters
    assert orders.environment["TABLE_ARN"] == "arn:aws:dynamodb:us-east-1:1:table/o"
    assert "NOT_DECLARED" not in orders.environment                     # as SAM CLI does
    assert orders.placeholders == ["QUEUE_URL"] and inventory.placeholders == []


def write_app(folder: Path, runtimes: dict[str, str]) -> Path:
    """A SAM template of one function per runtime, each with a Python handler."""
    resources = []
    for name, runtime in runtimes.items():
        code = folder / name.lower()
        code.mkdir()
        (code / "app.py").write_text(
            "import os\n"
            "calls = []\n"
            "def handler(event, context):\n"
            "    calls.append(1)\n"
            "    return {'cold': len(calls) == 1, 'seen': os.environ.get('GREETING')}\n")
        resources.append(f"""  {name}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {name.lower()}/
      Handler: app.handler
      Runtime: {runtime}
      Environment:
        Variables:
          GREETING: hi
""")
    path = folder / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + "".join(resources))
    return path


def test_what_cannot_run_says_why(tmp_path):
    path = write_app(tmp_path, {"First": "python3.12", "Dotnet": "dotnet8",
                                "Missing": "python3.12", "Image": "python3.12"})
    shutil.rmtree(tmp_path / "missing")
    text = path.read_text().replace("      CodeUri: image/\n",
                                    "      PackageType: Image\n      ImageUri: repo:tag\n")
    path.write_text(text)
    app = templates.read(path)
    found = by_name(app)
    assert found["First"].not_runnable is None
    assert "no runtime for dotnet8" in found["Dotnet"].not_runnable
    assert "does not exist" in found["Missing"].not_runnable
    assert "image function" in found["Image"].not_runnable
    assert [f.name for f in app.functions()] == ["First"]
    notes = app.function_notes()
    assert any(n.startswith("Dotnet (template.yaml:") and "not measured" in n for n in notes)


def test_layer_by_arn_needs_a_local_copy(tmp_path):
    path = write_app(tmp_path, {"Fn": "python3.12"})
    arn = "arn:aws:lambda:us-east-1:123456789012:layer:tools:3"
    path.write_text(path.read_text() + f"      Layers:\n        - {arn}\n")
    assert "--layer-dir" in templates.read(path).definitions[0].not_runnable
    layer = tmp_path / "tools"
    layer.mkdir()
    mapped = templates.read(path, layer_dirs=[f"{arn}={layer}"]).definitions[0]
    assert mapped.not_runnable is None and mapped.layers[0].path == layer.resolve()


def test_malformed_template_names_the_file_and_line(tmp_path):
    bad = tmp_path / "template.yaml"
    bad.write_text("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
                   "    Properties: [unclosed\n")
    with pytest.raises(UsageError, match=rf"{bad}:\d+: "):
        templates.read(bad)
    result = run_cli("run", "--template", bad, "--cold", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{bad}:" in lines[0], result.stderr


def test_unknown_function_name_and_orphan_options(tmp_path):
    with pytest.raises(UsageError, match="no function named Nope"):
        templates.read(SAM).select(["Nope"])
    result = run_cli("run", "--env-vars", tmp_path / "env.json")
    assert result.returncode == 2 and "go with --template" in result.stderr


# end to end -------------------------------------------------------------------------------

def seen_inside(path: Path, **read) -> dict[str, dict]:
    """Each runnable function's response to one cold invocation on the local target,
    started as `run` starts it (its memory size, timeout and variables)."""
    functions = templates.read(path, **read).functions()
    target = LocalTarget(timeout_s=60)
    seen = {}
    try:
        for function in functions:
            artifact = build(function)
            environment = target.start(artifact, function.configuration.memory_mb, False)
            invoked = environment.invoke({})
            environment.close()
            assert invoked.error is None, invoked.error
            seen[function.name] = invoked.response
    finally:
        target.close()
    return seen


def run_rows(path: Path, tmp_path: Path, *extra) -> dict:
    output = tmp_path / "run.json"
    result = run_cli("run", "--template", path, "--cold", "2", "--warm", "2",
                     "--provisioned", "0", "--output", output, "--quiet", *extra)
    assert result.returncode == 0, result.stderr
    samples = json.loads(output.read_text())["samples"]
    rows = {}
    for sample in samples:
        assert sample["error"] is None and not sample["misclassified"], sample
        rows.setdefault((sample["function"], sample["runtime"], sample["memory_mb"]), 0)
        rows[(sample["function"], sample["runtime"], sample["memory_mb"])] += 1
    return {"rows": rows, "stdout": result.stdout, "stderr": result.stderr}


@pytest.mark.slow
def test_sam_app_end_to_end(tmp_path):
    ran = run_rows(SAM, tmp_path)
    assert ran["rows"] == {("OrdersFunction", "python", 512): 4,
                           ("InventoryFunction", "go", 256): 4}
    assert "OrdersFunction (python)" in ran["stdout"]
    assert "TABLE_NAME, TABLE_ARN, QUEUE_URL need a deployment" in ran["stderr"]
    seen = seen_inside(SAM)
    orders, inventory = seen["OrdersFunction"], seen["InventoryFunction"]
    assert orders["memory_mb"] == 512 and inventory["memory_mb"] == 256
    assert 9000 < orders["remaining_ms"] <= 10000 and 4000 < inventory["remaining_ms"] <= 5000
    assert orders["execution_env"] == "AWS_Lambda_python3.12"
    assert orders["environment"]["STAGE"] == "dev"
    assert orders["environment"]["TABLE_ARN"] == placeholder("!GetAtt OrdersTable.Arn")
    assert inventory["environment"] == {"STAGE": "dev", "LOG_LEVEL": "INFO",
                                        "TABLE_NAME": placeholder("!Ref OrdersTable")}


@pytest.mark.slow
def test_sam_app_with_env_vars_and_memory_sweep(tmp_path):
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"Parameters": {"TABLE_NAME": "local"},
                                    "OrdersFunction": {"LOG_LEVEL": "DEBUG"}}))
    seen = seen_inside(SAM, env_vars=env_vars)
    assert seen["OrdersFunction"]["environment"]["TABLE_NAME"] == "local"
    assert seen["OrdersFunction"]["environment"]["LOG_LEVEL"] == "DEBUG"
    assert seen["InventoryFunction"]["environment"]["LOG_LEVEL"] == "INFO"
    ran = run_rows(SAM, tmp_path, "--function-name", "OrdersFunction", "--memory", "128,1024",
                   "--env-vars", env_vars)
    assert ran["rows"] == {("OrdersFunction", "python", 128): 4,
                           ("OrdersFunction", "python", 1024): 4}


@pytest.mark.slow
def test_cdk_app_end_to_end(tmp_path):
    ran = run_rows(CDK, tmp_path)
    assert ran["rows"] == {("Thumbnails0E6B9C2D", "python3.13", 1024): 4,
                           ("Webhook5D1E7A3B", "provided", 256): 4}
    seen = seen_inside(CDK)
    thumbnails, webhook = seen["Thumbnails0E6B9C2D"], seen["Webhook5D1E7A3B"]
    assert (thumbnails["memory_mb"], webhook["memory_mb"]) == (1024, 256)
    assert 29000 < thumbnails["remaining_ms"] <= 30000 and 7000 < webhook["remaining_ms"] <= 8000
    assert thumbnails["environment"]["BUCKET_NAME"] == placeholder("!Ref MediaBucket4F3A2B1C")
    assert webhook["environment"] == {"STAGE": "prod",
                                      "SECRET_ARN": placeholder("!ImportValue shared-secret-arn")}
    assert webhook["execution_env"] == "AWS_Lambda_provided.al2023"


@pytest.mark.slow
def test_serverless_app_end_to_end(tmp_path):
    ran = run_rows(SERVERLESS, tmp_path)
    assert ran["rows"] == {("hello", "python", 256): 4, ("report", "python", 768): 4}
    seen = seen_inside(SERVERLESS)
    hello, report = seen["hello"], seen["report"]
    assert (hello["memory_mb"], report["memory_mb"]) == (256, 768)
    assert 11000 < hello["remaining_ms"] <= 12000 and 19000 < report["remaining_ms"] <= 20000
    assert hello["environment"]["SERVICE"] == "greeter"
    assert report["environment"]["TABLE"] == placeholder("${cf:reports-dev.TableName}")
    assert "src" in hello["packaged"]                # package.patterns: no tests/, no
    assert not {"tests", "serverless.yml"} & set(hello["packaged"])   # serverless.yml


@pytest.mark.slow
def test_unknown_runtime_in_one_of_three(tmp_path):
    path = write_app(tmp_path, {"Alpha": "python3.12", "Ruby": "ruby3.4",
                                "Beta": "python3.13"})
    ran = run_rows(path, tmp_path)
    # python3.13 runs as itself, python3.12 as python (the documented version)
    assert ran["rows"] == {("Alpha", "python", 128): 4, ("Beta", "python3.13", 128): 4}
    assert "Ruby (template.yaml:" in ran["stderr"] and "ruby3.4" in ran["stderr"]


@pytest.mark.slow
def test_missing_code_path_is_a_note_and_nothing_else_is_refused(tmp_path):
    path = write_app(tmp_path, {"Present": "python3.12", "Gone": "python3.12"})
    shutil.rmtree(tmp_path / "gone")
    ran = run_rows(path, tmp_path)
    assert ran["rows"] == {("Present", "python", 128): 4}
    assert "Gone (template.yaml:" in ran["stderr"] and "does not exist" in ran["stderr"]


@pytest.mark.slow
def test_build_and_profile_take_a_template():
    built = run_cli("build", "--template", SAM)
    assert built.returncode == 0, built.stderr
    # each function, and after the one with a layer, the folder that is its /opt
    assert [line.split()[0] for line in built.stdout.splitlines()] == [
        "OrdersFunction", "layers", "InventoryFunction"]
    assert built.stdout.splitlines()[1].split()[1] == "common"
    profiled = run_cli("profile", "--template", SAM, "--function-name", "OrdersFunction",
                       "--samples", "1")
    assert profiled.returncode == 0, profiled.stderr
    assert "python: OrdersFunction (app.handler) at 512 MB" in profiled.stdout
    assert "InventoryFunction" not in profiled.stdout
    refused = run_cli("run", "--template", SAM, "--runtimes", "python")
    assert refused.returncode == 2 and "drop --runtimes" in refused.stderr


def test_layer_dir_must_be_arn_equals_an_existing_folder(tmp_path):
    for value, words in (("no-equals-sign", "expected ARN=DIR"),
                         (f"arn:aws:lambda:us-east-1:1:layer:x:1={tmp_path}/nope", "does not exist")):
        with pytest.raises(UsageError, match=words):
            templates.read(SAM, layer_dirs=[value])
