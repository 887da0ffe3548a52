"""Runs the stages a verb needs, in order: upstream stages whose entries are missing run
first (and say so); those already in the store are reused."""

from __future__ import annotations

import importlib
import json
import platform
import re
import resource
import subprocess
import time
from importlib import metadata
from pathlib import Path

from omegaconf import DictConfig

from dtl_cli import __version__, ui
from dtl_cli.device import device_scope
from dtl_cli.stages.entries import old_kinds
from dtl_cli.store import DamagedEntry, Store
from dtl_cli.verbs import STAGES, VERBS


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pipeline(verb: str, cfg: DictConfig, run_dir: Path, devices: list[str]) -> dict:
    """Run `verb`'s stages (and any missing upstream ones); write `run.json` in `run_dir`."""
    _, wanted = VERBS[verb]
    last = STAGES.index(wanted[-1])
    store = Store(cfg.paths.store, say=ui.info)
    old = old_kinds(store)
    if old:
        ui.info(
            f"the store {store.root} holds entries of an older dtl "
            f"({', '.join(kind + '/' for kind in old)}): they are "
            "not read, their work is redone; `dtl store gc --outdated` removes them"
        )
    record: dict = {
        "verb": verb,
        "store": str(Path(cfg.paths.store).resolve()),
        "devices": devices,
        "versions": _versions(),
        **run_context(),
        "stages": {},
    }
    rebuilt: set[tuple[str, str]] = set()
    while True:
        try:
            _run_stages(cfg, store, run_dir, wanted, STAGES[: last + 1], record)
            break
        except DamagedEntry as damage:
            # Found when a stage read the entry: remove it, and run the stages again (each
            # reuses what is sound), so the stage that builds it builds it anew. Once only.
            entry = (damage.stage, damage.key)
            if entry in rebuilt:
                raise
            rebuilt.add(entry)
            store.remove(*entry)  # False: another job holds it (removing or rebuilding it)
            ui.info(f"{damage.what}; rebuilding it")
    (run_dir / "run.json").write_text(json.dumps(record, indent=2, default=str))
    return record


def _run_stages(
    cfg: DictConfig,
    store: Store,
    run_dir: Path,
    wanted: tuple[str, ...],
    stages: tuple[str, ...],
    record: dict,
) -> None:
    """Run `stages` in order (reusing their sound entries), each result into `record`."""
    for name in stages:
        stage = importlib.import_module(f"dtl_cli.stages.{name}")
        cached = stage.is_cached(cfg, store)
        if name in wanted:
            status = "cached" if cached else "running"
        elif cached:
            status = "cached"
        else:
            status = f"not in the store yet, running it first (needed by {wanted[0]})"
        ui.stage(name, status)
        started = time.perf_counter()
        with device_scope():
            result = stage.run(cfg, store, run_dir)
        result["seconds"] = round(time.perf_counter() - started, 3)
        result["peak_memory_mb"] = round(peak_memory_mb(), 1)
        record["stages"][name] = result
        if not cached:
            _say_entries(result.get("entries", {}))
            ui.info(f"{name} took {result['seconds']:.1f} s")


def _say_entries(entries: dict[str, dict]) -> None:
    """Which of a stage's store entries were reused, when some were (the rest were built)."""
    reused = [name for name, entry in entries.items() if entry["cached"]]
    if reused:
        ui.info("reused from the store: " + ", ".join(reused))


def _versions() -> dict[str, str]:
    versions = {"dtl": __version__, "python": platform.python_version()}
    for package in ("tensorflow", "keras", "gensim", "hydra-core", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # e.g. tensorflow-cpu instead of tensorflow
            versions[package] = "not installed"
    return versions


def run_context() -> dict:
    """Where and from what this run came: host, the project's git commit (None outside a
    checkout, `git_dirty` when it has uncommitted changes) and the command-line overrides."""
    commit, dirty = git_commit()
    return {
        "host": platform.node(),
        "git_commit": commit,
        "git_dirty": dirty,
        "overrides": _overrides(),
    }


def git_commit(folder: Path | None = None) -> tuple[str | None, bool | None]:
    """(HEAD, has uncommitted changes) of the checkout dtl runs from, or (None, None).

    Only the repository whose top folder holds the dtl_cli package counts (an editable install),
    not one that merely contains an installed copy. Never raises: a missing `git`, a timeout or
    any git error gives (None, None).
    """
    repo = folder or Path(__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        return None, None
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        commit = head.stdout.strip()
        if head.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}", commit):
            return None, None
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None, None
    return commit, dirty


def _overrides() -> list[str]:
    """The run's command-line overrides (this job's values in a sweep); [] outside Hydra."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    except Exception:  # a record field must never fail the run
        return []
