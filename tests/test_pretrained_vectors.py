"""Pretrained vectors as an embeddings entry: the text file is parsed once, then read back from
the store's binary copy, whatever else in the config changes."""

import os

import numpy as np
import pytest

from dtl_cli.embed.io import write_vec
from dtl_cli.errors import DataError
from dtl_cli.hydra_app import compose_config
from dtl_cli.stages import entries, pretrain
from dtl_cli.store import Store

WORDS = ["the", "The", "cat", "猫", "sat"]


@pytest.fixture
def vec_file(tmp_path):
    path = tmp_path / "en.vec"
    vectors = np.random.default_rng(0).standard_normal((len(WORDS), 3)).astype(np.float32)
    write_vec(path, WORDS, vectors)
    return path, vectors


def _cfg(path, *more):
    vectors = [f"embedding.source_vectors={path}", f"embedding.target_vectors={path}"]
    return compose_config(["embedding=pretrained", *vectors, *more])


def _load(cfg, store):
    """(words, raw vectors, reused) of the source embeddings entry, built if missing."""
    _, reused = pretrain.embeddings_entry(cfg, store, "source")
    return *entries.read_raw_embeddings(cfg, store, "source"), reused


def test_second_load_reads_the_binary_copy(tmp_path, vec_file, monkeypatch):
    path, vectors = vec_file
    store = Store(tmp_path / "store")
    cfg = _cfg(path, "embedding.max_vocab=4", "embedding.lowercase=true")
    words, loaded, reused = _load(cfg, store)
    assert not reused and words == ["the", "cat", "猫", "sat"]
    np.testing.assert_array_equal(loaded, vectors[[0, 2, 3, 4]])
    entry = store.path("embeddings", entries.embeddings_key(cfg, "source"))
    assert (entry / "vectors.npy").is_file()

    def no_parsing(*args, **kwargs):
        raise AssertionError("the text file was parsed again")

    monkeypatch.setattr(pretrain, "load_vectors", no_parsing)
    # Another classifier or normalisation reads the same copy.
    other = _cfg(path, "embedding.max_vocab=4", "embedding.lowercase=true", "model=cnn")
    other.embedding.normalize = ["center"]
    again, reloaded, reused = _load(other, store)
    assert reused and again == words
    assert reloaded.dtype == np.float32
    np.testing.assert_array_equal(reloaded, loaded)


def test_other_options_or_an_edited_file_make_a_new_copy(tmp_path, vec_file):
    path, vectors = vec_file
    store = Store(tmp_path / "store")
    _load(_cfg(path), store)
    _, _, reused = _load(_cfg(path, "embedding.lowercase=true"), store)
    assert not reused
    _, _, reused = _load(_cfg(path, "embedding.max_vocab=2"), store)
    assert not reused
    write_vec(path, WORDS[:2], vectors[:2] + 1)
    os.utime(path, ns=(1, 1))  # a different modification time even on coarse clocks
    words, loaded, reused = _load(_cfg(path), store)
    assert not reused and words == WORDS[:2]
    np.testing.assert_array_equal(loaded, vectors[:2] + 1)
    assert len(list((tmp_path / "store" / "embeddings").iterdir())) == 4


def test_bad_file_leaves_no_copy(tmp_path):
    path = tmp_path / "bad.vec"
    path.write_text("2 2\na 1 2\nb 1 x\n", encoding="utf-8")
    store = Store(tmp_path / "store")
    with pytest.raises(DataError, match=r"bad\.vec:3: value 'x' is not a number"):
        _load(_cfg(path), store)
    assert list((tmp_path / "store" / "embeddings").iterdir()) == []
