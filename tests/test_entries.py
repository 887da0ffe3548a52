"""Entry writers and readers: compact classifier weights, corpus files, id arrays."""

import json

import keras
import numpy as np
import pytest

from dtl_cli.errors import DataError
from dtl_cli.models.classifier import Architecture, build_classifier
from dtl_cli.models.training import finetune, predict_classes
from dtl_cli.stages import entries


def _matrix(rows=40, dim=8, seed=0):
    return entries.embedding_matrix(
        np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    )


def _data(n=64, vocab=42, length=12, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(2, vocab, size=(n, length)).astype(np.int32), rng.integers(0, 3, n)


@pytest.mark.parametrize(("name", "strategy"), [("dan", "frozen_embeddings"), ("cnn", "full")])
def test_compact_weights_round_trip_predicts_exactly_like_the_full_model(tmp_path, name, strategy):
    arch = Architecture(name=name, hidden=(16,), filters=4, kernel_sizes=(2,))
    base = _matrix()
    keras.utils.set_random_seed(0)
    model = build_classifier(arch, base, 3)
    ids, labels = _data()
    finetune(
        model,
        ids,
        labels,
        strategy=strategy,
        epochs=2,
        learning_rate=0.01,
        batch_size=16,
        validation_split=0.0,
        patience=2,
        seed=0,
    )
    info = entries.save_weights(tmp_path / "weights.npz", model, base)

    keras.utils.set_random_seed(1)  # other initial weights: all must come from the file
    again = entries.load_weights(tmp_path / "weights.npz", build_classifier(arch, base, 3))
    np.testing.assert_array_equal(predict_classes(again, ids), predict_classes(model, ids))
    np.testing.assert_array_equal(
        np.asarray(again.predict(ids, verbose=0)), np.asarray(model.predict(ids, verbose=0))
    )
    saved = np.load(tmp_path / "weights.npz")
    if strategy == "frozen_embeddings":  # the embedding is not stored at all
        assert info["changed_embedding_rows"] == 0 and saved["embedding:values"].shape == (0, 8)
    else:  # only the rows of words seen in training (never padding, unseen words)
        rows = saved["embedding:rows"]
        assert 0 < len(rows) <= 40 and 0 not in rows and 1 not in rows
        assert set(rows) <= set(np.unique(ids))


def test_frozen_dan_entry_is_small_beside_its_embedding(tmp_path):
    base = _matrix(rows=20000, dim=50)
    model = build_classifier(Architecture(name="dan", hidden=(64,)), base, 2)
    entries.save_weights(tmp_path / "weights.npz", model, base)
    assert (tmp_path / "weights.npz").stat().st_size < 30_000  # the matrix alone is 4 MB


def test_corpus_files_keep_labelled_documents_first_and_drop_empty_unlabelled(tmp_path):
    counts = entries.write_corpus(
        tmp_path, [["a", "b"], []], ["x", "y"], iter([["c"], [], ["d", "e"]])
    )
    assert counts == {"labelled": 2, "unlabelled": 2, "tokens": 5}
    assert (tmp_path / "tokens.txt").read_text() == "a b\n\nc\nd e\n"
    assert json.loads((tmp_path / "labels.json").read_text()) == ["x", "y"]
    corpus = entries.Corpus(tmp_path, ["x", "y"], 5)
    assert corpus.documents() == [["a", "b"], []]
    assert list(entries.TokenFile(corpus.token_file)) == [["a", "b"], [], ["c"], ["d", "e"]]
    with pytest.raises(ValueError, match="2 labelled documents but 1 labels"):
        entries.write_corpus(tmp_path, [["a"], ["b"]], ["x"])


def test_ids_are_cut_when_built_and_empty_documents_get_one_unknown_token():
    index = {"a": 2, "b": 3}
    ids, n_cut = entries.token_ids([["a", "b", "a"], [], ["zz"]], index, max_len=2)
    assert n_cut == 1
    np.testing.assert_array_equal(ids, [[2, 3], [1, 0], [1, 0]])


def test_class_ids_name_the_first_unknown_label():
    np.testing.assert_array_equal(entries.class_ids(["b", "a"], ["a", "b"], "f", "k"), [1, 0])
    with pytest.raises(DataError, match=r"f: label 'c' \(row 2\) never occurs.*\[k\]"):
        entries.class_ids(["a", "c"], ["a", "b"], "f", "k")


def test_a_folder_input_is_keyed_by_its_files_names_and_bytes(tmp_path):
    import shutil

    data = tmp_path / "data"
    (data / "pos").mkdir(parents=True)
    (data / "neg").mkdir()
    (data / "pos" / "a.txt").write_text("good film", encoding="utf-8")
    (data / "neg" / "b.txt").write_text("bad film", encoding="utf-8")
    key = entries.fingerprint(str(data))
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    assert entries.fingerprint(str(copy)) == key  # new path and times, same files
    (copy / "neg" / "b.txt").write_text("bad film!", encoding="utf-8")
    assert entries.fingerprint(str(copy)) != key
    shutil.copytree(data, tmp_path / "moved")
    (tmp_path / "moved" / "neg" / "b.txt").rename(tmp_path / "moved" / "pos" / "b.txt")
    assert entries.fingerprint(str(tmp_path / "moved")) != key  # a file changed its label
