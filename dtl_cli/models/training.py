"""Fitting and applying classifiers on id arrays, and drawing k-shot training samples."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np


def stratified_sample(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of k examples drawn without replacement, spread over labels as evenly as the
    label counts allow (every label gets floor or ceil of k / n_labels while it has examples).

    Deterministic for a given seed; returned in ascending order. Raises ValueError if k exceeds
    the number of examples.
    """
    labels = np.asarray(labels)
    if k > len(labels):
        raise ValueError(f"k={k} exceeds the {len(labels)} examples available")
    rng = np.random.default_rng(seed)
    pools = {c: rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)}
    taken: list[int] = []
    depth = 0
    while len(taken) < k:
        # One example per label per round, labels in a seeded random order each round.
        for c in rng.permutation(list(pools)):
            if len(taken) == k:
                break
            if depth < len(pools[c]):
                taken.append(int(pools[c][depth]))
        depth += 1
    return np.sort(np.array(taken, dtype=np.int64))


def fit_classifier(
    model: keras.Model,
    ids: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    validation_split: float,
    patience: int,
    seed: int,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> dict[str, list[float]]:
    """Train with Adam on ids [n, max_len] / labels [n] (int class ids); return the history.

    Examples are shuffled with `seed` before the validation split is cut. Early stopping on
    validation loss (best weights restored) is used only when the split holds at least two
    examples per class; otherwise all examples train for `epochs`.
    """
    n_classes = model.output_shape[-1]
    order = np.random.default_rng(seed).permutation(len(labels))
    ids, labels = ids[order], labels[order]
    n_val = int(round(len(labels) * validation_split))
    callbacks: list[keras.callbacks.Callback] = []
    fit_args: dict = {}
    if n_val >= 2 * n_classes:
        fit_args["validation_data"] = (ids[-n_val:], labels[-n_val:])
        ids, labels = ids[:-n_val], labels[:-n_val]
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
        )
    if on_epoch is not None:
        callbacks.append(
            keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: on_epoch(e, logs or {}))
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        ids,
        labels,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
        **fit_args,
    )
    return {name: [float(v) for v in values] for name, values in history.history.items()}


def predict_classes(model: keras.Model, ids: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Predicted class ids [n] for token ids [n, max_len].

    Calls the model on plain batches: for a few thousand rows this is quicker than
    `model.predict`, which builds a tf.data pipeline each time.
    """
    batches = [
        np.asarray(model(ids[start : start + batch_size], training=False))
        for start in range(0, len(ids), batch_size)
    ]
    return np.concatenate(batches).argmax(axis=-1) if batches else np.zeros(0, dtype=np.int64)
