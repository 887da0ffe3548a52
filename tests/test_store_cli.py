"""`dtl store ls|gc|verify` on a small hand-made store."""

import json
import os
import subprocess
import sys
import time

import pytest

from dtl_cli.stages.entries import VERSIONS
from dtl_cli.store import Store
from dtl_cli.store_cli import main, parse_age


def _entry(store, kind, key, size=100, version=None):
    def build(folder):
        (folder / "data.bin").write_bytes(b"x" * size)

    version = VERSIONS.get(kind) if version is None else version
    path, _ = store.get_or_build(kind, key, build, meta={"version": version})
    return path


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "store")
    _entry(store, "corpus", "aaa", 2000)
    _entry(store, "corpus", "bbb")
    _entry(store, "map", "ccc")
    _entry(store, "map", "ddd", version=0)  # an older format
    return store


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_ls_counts_kinds_sizes_and_older_formats(store, capsys):
    code, out = _run(capsys, "--store", str(store.root), "ls")
    assert code == 0
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    assert rows["corpus"].split("│")[2].strip() == "2"
    on_disk = sum(f.stat().st_size for f in (store.root / "corpus").rglob("*") if f.is_file())
    assert 2100 < on_disk < 4000  # the data files and each entry.json
    assert f"{on_disk / 1024:.1f} KB" in rows["corpus"]
    assert rows["map"].split("│")[5].strip() == "1"
    assert "4 entries" in out


def test_gc_unreferenced_keeps_what_run_folders_name(store, tmp_path, capsys):
    run = tmp_path / "outputs" / "run" / "x"
    run.mkdir(parents=True)
    used = {"corpus[source]": {"kind": "corpus", "key": "aaa", "cached": False}}
    (run / "run.json").write_text(json.dumps({"stages": {"pretrain": {"entries": used}}}))
    code, out = _run(
        capsys,
        "--store",
        str(store.root),
        "gc",
        "--unreferenced",
        str(tmp_path / "outputs"),
        "--dry-run",
    )
    assert code == 0 and "would remove 3 entries" in out
    assert store.has("corpus", "bbb")
    code, out = _run(
        capsys, "--store", str(store.root), "gc", "--unreferenced", str(tmp_path / "outputs")
    )
    assert code == 0 and "removed 3 entries" in out
    assert store.has("corpus", "aaa")
    assert not any(
        store.has(k, key) for k, key in [("corpus", "bbb"), ("map", "ccc"), ("map", "ddd")]
    )
    assert not list(store.root.glob("*/.tmp-*"))


def test_gc_by_age_uses_the_last_use(store, capsys):
    old = time.time() - 40 * 86400
    os.utime(store.path("corpus", "aaa") / "entry.json", (old, old))
    code, out = _run(capsys, "--store", str(store.root), "gc", "--older-than", "30d")
    assert code == 0 and "removed 1 entries" in out and "corpus/aaa" in out
    assert not store.has("corpus", "aaa") and store.has("corpus", "bbb")
    # reusing an entry counts as a use
    os.utime(store.path("corpus", "bbb") / "entry.json", (old, old))
    store.get_or_build("corpus", "bbb", lambda folder: None)
    _run(capsys, "--store", str(store.root), "gc", "--older-than", "30d")
    assert store.has("corpus", "bbb")


def test_folders_of_an_older_layout_are_named_and_gc_outdated_removes_them(store, capsys):
    from dtl_cli.stages.entries import old_kinds

    _entry(store, "pretrain", "eee", version=0)  # dtl before the entries by what they read
    assert old_kinds(store) == ["pretrain"]
    code, out = _run(capsys, "--store", str(store.root), "gc", "--outdated")
    assert code == 0 and "pretrain/eee" in out and not store.has("pretrain", "eee")


def test_gc_outdated_removes_older_formats_only(store, capsys):
    code, out = _run(capsys, "--store", str(store.root), "gc", "--outdated")
    assert code == 0 and "removed 1 entries" in out and "map/ddd" in out
    assert not store.has("map", "ddd") and store.has("map", "ccc") and store.has("corpus", "aaa")


def test_verify_finds_changed_bytes_and_can_remove(store, capsys):
    path = store.path("map", "ccc") / "data.bin"
    with open(path, "r+b") as handle:
        handle.write(b"y")
    code, out = _run(capsys, "--store", str(store.root), "verify")
    assert code == 1 and "damaged: map/ccc (data.bin)" in out and "4 entries: 1 damaged" in out
    code, out = _run(capsys, "--store", str(store.root), "verify", "--remove")
    assert code == 0 and "removed" in out and not store.has("map", "ccc")


def test_bad_arguments_are_one_line(store, capsys):
    code, out = _run(capsys, "--store", str(store.root), "gc")
    assert code == 2 and "needs --older-than AGE, --unreferenced PATH or --outdated" in out
    code, out = _run(capsys, "--store", str(store.root), "gc", "--older-than", "soon")
    assert code == 2 and "'soon'" in out
    assert parse_age("12h") == 43200 and parse_age("1.5d") == 1.5 * 86400


def test_store_verbs_import_no_tensorflow_or_hydra(store):
    code = (
        "import sys; from dtl_cli.cli import main; "
        f"assert main(['store', '--store', {str(store.root)!r}, 'ls']) == 0; "
        "bad = [m for m in ('tensorflow', 'keras', 'hydra') if m in sys.modules]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
