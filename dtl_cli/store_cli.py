"""`dtl store ls|gc|verify`: what the store holds, removing what is old or unused, checksums.

Imports neither Hydra nor TensorFlow. The store is `--store PATH`, else `$DTL_STORE`, else
`.dtl/store` (the config's default).

    dtl store ls
    dtl store gc --older-than 30d --dry-run
    dtl store gc --unreferenced outputs      # keep only entries some run folder used
    dtl store gc --outdated                  # entries of an older format: never read again
    dtl store verify --remove                # sha256 of every file; drop damaged entries
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from dtl_cli import ui
from dtl_cli.errors import DtlError
from dtl_cli.store import Store

DEFAULT_STORE = ".dtl/store"
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class StoreCommandError(DtlError):
    """A bad `dtl store` argument."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage + error
        raise StoreCommandError(f"{message} (see `dtl store --help`)")


@dataclass
class Entry:
    kind: str
    key: str
    path: Path
    bytes: int
    last_use: float  # entry.json's modification time: set when built, touched on each reuse
    current: bool  # built by this version of its kind (False: an older format, never read)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dtl store", description="List, clean and check the stage store.")
    p.add_argument("--store", help=f"the store folder (default $DTL_STORE or {DEFAULT_STORE})")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    verbs.add_parser("ls", help="kinds of entries: count, size, last use")
    gc = verbs.add_parser("gc", help="remove entries by age or not used by any run folder")
    gc.add_argument("--older-than", metavar="AGE", help="last used more than AGE ago: 30d, 12h")
    gc.add_argument(
        "--unreferenced",
        metavar="PATH",
        action="append",
        help="remove every entry no run.json under PATH names (repeatable)",
    )
    gc.add_argument(
        "--outdated",
        action="store_true",
        help="remove every entry of an older format (or an old kind): never read again",
    )
    gc.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")
    verify = verbs.add_parser("verify", help="check every file's size and sha256")
    verify.add_argument("--remove", action="store_true", help="remove the damaged entries")
    return p


def iter_entries(store: Store) -> Iterator[Entry]:
    """Complete entries of every kind (temporary build folders and locks skipped)."""
    from dtl_cli.stages.entries import VERSIONS

    if not store.root.is_dir():
        return
    for kind_dir in sorted(p for p in store.root.iterdir() if p.is_dir()):
        if kind_dir.name.startswith("."):
            continue
        for path in sorted(kind_dir.iterdir()):
            info_file = path / "entry.json"
            if path.name.startswith(".") or not info_file.is_file():
                continue
            try:
                version = json.loads(info_file.read_text()).get("version")
            except ValueError:
                version = None
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            current = kind_dir.name in VERSIONS and version == VERSIONS[kind_dir.name]
            yield Entry(kind_dir.name, path.name, path, size, info_file.stat().st_mtime, current)


def parse_age(text: str) -> float:
    """'30d' -> seconds (units m, h, d, w)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw])", text.strip())
    if not match:
        raise StoreCommandError(f"--older-than {text!r}: use a number and a unit, e.g. 30d, 12h")
    return float(match.group(1)) * _UNITS[match.group(2)]


def referenced(paths: Sequence[str]) -> set[tuple[str, str]]:
    """(kind, key) of every entry a `run.json` under `paths` names."""
    found: set[tuple[str, str]] = set()
    for root in paths:
        if not Path(root).exists():
            raise StoreCommandError(f"--unreferenced {root}: no such folder")
        for run_json in Path(root).rglob("run.json"):
            try:
                stages = json.loads(run_json.read_text()).get("stages") or {}
            except (ValueError, OSError):
                continue
            for stage in stages.values():
                for used in (stage.get("entries") or {}).values():
                    if isinstance(used, dict) and "kind" in used and "key" in used:
                        found.add((used["kind"], used["key"]))
    return found


def _size(n: float) -> str:
    """Bytes for people: 512 B, 1.5 MB (powers of 1024)."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024 or unit == "GB":
            break
    return f"{n:.1f} {unit}"


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def ls(store: Store) -> int:
    table = Table(title=f"store {store.root}")
    for column in ("kind", "entries", "size", "last use", "older format"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    kinds: dict[str, list[Entry]] = {}
    for entry in iter_entries(store):
        kinds.setdefault(entry.kind, []).append(entry)
    for kind, found in kinds.items():
        old = sum(not e.current for e in found)
        table.add_row(
            kind,
            str(len(found)),
            _size(sum(e.bytes for e in found)),
            _when(max(e.last_use for e in found)),
            str(old) if old else "",
        )
    total = sum(e.bytes for found in kinds.values() for e in found)
    ui.console.print(table)
    ui.info(f"{sum(map(len, kinds.values()))} entries, {_size(total)}")
    return 0


def gc(store: Store, args: argparse.Namespace) -> int:
    if not (args.older_than or args.unreferenced or args.outdated):
        raise StoreCommandError("gc needs --older-than AGE, --unreferenced PATH or --outdated")
    cutoff = time.time() - parse_age(args.older_than) if args.older_than else None
    keep = referenced(args.unreferenced) if args.unreferenced else None
    doomed = [
        e
        for e in iter_entries(store)
        if (cutoff is None or e.last_use < cutoff)
        and (keep is None or (e.kind, e.key) not in keep)
        and (not args.outdated or not e.current)
    ]
    removed = 0
    for entry in doomed:
        if args.dry_run or store.remove(entry.kind, entry.key):
            removed += 1
            ui.info(
                f"{'would remove' if args.dry_run else 'removed'} {entry.kind}/{entry.key} "
                f"({_size(entry.bytes)}, last used {_when(entry.last_use)})"
            )
        else:
            ui.info(f"kept {entry.kind}/{entry.key}: a job is using it")
    freed = _size(sum(e.bytes for e in doomed))
    ui.info(f"{'would remove' if args.dry_run else 'removed'} {removed} entries ({freed})")
    return 0


def verify(store: Store, args: argparse.Namespace) -> int:
    damaged = 0
    checked = 0
    for entry in iter_entries(store):
        checked += 1
        bad = store.verify(entry.kind, entry.key)
        if bad:
            damaged += 1
            gone = args.remove and store.remove(entry.kind, entry.key)
            ui.info(
                f"damaged: {entry.kind}/{entry.key} ({', '.join(bad)})"
                + ("; removed" if gone else "")
            )
    ui.info(f"checked {checked} entries: {damaged} damaged")
    return 1 if damaged and not args.remove else 0


def main(argv: Sequence[str]) -> int:
    try:
        args = parser().parse_args(list(argv))
        store = Store(args.store or os.environ.get("DTL_STORE") or DEFAULT_STORE)
        if not store.root.is_dir():
            given = (
                "--store" if args.store else "DTL_STORE" if os.environ.get("DTL_STORE") else None
            )
            what = "is a file, not" if store.root.exists() else "is not"
            fix = f"check {given}" if given else "a run makes it; or give --store PATH"
            raise StoreCommandError(f"{store.root} {what} a store folder; {fix}")
        if args.verb == "ls":
            return ls(store)
        return gc(store, args) if args.verb == "gc" else verify(store, args)
    except DtlError as err:
        ui.error(str(err))
        return 2
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
