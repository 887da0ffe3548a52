"""Batched cosine nearest-neighbour retrieval (plain NN and CSLS).

Similarities are computed one batch of query rows at a time, so peak memory is
about batch_size x len(targets) float32 values; no full V x V matrix is built.
CSLS follows Conneau et al. (2018): 2 cos(x, y) - r_T(x) - r_S(y).
"""

from __future__ import annotations

import numpy as np

METHODS = ("nn", "csls")


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Return X [n, d] as float32 with rows scaled to L2 length 1 (zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (X / norms).astype(np.float32)


def _batches(n: int, batch_size: int):
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for start in range(0, n, batch_size):
        yield start, min(start + batch_size, n)


def _top_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices [rows, k] of the k largest scores per row, best first."""
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def knn_mean_similarity(A: np.ndarray, B: np.ndarray, k: int, batch_size: int = 4096) -> np.ndarray:
    """Mean cosine of each row of A [n_a, d] to its k nearest rows of B [n_b, d].

    k is clipped to n_b. Returns float32 [n_a].
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    A = unit_rows(A)
    B = unit_rows(B)
    out = np.zeros(len(A), dtype=np.float32)
    if len(B) == 0:
        return out
    k = min(k, len(B))
    for start, stop in _batches(len(A), batch_size):
        sims = A[start:stop] @ B.T
        if k < len(B):
            sims = np.partition(sims, len(B) - k, axis=1)[:, len(B) - k :]
        out[start:stop] = sims.mean(axis=1)
    return out


def topk(
    queries: np.ndarray,
    targets: np.ndarray,
    k: int,
    method: str = "nn",
    csls_k: int = 10,
    batch_size: int = 4096,
    query_pool: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best target rows for each query row, best first.

    queries [q, d] and targets [V, d] are compared by cosine. method "nn" scores by
    cosine; "csls" by 2 cos(x, y) - r_T(x) - r_S(y), where r_T(x) is the mean cosine of
    x's csls_k nearest targets and r_S(y) the mean cosine of y's csls_k nearest rows of
    ``query_pool`` [p, d] (the whole mapped source vocabulary; defaults to ``queries``).
    k is clipped to V. Returns indices int64 [q, k] and scores float32 [q, k].
    """
    if method not in METHODS:
        raise ValueError(f"unknown retrieval method {method!r}; expected one of {METHODS}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    Q = unit_rows(queries)
    T = unit_rows(targets)
    k = min(k, len(T))
    indices = np.zeros((len(Q), k), dtype=np.int64)
    scores = np.zeros((len(Q), k), dtype=np.float32)
    if len(Q) == 0 or k == 0:
        return indices, scores
    if method == "csls":
        pool = Q if query_pool is None else unit_rows(query_pool)
        r_target = knn_mean_similarity(Q, T, csls_k, batch_size)  # [q]
        r_source = knn_mean_similarity(T, pool, csls_k, batch_size)  # [V]
    for start, stop in _batches(len(Q), batch_size):
        sims = Q[start:stop] @ T.T
        if method == "csls":
            sims = 2 * sims - r_target[start:stop, None] - r_source[None, :]
        best = _top_columns(sims, k)
        indices[start:stop] = best
        scores[start:stop] = np.take_along_axis(sims, best, axis=1)
    return indices, scores
