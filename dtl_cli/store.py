"""Content-addressed stage outputs: `<root>/<stage>/<key>/`, written atomically under a lock.

An entry is built in a hidden temporary folder beside its final place and renamed into place
only when complete, so a killed run leaves nothing that a later run trusts. A lock file per
entry makes concurrent jobs that need the same entry compute it once: the others wait, then
reuse it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Bump when the layout of any stage's entry changes, or when a code change alters the numbers
# an entry holds (2: training on full batches), so old entries are not misread or reused.
STORE_VERSION = 2
_TMP_PREFIX = ".tmp-"
_DONE_FILE = "entry.json"


def config_key(stage: str, payload: Any) -> str:
    """A 16-hex-digit key for a stage from a JSON-able payload (config subtree + upstream keys)."""
    text = json.dumps(
        {"stage": stage, "store_version": STORE_VERSION, "payload": payload},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Store:
    """A folder of stage entries. Stages meet here: one writes an entry, the next reads it."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def has(self, stage: str, key: str) -> bool:
        """True if a complete entry exists (a half-written one never has the final name)."""
        return (self.path(stage, key) / _DONE_FILE).is_file()

    def entry_info(self, stage: str, key: str) -> dict[str, Any]:
        return json.loads((self.path(stage, key) / _DONE_FILE).read_text())

    @contextmanager
    def _lock(self, stage: str, key: str) -> Iterator[None]:
        # Locks live apart from the entries, so a stage folder holds only entries.
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        (self.root / stage).mkdir(exist_ok=True)
        with open(locks / f"{stage}-{key}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def get_or_build(
        self,
        stage: str,
        key: str,
        build: Callable[[Path], dict[str, Any] | None],
    ) -> tuple[Path, bool]:
        """Return (entry path, was_cached); call `build(tmp_dir)` to fill it when missing.

        `build` writes its files into `tmp_dir` and may return a JSON-able summary that is kept
        in the entry's `entry.json`. If `build` raises, nothing is left behind.
        """
        final = self.path(stage, key)
        if self.has(stage, key):
            return final, True
        with self._lock(stage, key):
            if self.has(stage, key):  # another job finished it while we waited
                return final, True
            self._remove_stale(stage)
            tmp = final.parent / f"{_TMP_PREFIX}{key}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                started = time.time()
                summary = build(tmp) or {}
                record = {
                    "stage": stage,
                    "key": key,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "seconds": round(time.time() - started, 3),
                    "summary": summary,
                }
                (tmp / _DONE_FILE).write_text(json.dumps(record, indent=2, default=str))
                if final.exists():  # an incomplete leftover from an older layout: replace it
                    shutil.rmtree(final)
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return final, False

    def _remove_stale(self, stage: str) -> None:
        """Delete temporary folders whose writer process is gone (e.g. killed with SIGKILL)."""
        for tmp in (self.root / stage).glob(f"{_TMP_PREFIX}*"):
            pid_text = tmp.name.rsplit("-", 1)[-1]
            if pid_text.isdigit() and not _process_alive(int(pid_text)):
                shutil.rmtree(tmp, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
