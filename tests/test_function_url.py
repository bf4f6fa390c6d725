"""Function URLs: payload format 2.0 both ways (environments/function_url.py), served by
`coldbench serve` at /lambda-url/<function>/... and measured by `run --via url` with the
HTTP client's latency beside Init Duration and Duration."""

import base64
import json

import httpx
import pytest

from conftest import ROOT, run_cli
from coldbench.environments.function_url import HttpRequest, event, response

ECHO = '''import json
calls = []
def handler(event, context):
    calls.append(1)
    return {"statusCode": 201, "headers": {"X-Seen": event["rawPath"]},
            "cookies": ["a=1"],
            "body": json.dumps({"cold": len(calls) == 1, "event": event})}
'''


def test_a_request_as_a_2_0_event():
    seen = event(HttpRequest("POST", "/orders/7", "a=1&a=2&b=",
                             [("Content-Type", "application/json"), ("X-Multi", "1"),
                              ("x-multi", "2"), ("Cookie", "s=1; t=2"),
                              ("User-Agent", "curl/8")], b'{"n": 1}'), "fn")
    assert (seen["version"], seen["routeKey"], seen["rawPath"]) == ("2.0", "$default", "/orders/7")
    assert seen["rawQueryString"] == "a=1&a=2&b="
    assert seen["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert seen["headers"]["x-multi"] == "1,2" and "cookie" not in seen["headers"]
    assert seen["cookies"] == ["s=1", "t=2"]
    assert seen["body"] == '{"n": 1}' and seen["isBase64Encoded"] is False
    http = seen["requestContext"]["http"]
    assert (http["method"], http["path"], http["userAgent"]) == ("POST", "/orders/7", "curl/8")
    assert seen["requestContext"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")
    binary = event(HttpRequest("PUT", "/", body=b"\x00\xff",
                               headers=[("Content-Type", "application/octet-stream")]), "fn")
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\x00\xff"


def test_an_answer_as_an_http_response():
    shaped = response({"statusCode": 404, "headers": {"X-A": "b"}, "cookies": ["c=d"],
                       "body": "gone"}, failed=False)
    assert shaped.status == 404 and shaped.body == b"gone"
    assert ("X-A", "b") in shaped.headers and ("Set-Cookie", "c=d") in shaped.headers
    plain = response({"cold": True}, failed=False)          # no statusCode: inferred
    assert plain.status == 200 and json.loads(plain.body) == {"cold": True}
    assert ("Content-Type", "application/json") in plain.headers
    assert response({"statusCode": 200, "body": base64.b64encode(b"\x01").decode(),
                     "isBase64Encoded": True}, failed=False).body == b"\x01"
    assert response(None, failed=True).status == 502


@pytest.mark.slow
def test_serve_answers_at_each_functions_url(tmp_path, serving):
    (tmp_path / "app.py").write_text(ECHO)
    server = serving(tmp_path, "app.handler")
    with httpx.Client(base_url=f"{server.address}/lambda-url/coldbench-python-256",
                      timeout=60) as client:
        first = client.put("/items/1?x=y", content=b"payload",
                           headers={"Content-Type": "text/plain"})
        second = client.get("/")
    missing = httpx.get(f"{server.address}/lambda-url/nothing-here/", timeout=60)
    assert first.status_code == 201 and first.headers["x-seen"] == "/items/1"
    assert first.headers["set-cookie"] == "a=1"
    body = first.json()
    assert body["cold"] is True and second.json()["cold"] is False     # an environment kept
    assert body["event"]["requestContext"]["http"]["method"] == "PUT"
    assert body["event"]["body"] == "payload" and body["event"]["rawQueryString"] == "x=y"
    assert missing.status_code == 404


@pytest.mark.slow
def test_run_via_url_records_the_clients_latency(tmp_path):
    output = tmp_path / "run.json"
    result = run_cli("run", "--runtimes", "python,go", "--via", "url", "--memory", "512",
                     "--cold", "3", "--warm", "3", "--provisioned", "1", "--output", output,
                     "--quiet")
    assert result.returncode == 0, result.stderr
    assert "URL Request p50 cold / warm" in result.stdout
    assert "python via url" in result.stdout
    samples = json.loads(output.read_text())["samples"]
    assert len(samples) == 14
    for sample in samples:
        assert sample["error"] is None and not sample["misclassified"], sample
        assert sample["variant"] == {"via": "url"} and sample["url_status"] == 200
        assert sample["url_ms"] == pytest.approx(sample["e2e_ms"], abs=0.001)
        # the client waits for the whole invocation, and a cold one for init too
        assert sample["url_ms"] > sample["duration_ms"] + (sample["init_ms"] or 0)
    # a request through a URL inits as an invoked one: the prediction holds for it
    assert "Predicted AWS Init" in result.stdout
    assert all(s["predicted_aws_init_ms"] > 0 for s in samples if s["mode"] == "cold")


@pytest.mark.slow
def test_a_templates_functions_via_url_with_their_references_kept_apart(tmp_path):
    """The hello references a template run adds for the prediction are measured through the
    URL too, kept in the prediction's metadata, not among the app's rows."""
    output = tmp_path / "run.json"
    result = run_cli("run", "--template", ROOT / "examples" / "sam-app" / "template.yaml",
                     "--via", "url", "--cold", "2", "--warm", "1", "--provisioned", "0",
                     "--output", output, "--quiet")
    assert result.returncode == 0, result.stderr
    document = json.loads(output.read_text())
    assert {s["function"] for s in document["samples"]} == {"OrdersFunction",
                                                             "InventoryFunction"}
    assert {r["runtime"] for r in document["run"]["prediction"]["reference_samples"]} \
        == {"python", "go"}
    assert all(s["predicted_aws_init_ms"] > 0 for s in document["samples"]
               if s["mode"] == "cold")


@pytest.mark.parametrize("args, said", [
    # a function URL serves $LATEST or an alias, not the versions these are measured on
    (("--via", "url", "--provisioned", "1"), "--via url on AWS"),
    (("--via", "url", "--snapstart"), "--via url on AWS"),
    (("--url-endpoint-url", "http://127.0.0.1:9"), "--url-endpoint-url goes with --via url"),
])
def test_via_url_on_aws_refuses_what_a_function_url_cannot_serve(args, said):
    result = run_cli("run", "--target", "aws", "--region", "us-east-1", "--cold", "1", *args)
    assert result.returncode == 2
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.docker
def test_run_via_url_on_docker(engine, tmp_path):
    output = tmp_path / "run.json"
    result = run_cli("run", "--target", "docker", "--images", "local", "--runtimes", "go",
                     "--via", "url", "--memory", "512", "--cold", "2", "--warm", "2",
                     "--provisioned", "0", "--output", output, "--quiet")
    assert result.returncode == 0, result.stderr
    samples = json.loads(output.read_text())["samples"]
    assert [s["mode"] for s in samples].count("warm") == 2
    cold = [s for s in samples if s["mode"] == "cold"]
    assert len(cold) == 2
    # a cold request waits for the container, which the cold start does not count
    assert all(s["url_ms"] > s["init_ms"] + s["duration_ms"] for s in cold)
