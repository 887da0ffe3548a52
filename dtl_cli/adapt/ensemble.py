"""Weighting two classifiers' probabilities on the k labelled examples.

p = w * p_transfer + (1 - w) * p_target, with w chosen on the k examples: the transferred
model's probabilities there are honest (it never saw those labels), the target-only model's
must come from cross-validation (out-of-fold), or it would look perfect on its own training
examples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)
SCORES = ("accuracy", "log_likelihood")


def mix(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """weight * first + (1 - weight) * second, both [n, c] probabilities."""
    return weight * np.asarray(first) + (1.0 - weight) * np.asarray(second)


def choose_weight(
    first: np.ndarray,
    second: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray = WEIGHTS,
    score: str = "accuracy",
) -> float:
    """The weight on `first` [n, c] (against `second` [n, c]) with the best `score` on
    `labels` [n]: "accuracy" (ties go to the mean log-likelihood, then the larger weight) or
    "log_likelihood" (mean log-probability of the true class; ties go to the larger weight)."""
    if score not in SCORES:
        raise ValueError(f"score={score!r}: choose one of {', '.join(SCORES)}")
    labels = np.asarray(labels)
    best, best_score = 1.0, None
    for weight in weights:
        p = mix(first, second, weight)
        accuracy = float((p.argmax(axis=1) == labels).mean())
        likelihood = float(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-9, 1)).mean())
        ranked = (accuracy, likelihood, weight) if score == "accuracy" else (likelihood, weight)
        if best_score is None or ranked >= best_score:
            best, best_score = float(weight), ranked
    return best


def out_of_fold(
    n: int,
    labels: np.ndarray,
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    folds: int,
    seed: int,
    n_classes: int,
) -> np.ndarray:
    """Probabilities [n, c] for each of the n labelled examples from a model trained on the
    other folds: `fit_predict(train_rows, held_rows)` trains on `train_rows` and returns
    probabilities [len(held_rows), c]. Folds are stratified by label; a fold whose training
    part holds a single label gets uniform probabilities (nothing to learn from)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(n, dtype=np.int64)
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        fold_of[rows] = np.arange(len(rows)) % folds
    out = np.full((n, n_classes), 1.0 / n_classes)
    for f in range(folds):
        held, train = np.flatnonzero(fold_of == f), np.flatnonzero(fold_of != f)
        if len(held) and len(np.unique(labels[train])) > 1:
            out[held] = fit_predict(train, held)
    return out
