"""The CV-weighted ensemble is never below both of its parts on the examples it is chosen on,
and the out-of-fold probabilities never come from a model that saw the example."""

import numpy as np
import pytest

from dtl_cli.adapt.ensemble import choose_weight, mix, out_of_fold


def _two_experts(rng, n=400):
    """Two noisy experts that err on different halves of the examples."""
    labels = rng.integers(0, 2, n)
    half = np.arange(n) < n // 2
    first = np.where(half, 0.9, 0.35)  # probability given to the true label
    second = np.where(half, 0.4, 0.85)
    to_probs = lambda p: np.where(labels[:, None] == np.arange(2), p[:, None], 1 - p[:, None])  # noqa: E731
    noise = lambda: rng.uniform(-0.05, 0.05, n)  # noqa: E731
    return to_probs(first + noise()), to_probs(second + noise()), labels


def _accuracy(p, labels):
    return (p.argmax(1) == labels).mean()


def _log_likelihood(p, labels):
    return np.log(p[np.arange(len(labels)), labels]).mean()


@pytest.mark.parametrize(
    ("score", "measure"), [("accuracy", _accuracy), ("log_likelihood", _log_likelihood)]
)
def test_chosen_mix_is_never_below_both_parts_by_its_score(score, measure):
    for seed in range(5):
        first, second, labels = _two_experts(np.random.default_rng(seed))
        weight = choose_weight(first, second, labels, score=score)
        mixed = measure(mix(first, second, weight), labels)
        assert mixed >= max(measure(first, labels), measure(second, labels))
        assert 0.0 < weight < 1.0  # here neither expert alone is best


def test_one_lucky_example_moves_accuracy_not_log_likelihood():
    # 10 examples: the first part is sure and right on 8; the second barely right on 9
    labels = np.zeros(10, dtype=int)
    first = np.array([[0.9, 0.1]] * 8 + [[0.3, 0.7]] * 2)
    second = np.array([[0.55, 0.45]] * 9 + [[0.45, 0.55]])
    assert choose_weight(first, second, labels, score="accuracy") <= 0.2
    assert choose_weight(first, second, labels, score="log_likelihood") >= 0.5


def test_an_unknown_score_is_refused():
    with pytest.raises(ValueError, match="score='f1'"):
        choose_weight(np.eye(2), np.eye(2), np.array([0, 1]), score="f1")


def test_a_useless_second_part_gets_no_weight():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    good = np.eye(2)[labels] * 0.8 + 0.1
    assert choose_weight(good, np.full((200, 2), 0.5), labels) == 1.0
    assert choose_weight(np.full((200, 2), 0.5), good, labels) == 0.0


def test_out_of_fold_never_predicts_an_example_from_its_own_training_rows():
    labels = np.array([0, 1] * 10)
    seen = []

    def fit_predict(train, held):
        assert not set(train) & set(held)
        seen.extend(held.tolist())
        return np.tile([0.2, 0.8], (len(held), 1))

    probs = out_of_fold(20, labels, fit_predict, folds=4, seed=0, n_classes=2)
    assert sorted(seen) == list(range(20))
    assert probs == pytest.approx(np.tile([0.2, 0.8], (20, 1)))


def test_single_label_training_folds_get_uniform_probabilities():
    labels = np.array([0, 0, 0, 1])
    probs = out_of_fold(
        4, labels, lambda t, h: np.eye(2)[np.zeros(len(h), int)], folds=4, seed=0, n_classes=2
    )
    # the fold holding the only 1 trains on zeros alone: uniform there
    assert probs[3] == pytest.approx([0.5, 0.5])
