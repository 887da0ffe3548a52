"""Shared fixtures. Tests never touch the network or the user's store/output folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "data" / "tiny"


def dtl_executable() -> list[str]:
    """The installed `dtl` console script of the interpreter running the tests."""
    script = Path(sys.executable).with_name("dtl")
    found = str(script) if script.exists() else shutil.which("dtl")
    assert found, "the dtl command is not installed (pip install -e .)"
    return [found]


def dtl_env(store: Path, output: Path, **extra) -> dict[str, str]:
    """This process's environment for a `dtl` subprocess: the store and output folders
    given, `extra` added, and Hydra's full tracebacks off."""
    env = {**os.environ, "DTL_STORE": str(store), "DTL_OUTPUT": str(output)}
    env.update({k: str(v) for k, v in extra.items()})
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def run_dtl(args: list[str], workdir: Path, store: Path, timeout: int = 600, **env_extra):
    """Run `dtl ARGS` in a subprocess from `workdir`; returns the CompletedProcess."""
    return subprocess.run(
        dtl_executable() + args,
        cwd=workdir,
        env=dtl_env(store, workdir / "outputs", **env_extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The one `dtl: error:` line of a run that exited 2 with no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dtl: error: ") and "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
def tiny_entries(tmp_path_factory) -> Path:
    """A store holding the tiny corpus's default entries up to the zero-shot transfer (corpus,
    embeddings, classifier, map, bli, the adapted classifier, finetune and baseline at k = 0),
    built once per session (per xdist worker) by `dtl transfer`. Read-only: tests add to
    copies of it."""
    root = tmp_path_factory.mktemp("tiny-entries")
    result = run_dtl(["transfer"], root, root / "store")
    assert result.returncode == 0, f"dtl transfer failed:\n{result.stdout}\n{result.stderr}"
    return root / "store"


def copy_store(entries: Path, store: Path) -> Path:
    """A copy of a store at `store` (for a test that needs upstream entries, not a fresh
    store: what it adds goes to its copy only)."""
    shutil.copytree(entries, store, symlinks=True)
    return store


@pytest.fixture
def seeded_store(tiny_entries, tmp_path) -> Path:
    """tmp_path/store: a copy of `tiny_entries` (pretrain and map already built)."""
    return copy_store(tiny_entries, tmp_path / "store")
