"""Self-training lifts a planted shifted target; the confident selection follows priors."""

import numpy as np

from dtl_cli.adapt.self_training import select_confident, self_train


def _nearest_centroid(x, rows, labels, n_classes=2):
    """A tiny learner: class centroids from (x[rows], labels), softmax of -distance^2."""
    centroids = np.stack([x[rows][labels == c].mean(axis=0) for c in range(n_classes)])
    logits = -((x[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def test_self_training_lifts_a_shifted_target():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    # target clusters at (+-2, 0) shifted by (+1.5, 0): the source's boundary x = 0 is off
    x = rng.normal(size=(2000, 2)) + np.c_[np.where(labels == 1, 2.0, -2.0) + 1.5, np.zeros(2000)]
    teacher = 1.0 / (1.0 + np.exp(-2.0 * x[:, 0]))
    teacher_probs = np.stack([1 - teacher, teacher], axis=1)
    before = (teacher_probs.argmax(1) == labels).mean()
    probs, _, log = self_train(
        teacher_probs, lambda r, y: _nearest_centroid(x, r, y), rounds=3, fraction=0.5
    )
    after = (probs.argmax(1) == labels).mean()
    assert after > before + 0.05
    assert [entry["kept"] for entry in log] and all(entry["kept"] > 0 for entry in log)


def test_select_confident_takes_the_most_confident_rows_per_class_by_priors():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55], [0.99, 0.01], [0.7, 0.3]])
    rows, labels = select_confident(probs, fraction=0.5, priors=np.array([2 / 3, 1 / 3]))
    # class 0 gets round(0.5 * 6 * 2/3) = 2 rows (0.99, 0.9); class 1 gets 1 row (0.8)
    assert rows.tolist() == [0, 2, 4]
    assert labels.tolist() == [0, 1, 0]


def test_select_confident_never_takes_more_than_predicted():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    rows, labels = select_confident(probs, fraction=1.0, priors=np.array([0.5, 0.5]))
    assert rows.tolist() == [0, 1] and labels.tolist() == [0, 0]


def test_updated_priors_move_toward_the_planted_balance():
    rng = np.random.default_rng(2)
    labels = (rng.random(3000) < 0.25).astype(int)  # 3:1, while the teacher assumes 1:1
    x = rng.normal(size=(3000, 2)) + np.c_[np.where(labels == 1, 1.5, -1.5) + 0.8, np.zeros(3000)]
    teacher = 1.0 / (1.0 + np.exp(-3.0 * x[:, 0]))
    teacher_probs = np.stack([1 - teacher, teacher], axis=1)
    fit = lambda r, y: _nearest_centroid(x, r, y)  # noqa: E731
    kept = dict(rounds=3, fraction=0.5, priors=np.array([0.5, 0.5]))
    fixed = self_train(teacher_probs, fit, **kept)
    updated = self_train(teacher_probs, fit, update_priors=True, **kept)
    assert fixed[1].tolist() == [0.5, 0.5]
    assert abs(updated[1][1] - 0.25) < abs(0.5 - 0.25) - 0.1
    assert (updated[0].argmax(1) == labels).mean() > (fixed[0].argmax(1) == labels).mean()


def test_self_training_stops_when_a_class_gets_no_pseudo_label():
    teacher = np.tile([[0.9, 0.1]], (10, 1))  # nobody predicted class 1
    calls = []
    probs, _, log = self_train(teacher, lambda r, y: calls.append(1), rounds=2, fraction=0.5)
    assert not calls and log == [{"kept": 5, "stopped": "a class got no pseudo-label"}]
    assert np.array_equal(probs, teacher)


def _shifted_target(seed=2, n=3000):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.25).astype(int)  # 3:1, while the teacher assumes 1:1
    x = rng.normal(size=(n, 2)) + np.c_[np.where(labels == 1, 1.5, -1.5) + 0.8, np.zeros(n)]
    teacher = 1.0 / (1.0 + np.exp(-3.0 * x[:, 0]))
    return x, labels, np.stack([1 - teacher, teacher], axis=1)


def test_rounds_stop_once_the_priors_settle():
    x, labels, teacher_probs = _shifted_target()
    fit = lambda r, y: _nearest_centroid(x, r, y)  # noqa: E731
    kept = dict(rounds=30, fraction=0.5, priors=np.array([0.5, 0.5]), update_priors=True)
    every = self_train(teacher_probs, fit, **kept)
    settled = self_train(teacher_probs, fit, tolerance=0.01, **kept)
    trained = [entry for entry in settled[2] if "priors" in entry]
    assert len(every[2]) == 30 and "stopped" not in every[2][-1]
    assert settled[2][-1]["stopped"] == "the class priors settled"
    assert 2 <= len(trained) < 30
    # stopping there loses nothing the remaining rounds would have found
    accuracy = lambda probs: (probs.argmax(1) == labels).mean()  # noqa: E731
    assert accuracy(settled[0]) >= accuracy(every[0]) - 0.01


def test_a_learner_that_repeats_itself_trains_no_second_student():
    teacher = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8]])
    calls = []

    def same(rows, y):
        calls.append(len(rows))
        return teacher

    _, _, log = self_train(teacher, same, rounds=10, fraction=1.0, tolerance=0.001)
    assert len(calls) == 1 and log[-1]["stopped"] == "the class priors settled"
