"""Language-adversarial head: the discriminator is fooled as training goes on."""

import numpy as np

from dtl_cli.adapt.adversarial import AdversarialHead, train_adversarial


def _two_domains(rng, n=600):
    """Class signal on feature 0; the domain sits on features 1-2 (source -2, target +2)."""
    labels = rng.integers(0, 2, n)
    source = rng.normal(size=(n, 4)).astype("float32")
    source[:, 0] += np.where(labels == 1, 2.0, -2.0)
    source[:, 1:3] -= 2.0
    target = rng.normal(size=(n, 4)).astype("float32")
    target[:, 0] += np.where(rng.integers(0, 2, n) == 1, 2.0, -2.0)
    target[:, 1:3] += 2.0
    return source, labels, target


def _train(weight, epochs=20):
    source, labels, target = _two_domains(np.random.default_rng(0))
    head = AdversarialHead(4, (8,), 2, disc_units=8, seed=0)
    history = train_adversarial(
        head,
        source,
        labels,
        target,
        epochs=epochs,
        batch_size=32,
        learning_rate=0.001,
        weight=weight,
        seed=0,
    )
    return head, history, source, labels


def test_discriminator_accuracy_falls_toward_chance_with_the_reversed_gradient():
    head, history, source, labels = _train(weight=1.0)
    accuracy = history["disc_accuracy"]
    assert accuracy[0] > 0.75  # at first the languages are easy to tell apart
    assert abs(np.mean(accuracy[-5:]) - 0.5) < 0.15
    assert (head.predict(source).argmax(1) == labels).mean() > 0.9  # still classifies


def test_without_the_adversary_the_languages_stay_apart():
    _, history, _, _ = _train(weight=0.0)
    assert np.mean(history["disc_accuracy"][-5:]) > 0.9


def test_same_seed_same_weights():
    a = _train(weight=1.0, epochs=2)[0].dense_weights()
    b = _train(weight=1.0, epochs=2)[0].dense_weights()
    assert all(
        np.array_equal(x, y)
        for la, lb in zip(a, b, strict=True)
        for x, y in zip(la, lb, strict=True)
    )
