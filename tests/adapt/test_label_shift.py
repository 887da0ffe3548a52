"""EM label-shift correction recovers planted class priors, after calibrating an
under-confident classifier by a temperature."""

import numpy as np
import pytest

from dtl_cli.adapt.label_shift import (
    adjust_priors,
    estimate_priors,
    fit_temperature,
    with_temperature,
)


def _calibrated_probs(rng, priors, n=20000, separation=1.5):
    """Posteriors of a calibrated 1-d Gaussian classifier trained under balanced priors, on a
    sample whose true labels are drawn with `priors`."""
    labels = rng.choice(len(priors), size=n, p=priors)
    x = rng.normal(loc=np.where(labels == 1, separation, -separation), scale=1.0)
    # balanced-prior posterior of class 1 for unit-variance Gaussians at +-separation
    p1 = 1.0 / (1.0 + np.exp(-2.0 * separation * x))
    return np.stack([1.0 - p1, p1], axis=1), labels


@pytest.mark.parametrize("planted", [[0.667, 0.333], [0.2, 0.8], [0.5, 0.5]])
def test_em_recovers_planted_priors(planted):
    probs, _ = _calibrated_probs(np.random.default_rng(0), np.array(planted))
    estimate = estimate_priors(probs, np.array([0.5, 0.5]))
    assert estimate == pytest.approx(planted, abs=0.02)
    if planted[0] != 0.5:
        # the plain average of the posteriors is pulled toward the training priors
        naive = probs.mean(axis=0)
        assert abs(naive[0] - planted[0]) > abs(estimate[0] - planted[0])


def test_adjusting_to_the_true_priors_raises_accuracy():
    rng = np.random.default_rng(1)
    probs, labels = _calibrated_probs(rng, np.array([0.8, 0.2]), separation=0.7)
    adjusted = adjust_priors(probs, [0.5, 0.5], estimate_priors(probs, [0.5, 0.5]))
    assert np.allclose(adjusted.sum(axis=1), 1.0)
    before = (probs.argmax(1) == labels).mean()
    after = (adjusted.argmax(1) == labels).mean()
    assert after > before + 0.03


def test_adjust_to_the_same_priors_changes_nothing_and_empty_input_keeps_old():
    probs = np.array([[0.9, 0.1], [0.3, 0.7]])
    assert np.allclose(adjust_priors(probs, [0.4, 0.6], [0.4, 0.6]), probs)
    assert estimate_priors(np.zeros((0, 2)), [1.0, 3.0]) == pytest.approx([0.25, 0.75])


def test_priors_stay_above_the_floor():
    probs = np.tile([[0.999, 0.001]], (100, 1))
    estimate = estimate_priors(probs, [0.5, 0.5], floor=0.01)
    assert estimate.min() >= 0.01 - 1e-12 and estimate.sum() == pytest.approx(1.0)


def test_a_temperature_fitted_on_held_out_labels_recovers_the_planted_one():
    rng = np.random.default_rng(3)
    calibrated, _ = _calibrated_probs(rng, np.array([0.5, 0.5]), n=4000)
    labels = (rng.random(len(calibrated)) < calibrated[:, 1]).astype(int)  # drawn from them
    for planted in (0.25, 4.0):  # over- and under-confident outputs
        shown = with_temperature(calibrated, planted)  # what the classifier says
        assert fit_temperature(shown, labels) == pytest.approx(1 / planted, rel=0.1)
    assert with_temperature(calibrated, 1.0) == pytest.approx(calibrated)


def test_an_under_confident_classifier_misleads_em_and_its_temperature_fixes_that():
    rng = np.random.default_rng(4)
    # Held-out labelled outputs, balanced as a k-shot sample is, and an unlabelled 70:30
    # target, both from a classifier whose log-odds are 5 times too small.
    held, held_labels = _calibrated_probs(rng, np.array([0.5, 0.5]), n=300)
    target, _ = _calibrated_probs(rng, np.array([0.7, 0.3]))
    timid = lambda p: with_temperature(p, 5.0)  # noqa: E731
    raw = estimate_priors(timid(target), np.array([0.5, 0.5]))
    assert raw[0] > 0.8  # EM overshoots toward the majority class
    temperature = fit_temperature(timid(held), held_labels)
    fixed = estimate_priors(with_temperature(timid(target), temperature), np.array([0.5, 0.5]))
    assert fixed == pytest.approx([0.7, 0.3], abs=0.03)


def test_outputs_all_right_on_a_handful_of_examples_do_not_drive_the_temperature_to_zero():
    # Six held-out examples, each given 0.7 for its true class: the likelihood alone would
    # sharpen without limit; Platt's targets (4/5 for 3 examples a class) stop at 0.8.
    probs = np.array([[0.7, 0.3]] * 3 + [[0.3, 0.7]] * 3)
    labels = np.array([0, 0, 0, 1, 1, 1])
    temperature = fit_temperature(probs, labels)
    assert with_temperature(probs, temperature)[0, 0] == pytest.approx(0.8, abs=0.005)
