"""Adapting a transferred classifier to the target with unlabelled target documents only:
label-shift EM for the target's class priors, then rounds of self-training.

The caller supplies the models: `make_student()` builds a fresh classifier to learn from the
pseudo-labels (dtl uses another copy of the transferred one) and `fit(model, ids, labels)`
trains it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from dtl_cli.adapt.label_shift import adjust_priors, estimate_priors
from dtl_cli.adapt.self_training import self_train
from dtl_cli.models.classifier import shift_priors
from dtl_cli.models.training import predict_probabilities

LABEL_SHIFT = ("em", "none")


@dataclass(frozen=True)
class LabelFreeOptions:
    """label_shift: "em" estimates the target priors (and re-estimates them after each
    round), "none" keeps the model's; rounds: at most this many self-training rounds (0 =
    none); fraction: share of the unlabelled documents kept as pseudo-labelled per round;
    tolerance: stop once the pseudo-labels' class shares move no more than this between
    rounds (0 = run every round)."""

    label_shift: str = "em"
    rounds: int = 2
    fraction: float = 0.3
    tolerance: float = 0.0


def adapt_to_target(
    model: keras.Model,
    ids: np.ndarray,
    priors: np.ndarray,
    options: LabelFreeOptions,
    *,
    make_student: Callable[[], keras.Model],
    fit: Callable[[keras.Model, np.ndarray, np.ndarray], None],
) -> tuple[keras.Model, dict]:
    """The adapted classifier and a record of what was done.

    `model` is the transferred classifier, trained under class `priors` [c]; `ids` [n, len]
    are unlabelled target documents. With EM the returned model's output layer is shifted to
    the estimated target priors (classifier.shift_priors). Without self-training rounds the
    returned model is `model` itself (shifted in place); otherwise the last student.
    """
    if options.label_shift not in LABEL_SHIFT:
        raise ValueError(f"label_shift={options.label_shift!r}: choose one of {LABEL_SHIFT}")
    em = options.label_shift == "em"
    priors = np.asarray(priors, dtype=np.float64)
    probs = predict_probabilities(model, ids)
    target = estimate_priors(probs, priors) if em else priors
    record: dict = {"label_shift": options.label_shift, "teacher_priors": target.tolist()}
    if options.rounds == 0 or not len(ids):
        if em:
            shift_priors(model, priors, target)
        return model, record
    students: list[keras.Model] = []

    def fit_predict(rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
        student = make_student()
        fit(student, ids[rows], labels)
        students[:] = [student]
        return predict_probabilities(student, ids)

    _, final, rounds = self_train(
        adjust_priors(probs, priors, target) if em else probs,
        fit_predict,
        rounds=options.rounds,
        fraction=options.fraction,
        priors=target if em else None,
        update_priors=em,
        tolerance=options.tolerance,
    )
    record["rounds"] = rounds
    trained = [r for r in rounds if "priors" in r]
    if not trained:  # stopped before any student: the teacher, shifted
        if em:
            shift_priors(model, priors, target)
        return model, record
    if em:
        shift_priors(students[0], np.array(trained[-1]["priors"]), final)
        record["final_priors"] = final.tolist()
    return students[0], record
