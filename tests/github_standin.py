"""A stand-in for GitHub's REST API, as far as the pull-request check uses it: the issue
comments of a repository ("Issue comments": list with pagination and its Link header,
create, update), on 127.0.0.1, in a thread of the test process.

It answers as GitHub does: a token in the Authorization header ("Bearer T" or "token T")
or 401 "Bad credentials"; 404 "Not Found" for another repository or an unknown comment;
422 for a body that is not {"body": string}; comments with id, node_id, html_url, body,
user, created_at and updated_at.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LIST = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$")
ONE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$")


class GitHub:
    """The state: comments by id, each on (repository, issue number)."""

    def __init__(self, repository: str, token: str):
        self.repository = repository
        self.token = token
        self.comments: dict[int, dict] = {}
        self.calls: list[tuple[str, str]] = []       # (method, path) as received
        self.next_id = 1000
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "GitHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def add(self, number: int, body: str, login: str = "someone") -> dict:
        """A comment written by someone else (as if through the web page)."""
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.next_id += 1
        comment = {"id": self.next_id, "node_id": f"IC_{self.next_id}",
                   "url": f"{self.url}/repos/{self.repository}/issues/comments/{self.next_id}",
                   "html_url": f"https://github.invalid/{self.repository}/pull/{number}"
                               f"#issuecomment-{self.next_id}",
                   "issue_url": f"{self.url}/repos/{self.repository}/issues/{number}",
                   "body": body, "user": {"login": login, "type": "User"},
                   "created_at": now, "updated_at": now, "number": number}
        self.comments[self.next_id] = comment
        return comment

    def on(self, number: int) -> list[dict]:
        return [c for c in self.comments.values() if c["number"] == number]

    def _handler(self):
        github = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, document, headers: dict | None = None) -> None:
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _public(self, comment: dict) -> dict:
                return {k: v for k, v in comment.items() if k != "number"}

            def _authorised(self) -> bool:
                given = self.headers.get("Authorization", "")
                if given in (f"Bearer {github.token}", f"token {github.token}"):
                    return True
                self._send(401, {"message": "Bad credentials",
                                 "documentation_url": "https://docs.github.com/rest"})
                return False

            def _body(self) -> str | None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    document = json.loads(self.rfile.read(length) or b"null")
                except ValueError:
                    document = None
                if not isinstance(document, dict) or not isinstance(document.get("body"), str):
                    self._send(422, {"message": "Invalid request.\n\n\"body\" wasn't supplied.",
                                     "documentation_url": "https://docs.github.com/rest"})
                    return None
                return document["body"]

            def _route(self, method: str):
                parts = urlsplit(self.path)
                github.calls.append((method, parts.path))
                if not self._authorised():
                    return None
                for pattern in (LIST, ONE):
                    match = pattern.match(parts.path)
                    if match and match["repo"] == github.repository:
                        return match, parse_qs(parts.query)
                self._send(404, {"message": "Not Found",
                                 "documentation_url": "https://docs.github.com/rest"})
                return None

            def do_GET(self):
                routed = self._route("GET")
                if routed is None:
                    return
                match, query = routed
                if "number" not in match.groupdict():
                    return self._send(405, {"message": "Method not allowed"})
                number = int(match["number"])
                per_page = min(int(query.get("per_page", ["30"])[0]), 100)
                page = int(query.get("page", ["1"])[0])
                found = sorted(github.on(number), key=lambda c: c["id"])
                chunk = found[(page - 1) * per_page:page * per_page]
                headers = {}
                if page * per_page < len(found):
                    path = f"/repos/{github.repository}/issues/{number}/comments"
                    headers["Link"] = (f'<{github.url}{path}?per_page={per_page}&page={page + 1}>'
                                       f'; rel="next"')
                self._send(200, [self._public(c) for c in chunk], headers)

            def do_POST(self):
                routed = self._route("POST")
                if routed is None:
                    return
                match, _ = routed
                if "number" not in match.groupdict():
                    return self._send(404, {"message": "Not Found"})
                body = self._body()
                if body is not None:
                    comment = github.add(int(match["number"]), body, login="github-actions[bot]")
                    self._send(201, self._public(comment),
                               {"Location": comment["url"]})

            def do_PATCH(self):
                routed = self._route("PATCH")
                if routed is None:
                    return
                match, _ = routed
                comment = github.comments.get(int(match.groupdict().get("id") or 0))
                if comment is None:
                    return self._send(404, {"message": "Not Found"})
                body = self._body()
                if body is not None:
                    comment["body"] = body
                    comment["updated_at"] = datetime.now(timezone.utc).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")
                    self._send(200, self._public(comment))

        return Handler
