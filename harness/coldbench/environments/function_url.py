"""Lambda function URLs, as a function sees them and as a caller sees them: an HTTP request
becomes the event of payload format 2.0, and the function's answer becomes the HTTP
response (AWS Lambda Developer Guide, "Invoking Lambda function URLs": "Request and
response payloads").

- The event: ``version`` "2.0", ``routeKey`` "$default", ``rawPath``, ``rawQueryString``,
  ``cookies``, ``headers`` (lower-case names, repeated ones joined by commas),
  ``queryStringParameters``, ``requestContext`` (``http`` with method, path, protocol,
  source IP and user agent; ``domainName`` ``<url-id>.lambda-url.<region>.on.aws``,
  ``requestId``, ``time``, ``timeEpoch``), ``body`` and ``isBase64Encoded`` (a body that is
  not text is base64).
- The answer: an object with ``statusCode`` is read as the response (``headers``,
  ``cookies``, ``body``, ``isBase64Encoded``); anything else is the body of a 200 answer
  with ``Content-Type: application/json``, as Lambda infers it. A function error is a 502
  ``Internal Server Error``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl

REGION = "us-east-1"
# Content types whose body the event carries as text; any other is base64
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "+json", "+xml")


@dataclass
class HttpRequest:
    method: str
    path: str                                   # the path after the URL's host, "/..."
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def send(handler: BaseHTTPRequestHandler, answer: HttpResponse) -> None:
    """Write ``answer`` on the connection ``handler`` serves, its length counted."""
    handler.send_response(answer.status)
    for name, value in answer.headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(answer.body)))
    handler.end_headers()
    handler.wfile.write(answer.body)


def url_id(function_name: str) -> str:
    """The first label of a function's URL host, for the event's ``domainName``."""
    return uuid.uuid5(uuid.NAMESPACE_URL, function_name).hex


def event(request: HttpRequest, function_name: str) -> dict:
    """The payload format 2.0 event of an HTTP request to the function's URL."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        name = name.lower()
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    content_type = headers.get("content-type", "")
    textual = not request.body or any(kind in content_type for kind in _TEXT_TYPES)
    prefix = url_id(function_name)
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path or "/",
        "rawQueryString": request.query,
        **({"cookies": cookies} if cookies else {}),
        "headers": headers,
        **({"queryStringParameters": query} if query else {}),
        "requestContext": {
            "accountId": "anonymous",
            "apiId": prefix,
            "domainName": f"{prefix}.lambda-url.{REGION}.on.aws",
            "domainPrefix": prefix,
            "http": {"method": request.method, "path": request.path or "/",
                     "protocol": "HTTP/1.1", "sourceIp": request.source_ip,
                     "userAgent": headers.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        **({"body": request.body.decode("utf-8", "replace") if textual
            else base64.b64encode(request.body).decode()} if request.body else {}),
        "isBase64Encoded": not textual,
    }


def response(answer: object, failed: bool) -> HttpResponse:
    """The HTTP response of a function's answer (its decoded JSON); ``failed``: the
    function raised, timed out or crashed."""
    if failed:
        return HttpResponse(502, [("Content-Type", "application/json")],
                            b'{"Message":"Internal Server Error"}')
    if isinstance(answer, dict) and "statusCode" in answer:
        headers = [(str(k), str(v)) for k, v in (answer.get("headers") or {}).items()]
        headers += [("Set-Cookie", str(c)) for c in answer.get("cookies") or []]
        body = answer.get("body")
        if body is None:
            data = b""
        elif answer.get("isBase64Encoded"):
            data = base64.b64decode(body)
        else:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        try:
            status = int(answer["statusCode"])
        except (TypeError, ValueError):
            return response(None, failed=True)
        return HttpResponse(status, headers, data)
    return HttpResponse(200, [("Content-Type", "application/json")],
                        json.dumps(answer).encode())
