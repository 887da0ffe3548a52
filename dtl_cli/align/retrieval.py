"""Batched cosine nearest-neighbour retrieval (plain NN and CSLS).

Similarities are computed one batch of rows at a time into a reused buffer, so peak memory
is about batch_size x len(targets) float32 values; no full V x V matrix is built.
CSLS follows Conneau et al. (2018): 2 cos(x, y) - r_T(x) - r_S(y).

Top-k selection avoids partitioning whole rows: the columns of a row are split into
groups, the row's group maxima are taken (one vectorised pass), and only the k groups with
the largest maxima can hold the k largest values (any value in the top k is at most its
group's maximum, and k other groups with larger maxima would give k larger values). Only
those k groups are gathered and partitioned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METHODS = ("nn", "csls")
# Row batches are capped so that one similarity block stays near this many float32 values.
_BLOCK_VALUES = 1 << 23
_GROUP = 16


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


def _rows_per_block(batch_size: int, n_cols: int) -> int:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return max(1, min(batch_size, _BLOCK_VALUES // max(n_cols, 1)))


def _candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices [rows, c] per row that include the row's k largest scores."""
    rows, n = scores.shape
    n_groups = n // _GROUP
    if n_groups <= 4 * k:
        return np.broadcast_to(np.arange(n), (rows, n))
    # Group j holds columns j, j + n_groups, j + 2 n_groups, ...: the maxima are
    # _GROUP - 1 elementwise maxima over contiguous slices.
    group_max = scores[:, : n_groups * _GROUP].reshape(rows, _GROUP, n_groups).max(axis=1)
    # The k best groups, found the same way one level up (group_max is small and C-ordered).
    best_groups = _select(group_max, _candidates(group_max, k), k)
    cand = (best_groups[:, :, None] + n_groups * np.arange(_GROUP)).reshape(rows, -1)
    if n_groups * _GROUP < n:
        tail = np.arange(n_groups * _GROUP, n)
        cand = np.hstack([cand, np.broadcast_to(tail, (rows, len(tail)))])
    return cand


def _gather(scores: np.ndarray, cand: np.ndarray) -> np.ndarray:
    if scores.flags.c_contiguous and cand.flags.c_contiguous:
        flat = cand + (scores.shape[1] * np.arange(len(scores)))[:, None]
        return scores.ravel().take(flat)
    return np.take_along_axis(scores, cand, axis=1)


def _select(scores: np.ndarray, cand: np.ndarray, k: int) -> np.ndarray:
    """Columns [rows, k] (unordered) of the k largest scores among the candidate columns."""
    values = _gather(scores, cand)
    c = values.shape[1]
    if k >= c:
        return np.ascontiguousarray(cand)
    part = np.argpartition(values, c - k, axis=1)[:, c - k :]
    return np.take_along_axis(cand, part, axis=1)


def top_columns(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices int64 [rows, k] and values [rows, k] of each row's k largest scores,
    best first (k is clipped to the number of columns). ``scores`` is left unchanged."""
    rows, n = scores.shape
    k = min(k, n)
    if k == 0:
        return np.zeros((rows, 0), dtype=np.int64), np.zeros((rows, 0), dtype=scores.dtype)
    cols = _select(scores, _candidates(scores, k), k)
    values = _gather(scores, np.ascontiguousarray(cols))
    order = np.argsort(-values, axis=1, kind="stable")
    return (
        np.take_along_axis(cols, order, axis=1).astype(np.int64),
        np.take_along_axis(values, order, axis=1),
    )


def nearest_unit(
    A: np.ndarray, B: np.ndarray, k: int, batch_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit row of A [n_a, d]'s k nearest unit rows of B [n_b, d] by cosine, best first:
    indices int64 [n_a, k] and cosines float32 [n_a, k] (k clipped to n_b)."""
    k = min(k, len(B))
    idx = np.zeros((len(A), k), dtype=np.int64)
    vals = np.zeros((len(A), k), dtype=np.float32)
    if k == 0 or len(A) == 0:
        return idx, vals
    rows = _rows_per_block(batch_size, len(B))
    buf = np.empty((min(rows, len(A)), len(B)), dtype=np.float32)
    for start, stop in _batches(len(A), rows):
        block = buf[: stop - start]
        np.matmul(A[start:stop], B.T, out=block)
        idx[start:stop], vals[start:stop] = top_columns(block, k)
    return idx, vals


def _knn_mean_unit(A: np.ndarray, B: np.ndarray, k: int, batch_size: int) -> np.ndarray:
    if len(B) == 0:
        return np.zeros(len(A), dtype=np.float32)
    return nearest_unit(A, B, k, batch_size)[1].mean(axis=1)


def knn_mean_similarity(A: np.ndarray, B: np.ndarray, k: int, batch_size: int = 4096) -> np.ndarray:
    """Mean cosine of each row of A [n_a, d] to its k nearest rows of B [n_b, d].

    k is clipped to n_b. Returns float32 [n_a].
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return _knn_mean_unit(unit_rows(A), unit_rows(B), k, batch_size)


def topk_methods(
    queries: np.ndarray,
    targets: np.ndarray,
    k: int,
    methods: Sequence[str] = METHODS,
    csls_k: int = 10,
    batch_size: int = 4096,
    query_pool: np.ndarray | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``topk`` for several methods at once: {method: (indices, scores)}.

    Each query batch's similarities to all targets are computed once and serve NN, r_T
    and CSLS; r_S costs one pass of targets x pool products.
    """
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"unknown retrieval method {method!r}; expected one of {METHODS}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if csls_k < 1:
        raise ValueError(f"csls_k must be >= 1, got {csls_k}")
    Q = unit_rows(queries)
    T = unit_rows(targets)
    k = min(k, len(T))
    out = {
        m: (np.zeros((len(Q), k), dtype=np.int64), np.zeros((len(Q), k), dtype=np.float32))
        for m in methods
    }
    if len(Q) == 0 or k == 0:
        return out
    csls = "csls" in methods
    if csls:
        pool = Q if query_pool is None else unit_rows(query_pool)
        r_source = _knn_mean_unit(T, pool, csls_k, batch_size)  # [V]
        ck = min(csls_k, len(T))
    rows = _rows_per_block(batch_size, len(T))
    buf = np.empty((min(rows, len(Q)), len(T)), dtype=np.float32)
    for start, stop in _batches(len(Q), rows):
        sims = buf[: stop - start]
        np.matmul(Q[start:stop], T.T, out=sims)
        need = max(k, ck) if csls else k
        idx, vals = top_columns(sims, need)
        if "nn" in out:
            out["nn"][0][start:stop] = idx[:, :k]
            out["nn"][1][start:stop] = vals[:, :k]
        if csls:
            r_target = vals[:, :ck].mean(axis=1)
            sims *= 2
            sims -= r_source
            idx, vals = top_columns(sims, k)
            out["csls"][0][start:stop] = idx
            out["csls"][1][start:stop] = vals - r_target[:, None]
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
    return topk_methods(queries, targets, k, (method,), csls_k, batch_size, query_pool)[method]
