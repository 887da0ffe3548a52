"""Content-addressed stage outputs: `<root>/<stage>/<key>/`, written atomically under a lock.

An entry is built in a hidden temporary folder beside its final place and renamed into place
only when complete, so a killed run leaves nothing that a later run trusts. A lock file per
entry makes concurrent jobs that need the same entry compute it once: the others wait, then
reuse it. `entry.json` lists every file with its size and sha256 at build time: a reused entry
whose sizes no longer match (a truncated or deleted file) is rebuilt, and says so.

What each kind of entry holds and how it is keyed is `dtl_cli/stages/entries.py`'s business;
this module knows folders, files and locks only (and imports nothing heavy, for `dtl store`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import resource
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dtl_cli.errors import DtlError

# Bump when the store's own layout changes (3: entry.json lists files; entries by what they
# read). Each kind of entry has its own version too, in stages/entries.py.
STORE_VERSION = 3
_TMP_PREFIX = ".tmp-"
_DONE_FILE = "entry.json"
_CHUNK = 1 << 20


def config_key(stage: str, payload: Any, version: int = 0) -> str:
    """A 16-hex-digit key for a stage from a JSON-able payload (config subtree + upstream keys)
    and the kind's format `version`."""
    text = json.dumps(
        {"stage": stage, "store_version": STORE_VERSION, "version": version, "payload": payload},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class DamagedEntry(DtlError):
    """A complete entry whose files differ from the checksums recorded when it was built.

    The pipeline removes and rebuilds it; elsewhere (e.g. `dtl predict`) it is one line."""

    def __init__(self, stage: str, key: str, files: list[str]):
        self.stage, self.key, self.files = stage, key, files
        self.what = (
            f"store entry {stage}/{key} is damaged: {', '.join(files)} "
            f"{'differs' if len(files) == 1 else 'differ'} from the checksum recorded when it "
            "was built"
        )
        super().__init__(
            f"{self.what}; `dtl store verify --remove` removes it, the next run rebuilds it"
        )


class Store:
    """A folder of stage entries. Stages meet here: one writes an entry, the next reads it."""

    def __init__(
        self, root: str | os.PathLike[str], say: Callable[[str], None] | None = None
    ) -> None:
        self.root = Path(root)
        self.say = say or (lambda message: None)

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def has(self, stage: str, key: str) -> bool:
        """True if a complete, undamaged entry exists (a half-written one never has the final
        name; a damaged one has a file whose size differs from its build-time record)."""
        return self.damage(stage, key) is None

    def damage(self, stage: str, key: str) -> str | None:
        """None for a sound entry, else what is wrong with it ("missing" if there is none)."""
        try:
            info = self.entry_info(stage, key)
        except FileNotFoundError:
            return "missing"
        except (OSError, ValueError):
            return f"{_DONE_FILE} does not parse"
        folder = self.path(stage, key)
        for name, expected in (info.get("files") or {}).items():
            try:
                size = (folder / name).stat().st_size
            except OSError:
                return f"{name} is gone"
            if size != expected["size"]:
                return f"{name} has {size} bytes, {expected['size']} when built"
        return None

    def verify(self, stage: str, key: str) -> list[str]:
        """Files of an entry whose size or sha256 differs from the build-time record, then
        those that match it but do not load as their format (`.json`, `.npz`, `.npy`)."""
        changed, files = self._changed(stage, key)
        folder = self.path(stage, key)
        return changed + [n for n in files if n not in changed and not loads(folder / n)]

    def _changed(self, stage: str, key: str) -> tuple[list[str], list[str]]:
        """(files whose size or sha256 differ from the record, all recorded files)."""
        folder = self.path(stage, key)
        try:
            files = self.entry_info(stage, key).get("files") or {}
        except (OSError, ValueError):
            return [_DONE_FILE], []
        changed = [
            name
            for name, expected in files.items()
            if not (folder / name).is_file() or file_record(folder / name) != expected
        ]
        return changed, list(files)

    def unreadable(self, stage: str, key: str, name: str, err: BaseException) -> DtlError:
        """The error for file `name` of a complete entry that failed to load with `err`:
        DamagedEntry when files differ from their checksums (the pipeline then rebuilds the
        entry), else a DtlError naming the entry, the file and `dtl store verify --remove`."""
        changed, _ = self._changed(stage, key)
        if changed:
            return DamagedEntry(stage, key, changed)
        first = " ".join(str(err).split()).split(". ")[0][:120]  # a library's first sentence
        reason = f"{type(err).__name__}: {first}" if first else type(err).__name__
        return DtlError(
            f"store entry {stage}/{key}: {name} does not load ({reason}) although it matches "
            "the checksum recorded when it was built; `dtl store verify --remove` removes "
            "the entry, the next run rebuilds it"
        )

    def entry_info(self, stage: str, key: str) -> dict[str, Any]:
        return json.loads((self.path(stage, key) / _DONE_FILE).read_text())

    def touch(self, stage: str, key: str) -> None:
        """Record a use of an entry (its entry.json's modification time), for `dtl store gc`."""
        with contextlib.suppress(OSError):  # a read-only store is still readable
            os.utime(self.path(stage, key) / _DONE_FILE)

    def remove(self, stage: str, key: str) -> bool:
        """Delete an entry unless a job holds its lock (building or about to read it);
        True if it is gone. It vanishes at once (renamed), then its files are deleted."""
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{stage}-{key}.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                doomed = self.root / stage / f"{_TMP_PREFIX}gc-{key}-{os.getpid()}"
                os.rename(self.path(stage, key), doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            except FileNotFoundError:
                pass
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return True

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
        meta: dict[str, Any] | None = None,
    ) -> tuple[Path, bool]:
        """Return (entry path, was_cached); call `build(tmp_dir)` to fill it when missing.

        `build` writes its files into `tmp_dir` and may return a JSON-able summary that is kept
        in the entry's `entry.json` (with `meta`, e.g. the kind's version). If `build` raises,
        nothing is left behind.
        """
        final = self.path(stage, key)
        if self.has(stage, key):
            self.touch(stage, key)
            return final, True
        with self._lock(stage, key):
            problem = self.damage(stage, key)
            if problem is None:  # another job finished it while we waited
                return final, True
            if problem != "missing":
                self.say(f"store entry {stage}/{key} is damaged ({problem}): rebuilding it")
            self._remove_stale(stage)
            tmp = final.parent / f"{_TMP_PREFIX}{key}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                started, cpu = time.time(), _cpu_seconds()
                summary = build(tmp) or {}
                record = {
                    **(meta or {}),
                    "stage": stage,
                    "key": key,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "seconds": round(time.time() - started, 3),
                    # this process's threads and its finished child processes (e.g. a pool)
                    "cpu_seconds": round(_cpu_seconds() - cpu, 3),
                    "summary": summary,
                    "files": {
                        str(p.relative_to(tmp)): file_record(p)
                        for p in sorted(tmp.rglob("*"))
                        if p.is_file()
                    },
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


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def file_record(path: Path) -> dict[str, Any]:
    """{"size": bytes, "sha256": hex digest} of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def loads(path: Path) -> bool:
    """Whether a file loads as its suffix says (`.json`, `.npz`: every member, `.npy`: its
    header); other files count as loading. Reads no more than the file."""
    try:
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in (".npz", ".npy"):
            import numpy as np

            if path.suffix == ".npy":
                np.load(path, mmap_mode="r", allow_pickle=False)
            else:
                with np.load(path, allow_pickle=False) as saved:
                    for name in saved.files:
                        saved[name]
    except Exception:  # whatever the library raises for a broken file
        return False
    return True


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
