"""Label-shift correction (Saerens, Latinne & Decaestecker, Neural Computation 2002).

A classifier trained where the classes have priors p_s(y) outputs p_s(y|x). If only the priors
change in the new domain, p_t(y|x) is proportional to p_s(y|x) * p_t(y) / p_s(y), and p_t(y)
is the fixed point of EM over unlabelled documents of the new domain. EM needs calibrated
outputs: an under-confident classifier (a few examples, early stopping) drives the fixed point
toward one class, so `fit_temperature` calibrates on held-out labelled outputs first
(Alexandari, Kundaje & Shrikumar, ICML 2020, with a temperature only).
"""

from __future__ import annotations

import numpy as np


def adjust_priors(probs: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Re-weight class probabilities [n, c] trained under priors `old` [c] to priors `new` [c];
    rows sum to one again."""
    ratio = np.asarray(new, dtype=np.float64) / np.asarray(old, dtype=np.float64)
    weighted = np.asarray(probs, dtype=np.float64) * ratio
    return weighted / weighted.sum(axis=1, keepdims=True)


def _floored(priors: np.ndarray, floor: float) -> np.ndarray:
    """Priors summing to one with every class at least `floor` (the rest scaled down)."""
    low = priors < floor
    if not low.any():
        return priors / priors.sum()
    rest = priors[~low] / priors[~low].sum() * (1.0 - floor * low.sum())
    out = np.full_like(priors, floor)
    out[~low] = rest
    return out


def estimate_priors(
    probs: np.ndarray,
    old: np.ndarray,
    *,
    max_iterations: int = 200,
    tolerance: float = 1e-8,
    floor: float = 1e-3,
) -> np.ndarray:
    """EM estimate of the new domain's class priors [c] from probabilities [n, c] that a model
    trained under priors `old` [c] gives on unlabelled documents of the new domain.

    E step: adjust every row to the current priors; M step: the priors are the mean adjusted
    row. Priors are kept above `floor`, so a class is never ruled out entirely.
    """
    probs = np.asarray(probs, dtype=np.float64)
    old = np.asarray(old, dtype=np.float64) / np.sum(old)
    if not len(probs):
        return old
    priors = old.copy()
    for _ in range(max_iterations):
        updated = _floored(adjust_priors(probs, old, priors).mean(axis=0), floor)
        done = np.abs(updated - priors).max() < tolerance
        priors = updated
        if done:
            break
    return priors


def with_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities [n, c] with their log-odds divided by `temperature` (> 1 softer)."""
    logits = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, labels: np.ndarray, bounds=(0.05, 20.0)) -> float:
    """The temperature in `bounds` that maximises the mean log-likelihood under
    `with_temperature(probs [n, c], T)` of `labels` [n] smoothed as Platt (1999) smooths a
    sigmoid's targets: the true class of an example of a class with m examples gets
    (m + 1) / (m + 2), the others share the rest, so a handful of examples all classified
    right does not drive T to 0. Probabilities must come from models that did not train on
    those examples (out of fold)."""
    from scipy.optimize import minimize_scalar

    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    n_classes = probs.shape[1]
    counts = np.bincount(labels, minlength=n_classes)[labels]
    true_share = (counts + 1) / (counts + 2)
    targets = np.repeat(((1 - true_share) / max(n_classes - 1, 1))[:, None], n_classes, axis=1)
    targets[np.arange(len(labels)), labels] = true_share

    def loss(log_t: float) -> float:
        calibrated = np.clip(with_temperature(probs, np.exp(log_t)), 1e-12, 1.0)
        return -float((targets * np.log(calibrated)).sum(axis=1).mean())

    fit = minimize_scalar(loss, bounds=np.log(bounds), method="bounded")
    return float(np.exp(fit.x))
