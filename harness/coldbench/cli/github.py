"""The pull-request comment of the CI check (action.yml, scripts/ab-check): one comment per
pull request, found again by its hidden marker and updated in place on every push.

GitHub's REST API, "Issue comments" (a pull request is an issue to this API):
``GET /repos/{owner}/{repo}/issues/{number}/comments`` lists them (``per_page`` up to 100,
further pages named by the ``Link`` header), ``POST`` to the same path creates one and
``PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}`` updates one; each takes
``{"body": ...}`` and answers with the comment (``id``, ``body``, ``html_url``).

    python -m coldbench.cli.github --repository OWNER/NAME --pull-request N --payload FILE

reads the token from $GITHUB_TOKEN and the API's address from $GITHUB_API_URL (as GitHub
Actions sets it); exit 0 when the comment was written, 2 when it could not be.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import httpx

from coldbench.errors import EXIT_OK, EXIT_USAGE, ColdbenchError
from coldbench.render.ab import MARKER

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PAGE = 100


class CommentError(ColdbenchError):
    """GitHub refused a call: the message says which and why."""


def _client(api_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=api_url.rstrip("/"), timeout=30.0, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION, "User-Agent": "coldbench-ab-check"})


def _checked(response: httpx.Response, what: str) -> httpx.Response:
    if response.is_success:
        return response
    try:
        message = response.json().get("message", response.text)
    except ValueError:
        message = response.text
    hint = (" (the token needs the pull-requests: write or issues: write permission)"
            if response.status_code in (401, 403, 404) else "")
    raise CommentError(f"GitHub refused to {what}: {response.status_code} {message}{hint}")


def find_comment(client: httpx.Client, repository: str, number: int,
                 marker: str = MARKER) -> dict | None:
    """The first comment of the pull request whose body holds ``marker``, or None."""
    url: str | None = f"/repos/{repository}/issues/{number}/comments"
    params: dict | None = {"per_page": PAGE}
    while url:
        response = _checked(client.get(url, params=params), "list the pull request's comments")
        for comment in response.json():
            if marker in (comment.get("body") or ""):
                return comment
        url, params = response.links.get("next", {}).get("url"), None
    return None


def upsert_comment(api_url: str, token: str, repository: str, number: int, body: str,
                   marker: str = MARKER) -> dict:
    """Update the pull request's comment that holds ``marker`` to ``body``, or create it;
    returns the comment as GitHub answers it, with ``"action": "updated" / "created"``."""
    if marker not in body:
        raise CommentError("the comment has no marker: it could not be found again to update")
    with _client(api_url, token) as client:
        found = find_comment(client, repository, number, marker)
        if found is None:
            response = _checked(client.post(f"/repos/{repository}/issues/{number}/comments",
                                            json={"body": body}), "create the comment")
            return response.json() | {"action": "created"}
        response = _checked(client.patch(f"/repos/{repository}/issues/comments/{found['id']}",
                                         json={"body": body}), "update the comment")
        return response.json() | {"action": "updated"}


@click.command()
@click.option("--repository", required=True, envvar="GITHUB_REPOSITORY",
              help="owner/name of the repository.")
@click.option("--pull-request", "number", required=True, type=int,
              help="The pull request's number.")
@click.option("--payload", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The comment as coldbench ab --comment-payload wrote it.")
@click.option("--api-url", envvar="GITHUB_API_URL", default=API_URL, show_default=True)
def comment(repository, number, payload, api_url):
    """Write the check's comment on the pull request, or update it in place."""
    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        raise CommentError("GITHUB_TOKEN is not set: pass the workflow's token to the step")
    try:
        body = json.loads(payload.read_text())["body"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommentError(f"{payload}: not a comment payload ({exc})") from None
    try:
        written = upsert_comment(api_url, token, repository, number, body)
    except httpx.HTTPError as exc:
        raise CommentError(f"could not reach GitHub at {api_url}: {exc}") from None
    click.echo(f"comment {written['action']}: {written.get('html_url') or written.get('id')}",
               err=True)


def main() -> None:
    try:
        comment.main(standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"coldbench: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except ColdbenchError as exc:
        click.echo(f"coldbench: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
