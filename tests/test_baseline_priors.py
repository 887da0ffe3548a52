"""The target-only baseline (and the k-shot mix's target-only side, the same classifier) gets
the transfer's label-shift EM: priors from its own outputs on the pool's text, its output
layer shifted to them."""

import keras
import numpy as np

from dtl_cli.hydra_app import compose_config
from dtl_cli.models.classifier import Architecture, build_classifier
from dtl_cli.models.training import fit_classifier, predict_classes
from dtl_cli.stages.adaptation import target_only_priors


def _noisy_task(rng, n_docs, share0, n_words=40, dim=8, max_len=8):
    """Documents drawing 65% of their words from their class's half of the vocabulary; a
    `share0` fraction of them is class 0."""
    vectors = rng.normal(size=(n_words, dim)).astype("float32")
    vectors[: n_words // 2, 0] += 1.5
    matrix = np.vstack([np.zeros((2, dim), "float32"), vectors])
    labels = (rng.random(n_docs) > share0).astype(int)
    own = rng.random((n_docs, max_len)) < 0.65
    half = np.where(own, labels[:, None], 1 - labels[:, None])
    ids = 2 + half * (n_words // 2) + rng.integers(0, n_words // 2, (n_docs, max_len))
    return matrix, ids.astype("int32"), labels


def test_baseline_em_moves_its_priors_toward_the_pools_and_raises_pool_accuracy():
    rng = np.random.default_rng(0)
    matrix, ids, labels = _noisy_task(rng, 2000, share0=0.85)
    # A balanced k-shot sample out of an 85:15 pool: the model learns 50:50 priors.
    sample = np.concatenate([np.flatnonzero(labels == c)[:40] for c in (0, 1)])
    keras.utils.set_random_seed(0)
    arch = Architecture(name="dan", hidden=(8,), dropout=0.0)
    model = build_classifier(arch, matrix, 2)
    fit_classifier(
        model,
        ids[sample],
        labels[sample],
        epochs=20,
        batch_size=16,
        learning_rate=0.01,
        validation_split=0.0,
        patience=5,
        seed=0,
    )
    before = np.mean(predict_classes(model, ids) == labels)

    priors = target_only_priors(compose_config([]), model, labels[sample], ids)

    after = np.mean(predict_classes(model, ids) == labels)
    assert abs(priors.sum() - 1) < 1e-9
    assert priors[0] > 0.65  # from 0.5 toward the pool's 0.85
    assert after > before + 0.02


def test_a_class_missing_from_the_sample_leaves_the_baseline_alone():
    rng = np.random.default_rng(1)
    matrix, ids, labels = _noisy_task(rng, 200, share0=0.5)
    model = build_classifier(Architecture(name="dan", hidden=(8,)), matrix, 2)
    bias = model.get_layer("classes").get_weights()[1].copy()
    only_zeros = np.flatnonzero(labels == 0)[:5]
    assert target_only_priors(compose_config([]), model, labels[only_zeros], ids) is None
    np.testing.assert_array_equal(model.get_layer("classes").get_weights()[1], bias)


def test_without_em_the_baseline_is_left_alone():
    rng = np.random.default_rng(2)
    matrix, ids, labels = _noisy_task(rng, 200, share0=0.85)
    model = build_classifier(Architecture(name="dan", hidden=(8,)), matrix, 2)
    bias = model.get_layer("classes").get_weights()[1].copy()
    cfg = compose_config(["model.finetune.adapt.label_shift=none"])
    assert target_only_priors(cfg, model, labels[:20], ids) is None
    np.testing.assert_array_equal(model.get_layer("classes").get_weights()[1], bias)
