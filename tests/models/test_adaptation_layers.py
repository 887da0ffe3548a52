"""Model-level pieces of the adaptation recipe: prior shift in the output bias, the saved
two-model ensemble, loading a head, per-example weights, and the label-free loop."""

import keras
import numpy as np
import pytest

from dtl_cli.adapt.label_free import LabelFreeOptions, adapt_to_target
from dtl_cli.adapt.label_shift import adjust_priors
from dtl_cli.models.classifier import (
    Architecture,
    build_classifier,
    set_head_weights,
    shift_priors,
    weighted_ensemble,
)
from dtl_cli.models.training import fit_classifier, predict_probabilities

ARCH = Architecture(name="dan", hidden=(8,), dropout=0.0)


def _task(rng, n=200, shift=0.0):
    """Label = which half of a 20-word vocabulary a document's words come from."""
    vectors = rng.normal(size=(20, 4)).astype("float32")
    vectors[:10, 0] += 2.0
    matrix = np.vstack([np.zeros((2, 4), "float32"), vectors])
    labels = rng.integers(0, 2, n)
    ids = np.where(
        labels[:, None] == 0, rng.integers(2, 12, (n, 5)), rng.integers(12, 22, (n, 5))
    ).astype("int32")
    return matrix, ids, labels


def _model(matrix, name=None, seed=0):
    keras.utils.set_random_seed(seed)
    return build_classifier(ARCH, matrix, 2, name=name)


FIT = dict(epochs=8, batch_size=16, learning_rate=0.02, validation_split=0.0, patience=2)


def test_shift_priors_in_the_bias_equals_adjusting_the_outputs():
    matrix, ids, _ = _task(np.random.default_rng(0))
    model = _model(matrix)
    before = predict_probabilities(model, ids)
    shift_priors(model, np.array([0.5, 0.5]), np.array([0.8, 0.2]))
    after = predict_probabilities(model, ids)
    assert after == pytest.approx(adjust_priors(before, [0.5, 0.5], [0.8, 0.2]), abs=1e-5)


def test_ensemble_mixes_saves_and_loads(tmp_path):
    matrix, ids, _ = _task(np.random.default_rng(1))
    a, b = _model(matrix, "a", seed=0), _model(matrix * 2, "b", seed=1)
    both = weighted_ensemble(a, b, 0.3)
    expected = 0.3 * predict_probabilities(a, ids) + 0.7 * predict_probabilities(b, ids)
    assert predict_probabilities(both, ids) == pytest.approx(expected, abs=1e-6)
    both.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    assert predict_probabilities(loaded, ids) == pytest.approx(expected, abs=1e-6)


def test_set_head_weights_checks_the_layer_count():
    matrix, _, _ = _task(np.random.default_rng(2))
    model = _model(matrix)
    dense = [
        [np.ones((4, 8), "float32"), np.zeros(8, "float32")],
        [np.ones((8, 2), "float32"), np.zeros(2, "float32")],
    ]
    set_head_weights(model, dense)
    assert np.all(model.get_layer("classes").get_weights()[0] == 1.0)
    with pytest.raises(ValueError, match="1 weight pairs for the 2 head layers"):
        set_head_weights(model, dense[:1])


def test_label_free_adaptation_is_deterministic_and_self_trains():
    matrix, ids, _ = _task(np.random.default_rng(4))

    def run():
        teacher = _model(matrix)
        fit_classifier(teacher, ids[:40], (ids[:40, 0] >= 12).astype(int), seed=0, **FIT)
        fit = lambda m, x, y: fit_classifier(m, x, y, seed=0, **FIT)  # noqa: E731
        options = LabelFreeOptions(label_shift="em", rounds=2, fraction=0.5)
        return adapt_to_target(
            teacher,
            ids,
            np.array([0.5, 0.5]),
            options,
            make_student=lambda: _model(matrix, seed=1),
            fit=fit,
        )

    (first, record), (second, _) = run(), run()
    assert len(record["rounds"]) == 2 and record["rounds"][0]["kept"] > 0
    assert sum(record["final_priors"]) == pytest.approx(1.0)
    assert np.array_equal(predict_probabilities(first, ids), predict_probabilities(second, ids))
    with pytest.raises(ValueError, match="label_shift='bogus'"):
        adapt_to_target(
            first,
            ids,
            np.array([0.5, 0.5]),
            LabelFreeOptions(label_shift="bogus"),
            make_student=None,
            fit=None,
        )
