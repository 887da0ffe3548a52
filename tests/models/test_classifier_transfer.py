"""The classifier moves between vocabularies: layers above the embedding keep their weights."""

import keras
import numpy as np
import pytest

from dtl_cli.align.mappings import apply_map, fit_procrustes, invert_map
from dtl_cli.models.classifier import build_classifier, transplant
from dtl_cli.models.training import fit_classifier, predict_classes, stratified_sample


def _toy_task(rng, n_words=40, dim=8, n_docs=300, max_len=6):
    """Documents whose label is which half of the vocabulary most of their words come from."""
    vectors = rng.normal(size=(n_words, dim)).astype("float32")
    vectors[: n_words // 2, 0] += 2.0  # class 0 words lean one way along axis 0
    matrix = np.vstack([np.zeros((2, dim), "float32"), vectors])
    labels = rng.integers(0, 2, n_docs)
    low, high = 2, 2 + n_words // 2
    ids = np.where(
        labels[:, None] == 0,
        rng.integers(low, high, (n_docs, max_len)),
        rng.integers(high, 2 + n_words, (n_docs, max_len)),
    ).astype("int32")
    return matrix, ids, labels


def _dan(matrix, max_len=6):
    keras.utils.set_random_seed(0)
    return build_classifier("dan", matrix, 2, max_len=max_len, hidden=[16], dropout=0.0)


def test_dan_learns_and_transplant_carries_it_through_an_exact_inverse_map():
    rng = np.random.default_rng(0)
    matrix, ids, labels = _toy_task(rng)
    source = _dan(matrix)
    fit_classifier(
        source,
        ids,
        labels,
        epochs=15,
        batch_size=32,
        learning_rate=0.01,
        validation_split=0.0,
        patience=2,
        seed=0,
    )
    source_pred = predict_classes(source, ids)
    assert (source_pred == labels).mean() > 0.9

    # A "target language": the same words in another order, rotated and shifted.
    perm = rng.permutation(matrix.shape[0] - 2)
    rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    target_vecs = (matrix[2:][perm] @ rotation.T + 0.5).astype("float32")
    W, b = fit_procrustes(matrix[2:][perm], target_vecs)
    carried = apply_map(target_vecs, *invert_map(W, b))
    target_matrix = np.vstack([np.zeros((2, 8), "float32"), carried])
    target = transplant(source, _dan(target_matrix))

    # The same documents written with target ids give the same predictions.
    new_id = np.empty(matrix.shape[0], dtype="int32")
    new_id[:2] = [0, 1]
    new_id[2 + perm] = 2 + np.arange(len(perm))
    target_ids = new_id[ids]
    np.testing.assert_array_equal(predict_classes(target, target_ids), source_pred)
    # Without the map (raw target vectors) the classifier is lost.
    raw = transplant(source, _dan(np.vstack([np.zeros((2, 8), "float32"), target_vecs])))
    assert (predict_classes(raw, target_ids) == source_pred).mean() < 0.9


def test_transplant_keeps_the_fresh_embedding():
    rng = np.random.default_rng(1)
    matrix, _, _ = _toy_task(rng)
    other = matrix * 3
    fresh = transplant(_dan(matrix), _dan(other))
    np.testing.assert_allclose(fresh.get_layer("embedding").get_weights()[0], other)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'rnn'"):
        build_classifier("rnn", np.zeros((3, 2), "float32"), 2, max_len=4, hidden=[], dropout=0)


def test_stratified_sample_is_balanced_reproducible_and_bounded():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 4)
    first = stratified_sample(labels, 12, seed=3)
    assert np.array_equal(first, stratified_sample(labels, 12, seed=3))
    assert not np.array_equal(first, stratified_sample(labels, 12, seed=4))
    assert len(set(first)) == 12
    assert sorted(np.bincount(labels[first]).tolist()) == [4, 4, 4]
    # A small class runs out: the others fill the remaining places.
    big = stratified_sample(labels, 30, seed=0)
    assert np.bincount(labels[big])[2] == 4 and len(big) == 30
    assert len(stratified_sample(labels, 0, seed=0)) == 0
    with pytest.raises(ValueError, match="k=85 exceeds the 84"):
        stratified_sample(labels, 85, seed=0)
