"""Held-out splits carved from a labelled pool (plain arrays, no config)."""

from __future__ import annotations

import numpy as np


def dev_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(dev indices, the rest) of `labels` [n]: `fraction` of each label's examples (rounded,
    at least one while the label has two or more) go to dev. Both ascending, disjoint,
    together every index; deterministic for a seed. fraction 0 -> (empty, all)."""
    labels = np.asarray(labels)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction={fraction} must be in [0, 1)")
    if fraction == 0.0:
        return np.array([], dtype=np.int64), np.arange(len(labels), dtype=np.int64)
    rng = np.random.default_rng(seed)
    dev: list[np.ndarray] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_dev = int(round(fraction * len(members)))
        if len(members) >= 2:
            n_dev = min(max(n_dev, 1), len(members) - 1)
        dev.append(members[:n_dev])
    chosen = np.sort(np.concatenate(dev)).astype(np.int64)
    rest = np.setdiff1d(np.arange(len(labels), dtype=np.int64), chosen)
    return chosen, rest
