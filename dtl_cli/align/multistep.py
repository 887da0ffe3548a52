"""Whitening, orthogonal mapping, re-weighting and de-whitening (Artetxe et al., 2018,
"Generalizing and improving bilingual word embedding mappings with a multi-step framework").

Both languages are mapped into one shared space. With the steps off this is orthogonal
Procrustes; whitening makes each side's dictionary vectors have identity covariance before
the orthogonal step, re-weighting scales the shared dimensions by the singular values of the
cross-covariance (to a power), and de-whitening restores a side's original variances
(expressed in the shared dimensions).

Column convention, as in ``mappings``: f(x) = W x + b, W [d_t, d_s].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEWHITEN = (None, "src", "trg")
_EIG_FLOOR = 1e-6  # eigenvalues below this share of the largest are clipped (rank-deficient)


@dataclass(frozen=True)
class MultiStep:
    """Options of the framework; the defaults are plain orthogonal Procrustes."""

    whiten: bool = False
    src_reweight: float = 0.0  # power of the singular values scaling the source side
    trg_reweight: float = 0.0
    src_dewhiten: str | None = None  # None | "src" | "trg": whose variances to restore
    trg_dewhiten: str | None = None

    def __post_init__(self):
        for side in ("src_dewhiten", "trg_dewhiten"):
            if getattr(self, side) not in DEWHITEN:
                raise ValueError(f"{side} must be one of {DEWHITEN}, got {getattr(self, side)!r}")
        for side in ("src_reweight", "trg_reweight"):
            if getattr(self, side) < 0:
                raise ValueError(f"{side} must be >= 0, got {getattr(self, side)}")

    @property
    def is_orthogonal(self) -> bool:
        """True when the steps reduce to orthogonal Procrustes."""
        return not self.whiten and self.src_reweight == 0 and self.trg_reweight == 0


def _inverse_sqrt_and_sqrt(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C^(-1/2) and C^(1/2) of a symmetric positive semi-definite C [d, d]."""
    values, vectors = np.linalg.eigh(C)
    values = np.maximum(values, _EIG_FLOOR * max(values.max(), 1e-30))
    root = np.sqrt(values)
    return (vectors / root) @ vectors.T, (vectors * root) @ vectors.T


def fit_multistep(
    X: np.ndarray, Y: np.ndarray, steps: MultiStep = MultiStep()
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Fit the framework on dictionary rows X [n, d] (source) and Y [n, d] (target).

    Returns ``((W, b), (W_shared, b_shared))``: W [d, d], b [d] map source vectors to target
    coordinates (the source's shared image, taken back through the target side's map), and
    W_shared [d, d], b_shared [d] map target coordinates into the shared space, where
    retrieval compares the two languages. float32. Means are removed on the pairs, as in
    ``fit_procrustes``.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.shape != Y.shape or X.ndim != 2 or len(X) == 0:
        raise ValueError(f"need two non-empty [n, d] arrays of one shape, got {X.shape}, {Y.shape}")
    mean_x, mean_y = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - mean_x, Y - mean_y
    d = X.shape[1]
    if steps.whiten:
        white_x, unwhite_x = _inverse_sqrt_and_sqrt(Xc.T @ Xc)
        white_y, unwhite_y = _inverse_sqrt_and_sqrt(Yc.T @ Yc)
    else:
        white_x = unwhite_x = white_y = unwhite_y = np.eye(d)
    # Row form: shared = (x - mean) @ M. Orthogonal step on the whitened pairs.
    U, s, Vt = np.linalg.svd((Xc @ white_x).T @ (Yc @ white_y))
    V = Vt.T
    s = np.maximum(s, _EIG_FLOOR * max(s.max(), 1e-30))
    restore = {None: np.eye(d), "src": U.T @ unwhite_x @ U, "trg": V.T @ unwhite_y @ V}
    M_x = white_x @ U * s**steps.src_reweight @ restore[steps.src_dewhiten]
    M_y = white_y @ V * s**steps.trg_reweight @ restore[steps.trg_dewhiten]
    # f(x) = M_y^-1-image of the shared source vector, in column form.
    W = np.linalg.solve(M_y.T, M_x.T)  # (M_x M_y^-1)^T
    b = mean_y - W @ mean_x
    W_shared = M_y.T
    b_shared = -W_shared @ mean_y
    return (W.astype(np.float32), b.astype(np.float32)), (
        W_shared.astype(np.float32),
        b_shared.astype(np.float32),
    )
