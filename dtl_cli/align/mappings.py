"""Affine maps f(x) = W x + b from source to target embedding space.

Row convention: X [n, d_s] maps to X @ W.T + b with W [d_t, d_s] and b [d_t].
"""

from __future__ import annotations

import numpy as np


def _check_pairs(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(f"X and Y must be 2-D, got shapes {X.shape} and {Y.shape}")
    if len(X) != len(Y):
        raise ValueError(f"X and Y need the same number of rows, got {len(X)} and {len(Y)}")
    if len(X) == 0:
        raise ValueError("cannot fit a map on zero dictionary pairs")
    return X, Y


def fit_linear(
    X: np.ndarray,
    Y: np.ndarray,
    ridge: float = 0.0,
    relative: bool = False,
    toward: str = "zero",
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine map with bias from X [n, d_s] to Y [n, d_t].

    ``ridge`` >= 0 adds ridge * ||W - W0||_F^2 to the loss (the bias is not penalised),
    where W0 is 0 (``toward="zero"``, plain ridge) or the orthogonal map of the same pairs
    (``toward="orthogonal"``: U V^T of the centred cross-covariance's SVD, semi-orthogonal
    when d_s != d_t), so a large ridge gives Procrustes instead of a map shrunk to 0. With
    ``relative`` the penalty is ridge times the mean eigenvalue of the centred Gram matrix
    Xc^T Xc (its trace / d_s), so one value shrinks alike whatever the number of pairs, the
    dimension or the norms: ridge = 1 adds the average variance to every direction.
    Returns W [d_t, d_s] and b [d_t], float32.
    """
    X, Y = _check_pairs(X, Y)
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    if toward not in SHRINK_TARGETS:
        raise ValueError(f"toward must be one of {SHRINK_TARGETS}, got {toward!r}")
    n, d_s = X.shape
    if relative:
        ridge = ridge * float(((X - X.mean(axis=0)) ** 2).sum()) / d_s
    Xa = np.hstack([X, np.ones((n, 1))])  # [n, d_s + 1]
    if ridge > 0:
        # Ridge as extra rows: sqrt(ridge) * I on the W columns, 0 on the bias column.
        # Their targets are sqrt(ridge) * W0^T, so the rows pull W toward W0.
        penalty = np.hstack([np.sqrt(ridge) * np.eye(d_s), np.zeros((d_s, 1))])
        prior = _orthogonal_factor(X, Y) if toward == "orthogonal" else None
        pulled = np.zeros((d_s, Y.shape[1])) if prior is None else np.sqrt(ridge) * prior.T
        Xa = np.vstack([Xa, penalty])
        Y = np.vstack([Y, pulled])
    coef, *_ = np.linalg.lstsq(Xa, Y, rcond=None)  # [d_s + 1, d_t]
    W = coef[:d_s].T
    b = coef[d_s]
    return W.astype(np.float32), b.astype(np.float32)


# What fit_linear's ridge pulls W toward.
SHRINK_TARGETS = ("zero", "orthogonal")


def _orthogonal_factor(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """U V^T [d_t, d_s] from the thin SVD of the centred cross-covariance Yc^T Xc."""
    cross = (Y - Y.mean(axis=0)).T @ (X - X.mean(axis=0))
    U, _, Vt = np.linalg.svd(cross, full_matrices=False)
    return U @ Vt


def fit_procrustes(
    X: np.ndarray, Y: np.ndarray, pairs: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Orthogonal map plus bias from X [n, d] to Y [n, d], fitted on centred pairs.

    W = U V^T from the SVD of Yc.T @ Xc; b = mean(Y) - W mean(X). With ``pairs``
    int [m, 2], the fit is on rows X[pairs[:, 0]] and Y[pairs[:, 1]] instead, gathered a
    chunk at a time (no [m, d] copies). Returns W [d, d] and b [d], float32. Raises
    ValueError if d_s != d_t.
    """
    if pairs is None:
        X, Y = _check_pairs(X, Y)
        n = len(X)
    else:
        X, Y = np.asarray(X), np.asarray(Y)
        pairs = _check_row_pairs(pairs, len(X), len(Y))
        n = len(pairs)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"Procrustes needs equal dimensions, got source {X.shape[1]} and target {Y.shape[1]}"
        )
    # Sums over chunks of rows taken relative to a pivot (the first row of each side), so
    # that large means do not cancel: with x' = x - pivot_x, y' = y - pivot_y,
    # Yc.T @ Xc = sum y' x'^T - n mean(y') mean(x')^T. Each chunk is multiplied in the
    # inputs' precision (float32 for float32 vectors, as VecMap does; twice the speed of
    # float64) and the chunks are summed in float64.
    d = X.shape[1]
    dtype = np.result_type(X.dtype, Y.dtype, np.float32)
    cross, sum_x, sum_y = np.zeros((d, d)), np.zeros(d), np.zeros(d)
    x_buf, y_buf = np.empty((min(n, _CHUNK), d), dtype), np.empty((min(n, _CHUNK), d), dtype)
    ones = np.ones(min(n, _CHUNK), dtype)  # column sums as products: faster than .sum()
    pivot_x = pivot_y = None
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        x, y = x_buf[:m], y_buf[:m]
        if pairs is None:
            x[...], y[...] = X[start : start + m], Y[start : start + m]
        else:
            _gather_rows(X, pairs[start : start + m, 0], x)
            _gather_rows(Y, pairs[start : start + m, 1], y)
        if pivot_x is None:
            pivot_x, pivot_y = x[0].copy(), y[0].copy()
        x -= pivot_x
        y -= pivot_y
        cross += y.T @ x
        sum_x += ones[:m] @ x
        sum_y += ones[:m] @ y
    mean_x, mean_y = sum_x / n, sum_y / n  # of the pivoted rows
    U, _, Vt = np.linalg.svd(cross - n * np.outer(mean_y, mean_x))
    W = U @ Vt
    b = (mean_y + pivot_y) - W @ (mean_x + pivot_x)  # float64: the pivots are upcast
    return W.astype(np.float32), b.astype(np.float32)


def _gather_rows(X: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """out[:] = X[rows], without a temporary when the dtypes agree."""
    if X.dtype == out.dtype:
        np.take(X, rows, axis=0, out=out)
    else:
        out[...] = X[rows]


def _check_row_pairs(pairs, n_x: int, n_y: int) -> np.ndarray:
    """pairs as int64 [m, 2] of (X row, Y row), m >= 1, every index in range."""
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"pairs must be integer row pairs [m, 2], got {pairs.dtype} {pairs.shape}")
    if len(pairs) == 0:
        raise ValueError("cannot fit a map on zero dictionary pairs")
    for side, size in ((0, n_x), (1, n_y)):
        if pairs[:, side].min() < 0 or pairs[:, side].max() >= size:
            raise ValueError(f"pairs[:, {side}] must be row indices in [0, {size})")
    return pairs.astype(np.int64)


# Pairs per chunk in fit_procrustes, gathered into two buffers reused for every chunk
# ([4096, 300] float32 is 5 MB): large fresh arrays cost a page fault per 4 KiB on first
# touch, which on some machines takes longer than the product itself.
_CHUNK = 4096


def apply_map(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Map rows X [n, d_s] to target space: X @ W.T + b, float32 [n, d_t]."""
    X = np.asarray(X, dtype=np.float32)
    return (X @ np.asarray(W, dtype=np.float32).T + np.asarray(b, dtype=np.float32)).astype(
        np.float32
    )


def invert_map(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of y = W x + b, so that x ≈ W_inv y + b_inv.

    Orthogonal W [d, d] gives W_inv = W.T exactly; otherwise the least-squares
    inverse pinv(W) [d_s, d_t]. b_inv = -W_inv @ b [d_s]. Returns float32.
    """
    W64 = np.asarray(W, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    d_t, d_s = W64.shape
    if d_t == d_s and np.allclose(W64.T @ W64, np.eye(d_s), atol=1e-4):
        W_inv = W64.T
    else:
        W_inv = np.linalg.pinv(W64)
    b_inv = -W_inv @ b64
    return W_inv.astype(np.float32), b_inv.astype(np.float32)


def identity_map(d: int) -> tuple[np.ndarray, np.ndarray]:
    """No-alignment baseline: W = I [d, d], b = 0 [d], float32."""
    return np.eye(d, dtype=np.float32), np.zeros(d, dtype=np.float32)
