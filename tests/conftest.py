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


def run_dtl(args: list[str], workdir: Path, store: Path, timeout: int = 600, **env_extra):
    """Run `dtl ARGS` in a subprocess from `workdir`; returns the CompletedProcess."""
    env = {**os.environ, "DTL_STORE": str(store), "DTL_OUTPUT": str(workdir / "outputs")}
    env.update({k: str(v) for k, v in env_extra.items()})
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        dtl_executable() + args,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder
