"""The AWS target's options and safety rules, checked before anything is created."""

from dataclasses import replace

import pytest

from coldbench.targets.aws.client import describe, redact
from coldbench.errors import UsageError
from coldbench.workflows.options import RunOptions
from coldbench.targets.aws.lambda_runtimes import parse
from coldbench.targets.aws.plan import snapstart_supported


def test_runtime_identifiers_are_configurable():
    assert parse("python=python3.13, node=nodejs22.x") == (
        {"python": "python3.13", "node": "nodejs22.x"}, [])
    assert parse("latest,nodejs24.x") == ({}, ["latest", "nodejs24.x"])
    assert parse(None) == ({}, [])
    with pytest.raises(UsageError, match="unknown runtime 'cobol'"):
        parse("cobol=cobol1")
    with pytest.raises(UsageError, match="runtime=identifier"):
        parse("python")
    with pytest.raises(UsageError, match="not one of Lambda's runtime identifiers"):
        parse("node=nodejs99.x")


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


def test_aws_options_are_checked_and_provisioned_is_opt_in():
    from coldbench.workflows.options import check

    def options(**settings) -> RunOptions:
        return RunOptions(runtimes=["python"], target="aws",
                          target_options={"region": "eu-west-1", **settings},
                          defaulted=frozenset({"provisioned"}))

    left = check(options(architectures="arm64,x86_64"))
    assert left.provisioned == 0 and left.notes == ()   # costs money: only when asked
    asked = check(replace(options(), provisioned=2, defaulted=frozenset()))
    assert asked.provisioned == 2
    with pytest.raises(UsageError, match="--target aws needs --region"):
        check(options(region=None))
    with pytest.raises(UsageError, match="unknown architecture 'mips'"):
        check(options(architectures="mips"))
    with pytest.raises(UsageError, match="unknown runtime 'cobol'"):
        check(options(lambda_runtimes="cobol=cobol1"))
