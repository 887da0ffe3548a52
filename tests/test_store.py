import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dtl_cli.errors import DtlError
from dtl_cli.store import DamagedEntry, Store, config_key, file_record, loads


def test_key_is_stable_and_sensitive_to_every_part():
    base = config_key("map", {"a": 1, "b": [1, 2]})
    assert base == config_key("map", {"b": [1, 2], "a": 1})  # key order does not matter
    assert len(base) == 16
    assert base != config_key("map", {"a": 2, "b": [1, 2]})
    assert base != config_key("map", {"a": 1, "b": [2, 1]})
    assert base != config_key("pretrain", {"a": 1, "b": [1, 2]})


def test_builds_once_then_reuses(tmp_path):
    store = Store(tmp_path)
    calls = []

    def build(folder: Path):
        calls.append(folder)
        (folder / "out.txt").write_text("x")
        return {"rows": 3}

    path, cached = store.get_or_build("pretrain", "abc", build)
    assert not cached and (path / "out.txt").read_text() == "x"
    path2, cached2 = store.get_or_build("pretrain", "abc", build)
    assert cached2 and path2 == path and len(calls) == 1
    assert store.entry_info("pretrain", "abc")["summary"] == {"rows": 3}


def test_failed_build_leaves_nothing(tmp_path):
    store = Store(tmp_path)

    def build(folder: Path):
        (folder / "half.txt").write_text("partial")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.get_or_build("map", "k1", build)
    assert not store.has("map", "k1")
    assert list((tmp_path / "map").iterdir()) == []


def test_leftover_of_a_killed_writer_is_not_trusted_and_is_cleaned(tmp_path):
    store = Store(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = tmp_path / "map" / f".tmp-k1-{dead.pid}"
    leftover.mkdir(parents=True)
    (leftover / "entry.json").write_text("{}")  # even a complete-looking one
    assert not store.has("map", "k1")
    store.get_or_build("map", "k1", lambda folder: None)
    assert store.has("map", "k1") and not leftover.exists()


_WRITER = """
import sys, time
from dtl_cli.store import Store
def build(folder):
    (folder / "started").write_text("1")
    time.sleep(60)
Store(sys.argv[1]).get_or_build("pretrain", "slow", build)
"""


def test_sigkill_midway_then_next_run_builds_cleanly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)])
    deadline = time.time() + 30
    while not list((tmp_path / "pretrain").glob(".tmp-slow-*/started")):
        assert time.time() < deadline, "writer never started"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(tmp_path)
    assert not store.has("pretrain", "slow")
    path, cached = store.get_or_build("pretrain", "slow", lambda f: {"ok": True})
    assert not cached and store.entry_info("pretrain", "slow")["summary"] == {"ok": True}
    assert not list((tmp_path / "pretrain").glob(".tmp-*"))


def _concurrent_build(root: str, counter: str) -> bool:
    def build(folder):
        with open(counter, "a") as handle:
            handle.write("built\n")
        time.sleep(0.5)
        (folder / "value.json").write_text(json.dumps(42))

    _, cached = Store(root).get_or_build("pretrain", "shared", build)
    return cached


def test_two_processes_needing_the_same_entry_compute_it_once(tmp_path):
    counter = tmp_path / "count.txt"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        cached = pool.starmap(_concurrent_build, [(str(tmp_path), str(counter))] * 2)
    assert counter.read_text().count("built") == 1
    assert sorted(cached) == [False, True]


def test_entry_lists_sizes_and_checksums_and_a_damaged_one_is_rebuilt(tmp_path):
    said = []
    store = Store(tmp_path, say=said.append)
    builds = []

    def build(folder: Path):
        builds.append(folder)
        (folder / "big.bin").write_bytes(b"x" * 1000)
        (folder / "sub").mkdir()
        (folder / "sub" / "small.txt").write_text("y")

    path, _ = store.get_or_build("corpus", "k1", build)
    files = store.entry_info("corpus", "k1")["files"]
    assert files["big.bin"]["size"] == 1000 and files["sub/small.txt"]["size"] == 1
    assert len(files["big.bin"]["sha256"]) == 64
    assert store.verify("corpus", "k1") == []

    with open(path / "big.bin", "r+b") as handle:  # same size, other bytes: only verify sees it
        handle.write(b"z")
    assert store.has("corpus", "k1") and store.verify("corpus", "k1") == ["big.bin"]

    os.truncate(path / "big.bin", 10)
    assert not store.has("corpus", "k1")
    assert store.damage("corpus", "k1") == "big.bin has 10 bytes, 1000 when built"
    _, cached = store.get_or_build("corpus", "k1", build)
    assert not cached and len(builds) == 2
    assert said == [
        "store entry corpus/k1 is damaged (big.bin has 10 bytes, 1000 when built): rebuilding it"
    ]
    assert (path / "big.bin").stat().st_size == 1000 and store.verify("corpus", "k1") == []

    (path / "sub" / "small.txt").unlink()
    assert store.damage("corpus", "k1") == "sub/small.txt is gone"
    store.get_or_build("corpus", "k1", build)
    assert len(builds) == 3 and store.has("corpus", "k1")


def _same_size_garbage(path: Path) -> None:
    path.write_bytes(b"\x00" * path.stat().st_size)


def _arrays_entry(store: Store) -> Path:
    def build(folder: Path):
        np.savez(folder / "map.npz", W=np.eye(3, dtype=np.float32))
        (folder / "map.json").write_text(json.dumps({"pairs": 3}))

    path, _ = store.get_or_build("map", "m1", build)
    return path


def test_a_read_failure_tells_a_damaged_entry_from_one_that_never_loaded(tmp_path):
    store = Store(tmp_path)
    path = _arrays_entry(store)
    _same_size_garbage(path / "map.npz")  # sizes agree: only the checksum tells
    assert store.has("map", "m1")
    error = store.unreadable("map", "m1", "map.npz", ValueError("bad zip"))
    assert isinstance(error, DamagedEntry) and error.files == ["map.npz"]
    assert "store entry map/m1 is damaged: map.npz differs from the checksum" in str(error)
    assert "dtl store verify --remove" in str(error)

    # the record itself rewritten to the garbage: intact by checksum, yet it does not load
    info = store.entry_info("map", "m1")
    info["files"]["map.npz"] = file_record(path / "map.npz")
    (path / "entry.json").write_text(json.dumps(info))
    error = store.unreadable("map", "m1", "map.npz", ValueError("Bad file. More text"))
    assert not isinstance(error, DamagedEntry) and isinstance(error, DtlError)
    assert str(error).startswith("store entry map/m1: map.npz does not load (ValueError: Bad file)")
    assert store.verify("map", "m1") == ["map.npz"]  # so `verify --remove` removes it


def test_verify_loads_json_and_npz_and_an_unparsable_record_is_damage(tmp_path):
    said = []
    store = Store(tmp_path, say=said.append)
    path = _arrays_entry(store)
    assert store.verify("map", "m1") == []
    _same_size_garbage(path / "entry.json")
    assert store.verify("map", "m1") == ["entry.json"]
    assert store.damage("map", "m1") == "entry.json does not parse"
    assert not store.has("map", "m1")
    _arrays_entry(store)
    assert said == ["store entry map/m1 is damaged (entry.json does not parse): rebuilding it"]
    assert store.verify("map", "m1") == []
    assert loads(path / "map.npz") and loads(path / "map.json")
    (tmp_path / "x.json").write_text("{")
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY garbage")
    assert not loads(tmp_path / "x.json") and not loads(tmp_path / "x.npy")
