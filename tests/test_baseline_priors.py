"""The target-only baseline (and the k-shot mix's target-only side, the same classifier) gets
the transfer's label-shift EM: calibrated by a temperature from out-of-fold outputs of its
k examples, priors from its own outputs on the pool's text, its output layer shifted to them."""

import keras
import numpy as np
import pytest

from dtl_cli.adapt.label_shift import adjust_priors, with_temperature
from dtl_cli.hydra_app import compose_config
from dtl_cli.models.classifier import Architecture, build_classifier
from dtl_cli.models.training import fit_classifier, predict_classes, predict_probabilities
from dtl_cli.stages.adaptation import as_shifted, target_only_shift

UNCALIBRATED = ["model.finetune.adapt.calibration=none"]


def _unused():
    raise AssertionError("no out-of-fold probabilities needed here")


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

    shift = target_only_shift(compose_config(UNCALIBRATED), model, labels[sample], ids, _unused)
    priors = np.asarray(shift["priors"])

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
    assert target_only_shift(compose_config([]), model, labels[only_zeros], ids, _unused) == {}
    np.testing.assert_array_equal(model.get_layer("classes").get_weights()[1], bias)


def test_without_em_the_baseline_is_left_alone():
    rng = np.random.default_rng(2)
    matrix, ids, labels = _noisy_task(rng, 200, share0=0.85)
    model = build_classifier(Architecture(name="dan", hidden=(8,)), matrix, 2)
    bias = model.get_layer("classes").get_weights()[1].copy()
    cfg = compose_config(["model.finetune.adapt.label_shift=none"])
    assert target_only_shift(cfg, model, labels[:20], ids, _unused) == {}
    np.testing.assert_array_equal(model.get_layer("classes").get_weights()[1], bias)


def test_the_calibration_temperature_is_built_into_the_model_before_em():
    rng = np.random.default_rng(3)
    matrix, ids, labels = _noisy_task(rng, 400, share0=0.8)
    model = build_classifier(Architecture(name="dan", hidden=(8,)), matrix, 2)
    before = predict_probabilities(model, ids)
    sample = np.concatenate([np.flatnonzero(labels == c)[:10] for c in (0, 1)])
    # Held-out outputs that give 0.6 to the class they pick and are right 15 times in 20.
    # With Platt's targets (the true class 11/12 for 10 examples a class) the confidence
    # they warrant is (15 * 11/12 + 5 * 1/12) / 20, log-odds log(c / (1 - c)).
    picked = np.where(np.arange(20) % 4 == 3, 1 - labels[sample], labels[sample])
    timid = np.where(picked[:, None] == [0, 1], 0.6, 0.4)
    shift = target_only_shift(compose_config([]), model, labels[sample], ids, lambda: timid)
    warranted = (15 * 11 / 12 + 5 / 12) / 20
    expected = np.log(1.5) / np.log(warranted / (1 - warranted))
    assert shift["temperature"] == pytest.approx(expected, rel=0.02)
    # The model now gives its old outputs at that temperature, moved to the EM priors.
    sharp = with_temperature(before, shift["temperature"])
    expected = adjust_priors(sharp, [0.5, 0.5], shift["priors"])
    np.testing.assert_allclose(predict_probabilities(model, ids), expected, atol=1e-4)
    # Outputs too confident (0.9, right 15 times in 20: T = 2) are never softened.
    bold = np.where(picked[:, None] == [0, 1], 0.9, 0.1)
    model = build_classifier(Architecture(name="dan", hidden=(8,)), matrix, 2)
    shift = target_only_shift(compose_config([]), model, labels[sample], ids, lambda: bold)
    assert shift["temperature"] == pytest.approx(1.0, abs=1e-3)


def test_out_of_fold_outputs_are_calibrated_and_shifted_as_their_models_would_be():
    probs = np.array([[0.6, 0.4], [0.3, 0.7], [0.9, 0.1]])
    shares = np.array([[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]])  # the last fold's model saw one class
    shift = {"temperature": 0.5, "priors": [0.8, 0.2]}
    out = as_shifted(probs, shares, shift)
    sharp = with_temperature(probs, 0.5)
    np.testing.assert_allclose(out[:2], adjust_priors(sharp[:2], [0.5, 0.5], [0.8, 0.2]))
    np.testing.assert_allclose(out[2], sharp[2])  # not shifted, as target_only_shift leaves it
    np.testing.assert_allclose(as_shifted(probs, shares, {}), probs)
