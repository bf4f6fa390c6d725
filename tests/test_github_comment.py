"""The pull-request comment of the CI check, over real HTTP (httpx) against a stand-in that
speaks GitHub's REST shape for issue comments (github_standin.py)."""

import json
import os
import subprocess
import sys

import pytest

from coldbench.cli.github import CommentError, upsert_comment
from coldbench.render.ab import MARKER, comment_payload

from github_standin import GitHub

REPO, TOKEN = "octo/app", "t0ken"


def test_the_comment_is_created_once_then_updated_in_place():
    with GitHub(REPO, TOKEN) as github:
        github.add(7, "LGTM")                                   # someone else's comment
        first = upsert_comment(github.url, TOKEN, REPO, 7, f"{MARKER}\nfirst")
        second = upsert_comment(github.url, TOKEN, REPO, 7, f"{MARKER}\nsecond")
        assert (first["action"], second["action"]) == ("created", "updated")
        assert first["id"] == second["id"]
        bodies = sorted(c["body"] for c in github.on(7))
        assert bodies == sorted(["LGTM", f"{MARKER}\nsecond"])
        assert [m for m, _ in github.calls] == ["GET", "POST", "GET", "PATCH"]
        assert github.calls[-1][1] == f"/repos/{REPO}/issues/comments/{first['id']}"


def test_the_marker_is_found_on_a_later_page():
    with GitHub(REPO, TOKEN) as github:
        for i in range(130):                  # more than one page of 100
            github.add(3, f"comment {i}")
        ours = github.add(3, f"{MARKER}\nold", login="github-actions[bot]")
        written = upsert_comment(github.url, TOKEN, REPO, 3, f"{MARKER}\nnew")
        assert written["action"] == "updated" and written["id"] == ours["id"]
        assert github.comments[ours["id"]]["body"] == f"{MARKER}\nnew"
        assert [m for m, _ in github.calls] == ["GET", "GET", "PATCH"]


def test_a_refused_token_is_an_error_that_says_what_to_do():
    with GitHub(REPO, TOKEN) as github:
        with pytest.raises(CommentError, match=r"401 Bad credentials.*pull-requests: write"):
            upsert_comment(github.url, "wrong", REPO, 1, f"{MARKER}\nx")
        with pytest.raises(CommentError, match="404 Not Found"):
            upsert_comment(github.url, TOKEN, "octo/other", 1, f"{MARKER}\nx")
        assert not github.comments


def test_a_body_without_the_marker_is_refused_before_any_call():
    with GitHub(REPO, TOKEN) as github:
        with pytest.raises(CommentError, match="no marker"):
            upsert_comment(github.url, TOKEN, REPO, 1, "no marker here")
        assert not github.calls


def test_the_command_posts_the_payload_ab_wrote(tmp_path):
    payload = tmp_path / "comment.json"
    payload.write_text(comment_payload(f"{MARKER}\n### coldbench A/B"))
    assert json.loads(payload.read_text()) == {"body": f"{MARKER}\n### coldbench A/B"}
    with GitHub(REPO, TOKEN) as github:
        command = [sys.executable, "-m", "coldbench.cli.github", "--pull-request", "5",
                   "--payload", str(payload)]
        env = os.environ | {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPO}
        done = subprocess.run(command, capture_output=True, text=True,
                              env=env | {"GITHUB_TOKEN": TOKEN}, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "comment created" in done.stderr
        refused = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                 env={k: v for k, v in env.items() if k != "GITHUB_TOKEN"})
        assert refused.returncode == 2
        assert refused.stderr.strip() == ("coldbench: error: GITHUB_TOKEN is not set: pass "
                                          "the workflow's token to the step")
        (comment,) = github.on(5)
        assert comment["body"].startswith(MARKER)
