"""run.json's context fields: host, the project's git commit (never failing), overrides."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dtl_cli import pipeline


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_git_commit_of_a_checkout_and_its_dirty_flag(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "first")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert pipeline.git_commit(tmp_path) == (head, False)
    (tmp_path / "a.txt").write_text("two\n")
    assert pipeline.git_commit(tmp_path) == (head, True)


def test_no_checkout_no_git_or_no_commit_gives_none(tmp_path, monkeypatch):
    assert pipeline.git_commit(tmp_path) == (None, None)  # not a repository
    inner = tmp_path / "site-packages"
    inner.mkdir()
    _git(tmp_path, "init", "-q")
    assert pipeline.git_commit(inner) == (None, None)  # inside someone else's repository
    assert pipeline.git_commit(tmp_path) == (None, None)  # a repository without a commit
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert pipeline.git_commit(tmp_path) == (None, None)  # no git at all


def test_run_context_outside_hydra():
    context = pipeline.run_context()
    assert context["host"] and context["overrides"] == []
    assert set(context) == {"host", "git_commit", "git_dirty", "overrides"}
