"""deploy/coldbench-operator-policy.json allows every AWS call the harness makes, and no
service beyond those it uses."""

import json
import re
from pathlib import Path

from conftest import ROOT

SOURCES = sorted((ROOT / "harness" / "coldbench" / "targets" / "aws").glob("*.py"))
CLIENTS = {"lambda_": "lambda", "invoke": "lambda", "iam": "iam", "logs": "logs", "sts": "sts",
           "ecr": "ecr"}
# boto3 operations whose IAM action has another name (IAM Service Authorization Reference)
ACTIONS = {"lambda:Invoke": "lambda:InvokeFunction"}
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}   # needs no permission


def calls() -> set[str]:
    """IAM actions of the calls in the AWS target's code: `clients.<client>.<operation>(`
    and paginators."""
    found = set()
    for path in SOURCES:
        text = path.read_text()
        pattern = r"\.(lambda_|invoke|iam|logs|sts|ecr)\s*\.\s*(?:get_paginator\(\s*\"(\w+)\"|(\w+)\()"
        for client, paginated, operation in re.findall(pattern, text):
            name = paginated or operation
            if name in ("get_waiter", "get_paginator", "exceptions", "meta"):
                continue
            action = f"{CLIENTS[client]}:{''.join(p.title() for p in name.split('_'))}"
            found.add(ACTIONS.get(action, action))
    return found


def allowed() -> set[str]:
    policy = json.loads((ROOT / "deploy" / "coldbench-operator-policy.json").read_text())
    actions = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions


def test_every_call_is_allowed():
    used = calls()
    assert {"lambda:CreateFunction", "lambda:UpdateFunctionConfiguration",
            "lambda:InvokeFunction", "iam:CreateRole", "logs:CreateLogGroup"} <= used
    missing = used - allowed() - ALWAYS_ALLOWED
    assert not missing, f"the operator policy lacks {sorted(missing)}"
    # waiters poll GetFunction and GetFunctionConfiguration; IAM's role waiter GetRole
    assert {"lambda:GetFunction", "lambda:GetFunctionConfiguration", "iam:GetRole"} <= allowed()
    # --via url: requests to function URLs (no boto3 call) need both actions ("Control
    # access to Lambda function URLs")
    assert {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"} <= allowed()


def test_nothing_beyond_the_services_used():
    assert {a.split(":")[0] for a in allowed()} == {"lambda", "logs", "iam", "ecr"}
    assert not any(a.endswith(":*") or a == "*" for a in allowed())


def test_resources_are_coldbenchs_own():
    policy = json.loads((ROOT / "deploy" / "coldbench-operator-policy.json").read_text())
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        if resources == ["*"]:     # only finding leftovers and ECR's log-in take no resource
            assert all(re.match(r"\w+:(List|Describe)", a) or a == "ecr:GetAuthorizationToken"
                       for a in actions), statement
        else:
            assert all("coldbench" in r for r in resources), statement
    assert Path(ROOT / "deploy" / "template.yaml").read_text().count("coldbench:run-id") >= 3
