"""Fitting and applying classifiers on id arrays, fine-tuning strategies, k-shot samples.

Batches come from a tf.data pipeline that trims each batch to its longest document (padding
to the batch maximum, not to max_len) and prefetches; no per-example Python in the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from dtl_cli.errors import DtlError
from dtl_cli.models.classifier import set_trainable

# strategy -> the layer groups trained; "gradual" unfreezes these one phase at a time.
STRATEGIES = {
    "zero_shot": (),
    "full": ("head", "encoder", "embedding"),
    "frozen_embeddings": ("head", "encoder"),
    "head_only": ("head",),
    "gradual": ("head", "encoder", "embedding"),
}


class TrainingError(DtlError):
    """Training diverged (NaN loss) or cannot start (e.g. one class only)."""


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


LENGTH_STEP = 16  # batch lengths are rounded up to a multiple of this


def _trim_to_longest(ids: tf.Tensor, labels: tf.Tensor):
    """Cut a padded batch [b, max_len] to its longest document (padding id 0 at the end),
    rounded up to a multiple of LENGTH_STEP: few distinct shapes, so few retraces."""
    longest = tf.reduce_max(tf.reduce_sum(tf.cast(ids != 0, tf.int32), axis=1))
    length = tf.maximum((longest + LENGTH_STEP - 1) // LENGTH_STEP * LENGTH_STEP, 1)
    return ids[:, :length], labels


class _StopOnNaN(keras.callbacks.Callback):
    """Stop at the end of an epoch whose loss is NaN/inf. Checked per epoch, not per batch as
    keras.callbacks.TerminateOnNaN does: reading the loss every batch stalls the pipeline."""

    def on_epoch_end(self, epoch, logs=None):
        if logs and not np.isfinite(logs.get("loss", 0.0)):
            self.model.stop_training = True


# Training sets of at least this many batches train on a repeated stream of full batches.
FULL_BATCHES_FROM = 8


def make_dataset(
    ids: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    full_batches: bool = False,
) -> tf.data.Dataset:
    """Batches of (ids [b, <=max_len] int32, labels [b] int64), shuffled with `seed`.

    Shuffles row numbers and gathers whole batches, so the per-element work is one integer.
    Batches are trimmed to their longest document when most documents are much shorter than
    max_len; when they are not, trimming would only cost (dynamic shapes), so it is skipped.
    With `full_batches` the stream repeats without end (a fresh order each pass) and every
    batch holds exactly batch_size rows: the static batch dimension makes recurrent layers
    about 25% faster on CPU (scripts/bench_train.py); the caller sets steps_per_epoch.
    """
    ids_t = tf.constant(ids, dtype=tf.int32)
    labels_t = tf.constant(labels, dtype=tf.int64)
    rows = tf.data.Dataset.range(len(labels))
    if shuffle:
        rows = rows.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if full_batches:
        rows = rows.repeat()
    lengths = (ids != 0).sum(axis=1)
    trim = len(lengths) > 0 and np.percentile(lengths, 90) <= ids.shape[1] / 2

    def gather(r):
        batch = (tf.gather(ids_t, r), tf.gather(labels_t, r))
        return _trim_to_longest(*batch) if trim else batch

    batches = rows.batch(batch_size, drop_remainder=full_batches)
    return batches.map(gather).prefetch(tf.data.AUTOTUNE)


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> dict[int, float]:
    """n / (n_classes * count) per class present, so rare classes weigh more."""
    counts = np.bincount(labels, minlength=n_classes)
    return {c: len(labels) / (n_classes * counts[c]) for c in range(n_classes) if counts[c]}


OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}


def _compile(model: keras.Model, optimizer: str, learning_rate: float) -> None:
    if optimizer not in OPTIMIZERS:
        raise TrainingError(f"model.optimizer={optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    model.compile(
        optimizer=OPTIMIZERS[optimizer](learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def _split_validation(ids, labels, fraction: float, n_classes: int, batch_size: int):
    """(train ids, train labels, validation dataset or None): the last `fraction` of the
    (shuffled) examples validate, if that is at least two per class and leaves one per class."""
    n_val = int(round(len(labels) * fraction))
    if n_val < 2 * n_classes or len(labels) - n_val < n_classes:
        return ids, labels, None
    validation = make_dataset(ids[-n_val:], labels[-n_val:], batch_size, shuffle=False)
    return ids[:-n_val], labels[:-n_val], validation


def _callbacks(extra, early_stop: bool, patience: int, tensorboard_dir, on_epoch) -> list:
    """NaN stop, the caller's callbacks, early stopping (best weights restored), TensorBoard
    and the per-epoch hook."""
    callbacks = [_StopOnNaN(), *(extra or [])]
    if early_stop:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
        )
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(tensorboard_dir), write_graph=False))
    if on_epoch is not None:
        callbacks.append(
            keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: on_epoch(e, logs or {}))
        )
    return callbacks


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
    optimizer: str = "adam",
    class_weight: str = "none",
    tensorboard_dir: Path | None = None,
    on_epoch: Callable[[int, dict], None] | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> dict[str, list[float]]:
    """Train on ids [n, max_len] / labels [n] (int class ids); return the per-epoch history.

    Examples are shuffled with `seed` before the validation split is cut. Early stopping on
    validation loss (best weights restored) is used only when the split holds at least two
    examples per class; otherwise all examples train for `epochs`. Raises TrainingError on a
    single-class training set or a NaN loss.
    """
    n_classes = model.output_shape[-1]
    if len(np.unique(labels)) < 2:
        raise TrainingError(
            f"the {len(labels)} training examples all have one label; a classifier needs at "
            f"least two (for k-shot runs use evaluation.k >= {n_classes})"
        )
    order = np.random.default_rng(seed).permutation(len(labels))
    ids, labels, validation = _split_validation(
        ids[order], labels[order], validation_split, n_classes, batch_size
    )
    callbacks = _callbacks(callbacks, validation is not None, patience, tensorboard_dir, on_epoch)
    _compile(model, optimizer, learning_rate)
    weights = balanced_class_weights(labels, n_classes) if class_weight == "balanced" else None
    # Large sets: an epoch is ceil(n / b) full batches from a repeated stream, so its last
    # batch is topped up from the next pass. Small (k-shot) sets keep a partial last batch,
    # where topping up would change how often each example is seen.
    full_batches = len(labels) >= FULL_BATCHES_FROM * batch_size
    history = model.fit(
        make_dataset(ids, labels, batch_size, shuffle=True, seed=seed, full_batches=full_batches),
        steps_per_epoch=-(-len(labels) // batch_size) if full_batches else None,
        validation_data=validation,
        epochs=epochs,
        shuffle=False,  # the dataset shuffles itself, with the seed
        verbose=0,
        callbacks=callbacks,
        class_weight=weights,
    )
    record = {name: [float(v) for v in values] for name, values in history.history.items()}
    losses = record.get("loss", [])
    if losses and not np.isfinite(losses[-1]):
        raise TrainingError(
            f"training loss became NaN at epoch {len(losses)}; lower the learning rate "
            f"(now {learning_rate}) or check the input vectors for NaN/inf"
        )
    return record


def finetune(
    model: keras.Model,
    ids: np.ndarray,
    labels: np.ndarray,
    *,
    strategy: str,
    epochs: int,
    **fit_args,
) -> dict[str, list[float]]:
    """Fine-tune with a named strategy (see STRATEGIES); "gradual" trains the head alone, then
    adds the encoder, then the embeddings, splitting `epochs` over the phases (ULMFiT-style)."""
    if strategy not in STRATEGIES:
        raise TrainingError(
            f"model.finetune.strategy={strategy!r}: choose one of {', '.join(STRATEGIES)}"
        )
    groups = STRATEGIES[strategy]
    if not groups or not len(labels):
        return {}
    if strategy != "gradual":
        set_trainable(model, set(groups))
        return fit_classifier(model, ids, labels, epochs=epochs, **fit_args)
    history: dict[str, list[float]] = {}
    per_phase = max(1, epochs // len(groups))
    for phase in range(len(groups)):
        set_trainable(model, set(groups[: phase + 1]))
        for name, values in fit_classifier(
            model, ids, labels, epochs=per_phase, **fit_args
        ).items():
            history.setdefault(name, []).extend(values)
    return history


def predict_probabilities(model: keras.Model, ids: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities [n, n_classes] (float64) for token ids [n, max_len].

    Calls the model on plain batches: for a few thousand rows this is quicker than
    `model.predict`, which builds a tf.data pipeline each time.
    """
    batches = [
        np.asarray(model(ids[start : start + batch_size], training=False), dtype=np.float64)
        for start in range(0, len(ids), batch_size)
    ]
    if not batches:
        return np.zeros((0, model.output_shape[-1]))
    return np.concatenate(batches)


def predict_classes(model: keras.Model, ids: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Predicted class ids [n] for token ids [n, max_len]."""
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    return predict_probabilities(model, ids, batch_size).argmax(axis=-1)
