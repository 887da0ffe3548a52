"""End to end: bad inputs met by the installed `dtl` over a store with the tiny corpus's
entries (a copy of the session's), each one `dtl: error:` line, exit 2, nothing stored."""

from __future__ import annotations

import shutil

import pytest
from conftest import TINY, one_error_line, run_dtl

pytestmark = pytest.mark.e2e


def test_missing_file_names_file_and_key(seeded_store, tmp_path):
    store = seeded_store
    line = one_error_line(
        run_dtl(["pretrain", "dataset.source.train.path=nope.csv"], tmp_path, store)
    )
    assert "nope.csv" in line and "dataset.source.train" in line
    assert not list(store.glob("*/.tmp-*"))


def test_target_label_the_source_never_had(seeded_store, tmp_path):
    store = seeded_store
    bad = tmp_path / "zh_train.csv"
    shutil.copy(TINY / "zh_train.csv", bad)
    with open(bad, "a", encoding="utf-8") as handle:
        handle.write("今天天气很好。,weather\n")
    before = {path.name for path in store.glob("[!.]*/[0-9a-f]*")}
    line = one_error_line(run_dtl(["run", f"dataset.target.train.path={bad}"], tmp_path, store))
    assert "zh_train.csv" in line and "'weather'" in line and "dataset.target.train" in line
    assert {path.name for path in store.glob("[!.]*/[0-9a-f]*")} == before  # nothing new stored


def test_dictionary_missing_the_vocabulary(seeded_store, tmp_path):
    store = seeded_store
    bad = tmp_path / "dict.txt"
    bad.write_text("zebra 斑马\nquokka 短尾矮袋鼠\n", encoding="utf-8")
    maps_before = set((store / "map").iterdir())
    line = one_error_line(run_dtl(["map", f"dataset.dictionary.seed={bad}"], tmp_path, store))
    assert "dict.txt" in line and "none of its 2 pairs" in line
    assert set((store / "map").iterdir()) == maps_before


def test_bad_stage_option_fails_before_any_stage_runs(tmp_path):
    store = tmp_path / "fresh-store"
    line = one_error_line(run_dtl(["run", "evaluation.bli.csls_pool=0"], tmp_path, store))
    assert line.endswith("evaluation.bli.csls_pool=0 must be >= 1 or null")
    assert not list(store.glob("[!.]*/[0-9a-f]*"))  # not even pretrain was stored


def test_empty_corpus(seeded_store, tmp_path):
    store = seeded_store
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n", encoding="utf-8")
    line = one_error_line(run_dtl(["run", f"dataset.target.test.path={empty}"], tmp_path, store))
    assert "empty.csv" in line


def test_gpu_that_is_not_there(seeded_store, tmp_path):
    store = seeded_store
    line = one_error_line(run_dtl(["run", "device=gpu", "device.gpus=[0,1]"], tmp_path, store))
    assert "device.gpus=[0,1]" in line and "device.fallback=cpu" in line
