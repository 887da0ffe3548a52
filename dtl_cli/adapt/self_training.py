"""Self-training on unlabelled target documents: label them with the current model, keep the
most confident per class, train a new model on those (and any true labels), repeat.

The model is the caller's: `fit_predict(rows, labels)` trains on unlabelled rows `rows` with
pseudo-labels `labels` and returns its class probabilities [n, c] on every unlabelled row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dtl_cli.adapt.label_shift import estimate_priors


def select_confident(
    probs: np.ndarray, fraction: float, priors: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, pseudo-labels) of the most confident rows of `probs` [n, c] per class.

    Class c gets round(fraction * n * priors[c]) rows (priors default to the predicted class
    shares), taken among the rows predicted c by decreasing probability of c: the kept set
    follows the target's class balance, not the teacher's bias. Indices ascend.
    """
    probs = np.asarray(probs, dtype=np.float64)
    n, n_classes = probs.shape
    predicted = probs.argmax(axis=1)
    if priors is None:
        priors = np.bincount(predicted, minlength=n_classes) / max(n, 1)
    rows, labels = [], []
    for c in range(n_classes):
        candidates = np.flatnonzero(predicted == c)
        want = min(len(candidates), int(round(fraction * n * priors[c])))
        # stable sort: ties keep row order, so the selection is deterministic
        best = candidates[np.argsort(-probs[candidates, c], kind="stable")[:want]]
        rows.append(best)
        labels.append(np.full(len(best), c, dtype=np.int64))
    rows_all, labels_all = np.concatenate(rows), np.concatenate(labels)
    order = np.argsort(rows_all, kind="stable")
    return rows_all[order], labels_all[order]


def self_train(
    teacher_probs: np.ndarray,
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    rounds: int,
    fraction: float,
    priors: np.ndarray | None = None,
    update_priors: bool = False,
    tolerance: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None, list[dict]]:
    """Run `rounds` of self-training from the teacher's probabilities [n, c] on the
    unlabelled rows. With `update_priors`, each round's model re-estimates the class priors
    by EM (label_shift.estimate_priors) from its own outputs, starting from the priors it was
    trained under: a model trained on the target domain is better placed to see its balance.

    Returns the last model's probabilities [n, c], the priors in use at the end, and per
    round how many rows were kept, how many changed label since the round before, and the
    priors the round selected by. Stops early (a record with "stopped") when a class would
    get no pseudo-label at all."""
    probs = np.asarray(teacher_probs)
    log: list[dict] = []
    previous = probs.argmax(axis=1)
    for _ in range(rounds):
        rows, labels = select_confident(probs, fraction, priors)
        used = np.bincount(labels, minlength=probs.shape[1]) / max(len(labels), 1)
        if not used.all():
            # A class nobody is confident about: a student could not learn it. Stop here.
            log.append({"kept": int(len(rows)), "stopped": "a class got no pseudo-label"})
            break
        if tolerance > 0 and log and np.abs(used - log[-1]["priors"]).max() <= tolerance:
            log.append({"kept": int(len(rows)), "stopped": "the class priors settled"})
            break
        probs = np.asarray(fit_predict(rows, labels))
        current = probs.argmax(axis=1)
        log.append(
            {
                "kept": int(len(rows)),
                "changed": int((current != previous).sum()),
                "priors": used.round(4).tolist(),
            }
        )
        previous = current
        if update_priors:
            priors = estimate_priors(probs, used)
    return probs, priors, log
