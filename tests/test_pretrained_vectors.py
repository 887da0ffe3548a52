"""The binary copy of pretrained vectors in the store (dtl_cli/stages/vectors.py)."""

import os

import numpy as np
import pytest

from dtl_cli.embed.io import write_vec
from dtl_cli.errors import DataError
from dtl_cli.stages import vectors as vectors_module
from dtl_cli.stages.keys import vectors_key
from dtl_cli.stages.vectors import load_pretrained_vectors
from dtl_cli.store import Store

WORDS = ["the", "The", "cat", "猫", "sat"]


@pytest.fixture
def vec_file(tmp_path):
    path = tmp_path / "en.vec"
    vectors = np.random.default_rng(0).standard_normal((len(WORDS), 3)).astype(np.float32)
    write_vec(path, WORDS, vectors)
    return path, vectors


def test_second_load_reads_the_binary_copy(tmp_path, vec_file, monkeypatch):
    path, vectors = vec_file
    store = Store(tmp_path / "store")
    words, loaded, reused = load_pretrained_vectors(store, str(path), max_vocab=4, lowercase=True)
    assert not reused and words == ["the", "cat", "猫", "sat"]
    np.testing.assert_array_equal(loaded, vectors[[0, 2, 3, 4]])
    key = vectors_key(str(path), 4, True)
    assert store.has("vectors", key)
    assert (store.path("vectors", key) / "vectors.npy").is_file()

    def no_parsing(*args, **kwargs):
        raise AssertionError("the text file was parsed again")

    monkeypatch.setattr(vectors_module, "load_vectors", no_parsing)
    again, reloaded, reused = load_pretrained_vectors(store, str(path), max_vocab=4, lowercase=True)
    assert reused and again == words
    assert reloaded.dtype == np.float32
    np.testing.assert_array_equal(reloaded, loaded)


def test_other_options_or_an_edited_file_make_a_new_copy(tmp_path, vec_file):
    path, vectors = vec_file
    store = Store(tmp_path / "store")
    load_pretrained_vectors(store, str(path), max_vocab=None, lowercase=False)
    _, _, reused = load_pretrained_vectors(store, str(path), max_vocab=None, lowercase=True)
    assert not reused
    _, _, reused = load_pretrained_vectors(store, str(path), max_vocab=2, lowercase=False)
    assert not reused
    write_vec(path, WORDS[:2], vectors[:2] + 1)
    os.utime(path, ns=(1, 1))  # a different modification time even on coarse clocks
    words, loaded, reused = load_pretrained_vectors(
        store, str(path), max_vocab=None, lowercase=False
    )
    assert not reused and words == WORDS[:2]
    np.testing.assert_array_equal(loaded, vectors[:2] + 1)
    assert len(list((tmp_path / "store" / "vectors").iterdir())) == 4


def test_bad_file_leaves_no_copy(tmp_path):
    path = tmp_path / "bad.vec"
    path.write_text("2 2\na 1 2\nb 1 x\n", encoding="utf-8")
    store = Store(tmp_path / "store")
    with pytest.raises(DataError, match=r"bad\.vec:3: value 'x' is not a number"):
        load_pretrained_vectors(store, str(path), max_vocab=None, lowercase=False)
    assert list((tmp_path / "store" / "vectors").iterdir()) == []
