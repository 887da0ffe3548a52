"""Embedding normalisation steps applied before fitting a cross-lingual map."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STEPS = ("unit", "center", "none")


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Return X [n, d] as float32 with rows scaled to L2 length 1 (zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (X / norms).astype(np.float32)


def normalize(X: np.ndarray, steps: Sequence[str]) -> np.ndarray:
    """Apply ``steps`` in order to the rows of ``X`` [n, d]; return a new float32 [n, d] array.

    Steps: ``"unit"`` scales each row to L2 length 1 (zero rows stay zero),
    ``"center"`` subtracts the column mean, ``"none"`` does nothing.
    Raises ValueError on an unknown step.
    """
    for step in steps:
        if step not in STEPS:
            raise ValueError(f"unknown normalisation step {step!r}; expected one of {STEPS}")
    out = np.array(X, dtype=np.float32, copy=True)
    for step in steps:
        if step == "unit":
            out = unit_rows(out)
        elif step == "center":
            out -= out.mean(axis=0, keepdims=True)
    return out
