"""The AWS target's options and safety rules, checked before anything is created."""

import pytest

from coldbench.targets.aws.client import describe, redact
from coldbench.errors import UsageError
from coldbench.measure.options import RunOptions
from coldbench.targets.aws.target import parse_lambda_runtimes, snapstart_supported


def test_runtime_identifiers_are_configurable():
    assert parse_lambda_runtimes("python=python3.13, node=nodejs22.x") == {
        "python": "python3.13", "node": "nodejs22.x"}
    assert parse_lambda_runtimes(None) == {}
    with pytest.raises(UsageError, match="unknown runtime 'cobol'"):
        parse_lambda_runtimes("cobol=cobol1")
    with pytest.raises(UsageError, match="runtime=identifier"):
        parse_lambda_runtimes("python")


@pytest.mark.parametrize("identifier, supported", [
    ("java21", True), ("java11", True), ("java8.al2", False), ("python3.12", True),
    ("python3.13", True), ("python3.11", False), ("dotnet8", True), ("nodejs20.x", False),
    ("provided.al2023", False)])
def test_snapstart_runtimes(identifier, supported):
    assert snapstart_supported(identifier) is supported


def test_keys_and_secrets_never_reach_a_message():
    text = ("signature mismatch for AKIAABCDEFGHIJKLMNOP with "
            "aws_secret_access_key=abc/def+ghi and X-Amz-Security-Token: FwoGZXIvYXdzE")
    cleaned = redact(text)
    assert "AKIAABCDEFGHIJKLMNOP" not in cleaned and "abc/def+ghi" not in cleaned
    assert "FwoGZXIvYXdzE" not in cleaned and cleaned.count("<redacted>") == 3

    class Failure(Exception):
        response = {"Error": {"Code": "AccessDenied", "Message": "user ASIAABCDEFGHIJKLMNOP "
                                                                "is not allowed"}}
        operation_name = "CreateFunction"
    assert describe(Failure()) == "CreateFunction: AccessDenied: user <redacted> is not allowed"


def test_aws_options_are_for_the_aws_target_and_provisioned_is_opt_in():
    import click
    from click.testing import CliRunner

    from coldbench.cli import aws as cli_aws

    local = RunOptions(runtimes=["python"])
    with pytest.raises(UsageError, match="--region is for --target aws"):
        cli_aws.apply(local, {"region": "us-east-1"}, print)
    cli_aws.apply(local, {"copies": 3, "architectures": "x86_64"}, print)   # defaults are fine
    assert local.target_options == {}

    @click.command()
    @click.option("--provisioned", default=6)
    def command(provisioned):
        options = RunOptions(runtimes=["python"], target="aws", provisioned=provisioned)
        cli_aws.apply(options, {"region": "eu-west-1", "architectures": "arm64,x86_64"}, print)
        click.echo(f"{options.provisioned} {options.target_options['architectures']}")

    runner = CliRunner()
    assert runner.invoke(command, []).output == "0 ['arm64', 'x86_64']\n"
    assert runner.invoke(command, ["--provisioned", "2"]).output.startswith("2 ")
