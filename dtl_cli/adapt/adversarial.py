"""Language-adversarial training of a classifier head (after ADAN, Chen et al., TACL 2018).

The head reads fixed document features (the source classifier's encoder output): source
documents with labels, target documents (through the map) without. A language discriminator
on the head's hidden layer learns to tell the two apart while the hidden layer learns to
classify and, through the reversed discriminator gradient, to make them indistinguishable.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _mlp(dim: int, hidden: tuple[int, ...], out: int, activation: str, name: str):
    inputs = keras.Input((dim,))
    x = inputs
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"{name}_{i}")(x)
    outputs = keras.layers.Dense(out, activation=activation, name=f"{name}_out")(x)
    return keras.Model(inputs, outputs)


class AdversarialHead:
    """Feature layers `hidden` (relu) + softmax classes, and a discriminator (one hidden
    layer of `disc_units`) on the last hidden layer; weights are Keras layers."""

    def __init__(
        self, dim: int, hidden: tuple[int, ...], n_classes: int, *, disc_units: int = 64, seed: int
    ):
        keras.utils.set_random_seed(seed)
        self.features = _mlp(dim, hidden[:-1], hidden[-1], "relu", "hidden")
        self.classes = _mlp(hidden[-1], (), n_classes, "softmax", "classes")
        self.discriminator = _mlp(hidden[-1], (disc_units,), 1, "sigmoid", "language")

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities [n, c] for features [n, dim]."""
        return np.asarray(self.classes(self.features(x, training=False), training=False))

    def dense_weights(self) -> list[list[np.ndarray]]:
        """[kernel, bias] of every Dense layer from input to classes, in order."""
        layers = [*self.features.layers[1:], *self.classes.layers[1:]]
        return [layer.get_weights() for layer in layers if layer.weights]


def _step(head: AdversarialHead, optimizers, weight: float):
    xent = keras.losses.SparseCategoricalCrossentropy()
    bce = keras.losses.BinaryCrossentropy()
    task_vars = head.features.trainable_variables + head.classes.trainable_variables
    disc_vars = head.discriminator.trainable_variables

    @tf.function
    def step(xs, ys, xt):
        lang = tf.concat([tf.zeros([tf.shape(xs)[0], 1]), tf.ones([tf.shape(xt)[0], 1])], 0)
        with tf.GradientTape(persistent=True) as tape:
            hs, ht = head.features(xs, training=True), head.features(xt, training=True)
            task = xent(ys, head.classes(hs, training=True))
            guess = head.discriminator(tf.concat([hs, ht], 0), training=True)
            disc = bce(lang, guess)
            # gradient reversal: the features climb the discriminator's loss
            total = task - weight * disc
        optimizers[0].apply_gradients(zip(tape.gradient(total, task_vars), task_vars, strict=True))
        optimizers[1].apply_gradients(zip(tape.gradient(disc, disc_vars), disc_vars, strict=True))
        hit = tf.reduce_mean(tf.cast(tf.equal(tf.cast(guess > 0.5, tf.float32), lang), tf.float32))
        return task, disc, hit

    return step


def train_adversarial(
    head: AdversarialHead,
    source: np.ndarray,
    labels: np.ndarray,
    target: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight: float,
    seed: int,
) -> dict[str, list[float]]:
    """Train on source features [n_s, dim] with labels [n_s] and unlabelled target features
    [n_t, dim]; each step pairs a source batch with a random target batch of the same size.
    Returns per-epoch means: task loss, discriminator loss and discriminator accuracy."""
    rng = np.random.default_rng(seed)
    optimizers = (keras.optimizers.Adam(learning_rate), keras.optimizers.Adam(learning_rate))
    step = _step(head, optimizers, float(weight))
    source = np.asarray(source, np.float32)
    target = np.asarray(target, np.float32)
    history: dict[str, list[float]] = {"loss": [], "disc_loss": [], "disc_accuracy": []}
    for _ in range(epochs):
        order = rng.permutation(len(source))
        sums = np.zeros(3)
        batches = range(0, len(order), batch_size)
        for start in batches:
            rows = order[start : start + batch_size]
            other = rng.integers(0, len(target), len(rows))
            out = step(source[rows], labels[rows].astype(np.int64), target[other])
            sums += [float(v) for v in out]
        for name, value in zip(history, sums / len(batches), strict=True):
            history[name].append(float(value))
    return history
