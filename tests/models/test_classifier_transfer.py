"""The classifier moves between vocabularies: layers above the embedding keep their weights."""

import keras
import numpy as np
import pytest

from dtl_cli.align.mappings import apply_map, fit_procrustes, invert_map
from dtl_cli.models.classifier import (
    Architecture,
    adapt_normalization,
    build_classifier,
    transplant,
)
from dtl_cli.models.training import (
    TrainingError,
    balanced_class_weights,
    finetune,
    fit_classifier,
    make_dataset,
    predict_classes,
    stratified_sample,
)


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


def _dan(matrix, name="dan"):
    keras.utils.set_random_seed(0)
    arch = Architecture(name=name, hidden=(16,), dropout=0.0, filters=8, lstm_units=8)
    return build_classifier(arch, matrix, 2)


@pytest.mark.parametrize("name", ["dan", "cnn", "bilstm"])
def test_model_learns_and_transplant_carries_it_through_an_exact_inverse_map(name):
    rng = np.random.default_rng(0)
    matrix, ids, labels = _toy_task(rng)
    source = _dan(matrix, name)
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
    target = transplant(source, _dan(target_matrix, name))

    # The same documents written with target ids give the same predictions.
    new_id = np.empty(matrix.shape[0], dtype="int32")
    new_id[:2] = [0, 1]
    new_id[2 + perm] = 2 + np.arange(len(perm))
    target_ids = new_id[ids]
    np.testing.assert_array_equal(predict_classes(target, target_ids), source_pred)
    # Without the map (raw target vectors) the classifier is lost.
    raw = transplant(source, _dan(np.vstack([np.zeros((2, 8), "float32"), target_vecs]), name))
    assert (predict_classes(raw, target_ids) == source_pred).mean() < 0.9


def test_transplant_keeps_the_fresh_embedding():
    rng = np.random.default_rng(1)
    matrix, _, _ = _toy_task(rng)
    other = matrix * 3
    fresh = transplant(_dan(matrix), _dan(other))
    np.testing.assert_allclose(fresh.get_layer("embedding").get_weights()[0], other)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'rnn'"):
        build_classifier(Architecture(name="rnn"), np.zeros((3, 2), "float32"), 2)


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


def _trained(rng, name="dan", normalize=False):
    matrix, ids, labels = _toy_task(rng)
    keras.utils.set_random_seed(0)
    arch = Architecture(name=name, hidden=(16,), dropout=0.0, normalize_encoding=normalize)
    model = build_classifier(arch, matrix, 2)
    return model, ids, labels


@pytest.mark.parametrize(
    ("strategy", "changes"),
    [
        ("full", {"embedding", "encoded_norm", "hidden_0", "classes"}),
        ("frozen_embeddings", {"encoded_norm", "hidden_0", "classes"}),
        ("head_only", {"hidden_0", "classes"}),
        ("zero_shot", set()),
    ],
)
def test_finetune_strategies_train_exactly_their_layers(strategy, changes):
    model, ids, labels = _trained(np.random.default_rng(2), normalize=True)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers}
    finetune(
        model,
        ids[:40],
        labels[:40],
        strategy=strategy,
        epochs=2,
        batch_size=8,
        learning_rate=0.05,
        validation_split=0.0,
        patience=1,
        seed=0,
    )
    changed = {
        layer.name
        for layer in model.layers
        if any(
            not np.allclose(a, b)
            for a, b in zip(before[layer.name], layer.get_weights(), strict=True)
        )
    }
    assert changed == changes


def test_gradual_unfreezing_reaches_the_embeddings_last():
    model, ids, labels = _trained(np.random.default_rng(3))
    emb_before = model.get_layer("embedding").get_weights()[0].copy()
    history = finetune(
        model,
        ids[:40],
        labels[:40],
        strategy="gradual",
        epochs=3,
        batch_size=8,
        learning_rate=0.05,
        validation_split=0.0,
        patience=1,
        seed=0,
    )
    assert len(history["loss"]) == 3  # one epoch per phase: head, encoder, embeddings
    assert not np.allclose(emb_before, model.get_layer("embedding").get_weights()[0])


def test_unknown_strategy_and_single_class_and_nan_are_clear_errors():
    model, ids, labels = _trained(np.random.default_rng(4))
    fit = {"batch_size": 8, "validation_split": 0.0, "patience": 1, "seed": 0}
    with pytest.raises(TrainingError, match="model.finetune.strategy='bogus'"):
        finetune(model, ids, labels, strategy="bogus", epochs=1, learning_rate=0.01, **fit)
    with pytest.raises(TrainingError, match="all have one label"):
        fit_classifier(model, ids[:5], np.zeros(5, dtype=int), epochs=1, learning_rate=0.01, **fit)
    with pytest.raises(TrainingError, match="loss became NaN"):
        fit_classifier(model, ids, labels, epochs=3, learning_rate=1e30, optimizer="sgd", **fit)


def test_adabn_sets_norm_statistics_to_the_new_domain():
    model, ids, _ = _trained(np.random.default_rng(5), normalize=True)
    assert adapt_normalization(model, ids)
    norm = model.get_layer("encoded_norm")
    encoder = keras.Model(model.input, norm.input)
    features = np.asarray(encoder(ids, training=False))
    _, _, mean, var = norm.get_weights()
    np.testing.assert_allclose(mean, features.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(var, features.var(axis=0), rtol=1e-3, atol=1e-5)
    plain, ids2, _ = _trained(np.random.default_rng(5), normalize=False)
    assert not adapt_normalization(plain, ids2)


def test_dataset_trims_each_batch_to_its_longest_document_in_steps_of_16():
    ids = np.zeros((4, 40), dtype="int32")
    for row, length in enumerate([3, 20, 2, 1]):
        ids[row, :length] = 5
    batches = list(make_dataset(ids, np.arange(4), batch_size=2, shuffle=False))
    assert [b[0].shape[1] for b in batches] == [32, 16]
    np.testing.assert_array_equal(batches[0][0].numpy(), ids[:2, :32])


def test_full_batches_repeat_the_shuffled_rows_in_batches_of_static_size():
    ids = np.arange(1, 11, dtype="int32")[:, None].repeat(3, axis=1)  # row r holds r + 1
    labels = np.arange(10)
    data = make_dataset(ids, labels, batch_size=4, shuffle=True, seed=3, full_batches=True)
    assert data.element_spec[1].shape.as_list() == [4]
    batches = list(data.take(5))  # 20 rows: two passes over the 10
    assert all(len(labels) == 4 for _, labels in batches)
    rows = np.concatenate([labels.numpy() for _, labels in batches])
    np.testing.assert_array_equal(np.concatenate([i.numpy()[:, 0] for i, _ in batches]) - 1, rows)
    for one_pass in (rows[:10], rows[10:]):
        assert sorted(one_pass) == list(range(10))
    assert not np.array_equal(rows[:10], rows[10:])  # a fresh order each pass


def test_balanced_class_weights():
    weights = balanced_class_weights(np.array([0, 0, 0, 1]), 3)
    assert weights == pytest.approx({0: 4 / 9, 1: 4 / 3})
