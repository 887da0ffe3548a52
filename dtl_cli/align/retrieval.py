"""Batched cosine nearest-neighbour retrieval (plain NN and CSLS).

Similarities are computed one tile (a block of rows by a block of columns, about 8M float32
values, 32 MB) at a time into a buffer each worker reuses; no full V x V matrix is
built. Each tile's top k is merged into the running top k of its rows. Tiles, rather than
whole rows, keep the products efficient at 200k words: a row block of whole 200k-wide rows
would hold only 41 rows, and the BLAS would re-read all of B for every 41 rows.
CSLS follows Conneau et al. (2018): 2 cos(x, y) - r_T(x) - r_S(y).

Each tile is merged into its rows' running top k by ``selection.update_top`` (group
maxima bound what can enter, so most of a tile is read once and never sorted).

Row blocks are spread over worker threads, one per core up to 4 (so at most 4 tile
buffers); the cores are shared out between the workers' BLAS threads, so on 2 cores each
worker multiplies with one thread. The selection (compiled, one thread, GIL released) then
runs beside another block's product instead of leaving a core idle. Rows are independent,
so the answer does not depend on scheduling. Scores must be finite (vectors are checked
when loaded).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from dtl_cli.align.normalize import unit_rows
from dtl_cli.align.selection import Running, column_shift, group_layout, update_top

METHODS = ("nn", "csls")
# One similarity tile holds about this many float32 values (32 MB).
_BLOCK_VALUES = 1 << 23


def _batches(n: int, batch_size: int):
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for start in range(0, n, batch_size):
        yield start, min(start + batch_size, n)


# Rows of up to 32768 targets are taken whole (row blocks of >= 256 rows keep the BLAS
# efficient); wider ones are cut into equal column tiles of at most 16384 targets, whose
# 16384 x 300 float32 (20 MB) stay in the CPU's cache while a row block is multiplied by
# them. Measured here at 200k targets: half the time of whole 41-row blocks.
_FULL_WIDTH = 32768
_TILE_COLS = 16384


def tile_shape(n_rows: int, n_cols: int, batch_size: int = 4096) -> tuple[int, int]:
    """(rows, cols) of the similarity tiles for an [n_rows, n_cols] product: at most
    batch_size rows, about _BLOCK_VALUES values in all."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    cols = max(n_cols, 1)
    if cols > _FULL_WIDTH:
        n_tiles = -(-cols // _TILE_COLS)
        cols = -(-cols // n_tiles)  # equal widths: no thin last tile
    rows = max(1, min(batch_size, n_rows, _BLOCK_VALUES // cols))
    return rows, cols


def tiled_top(
    A: np.ndarray,
    B: np.ndarray,
    wants: Sequence[tuple[int | np.ndarray, np.ndarray | None]],
    batch_size: int = 4096,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row-wise top k of A [n_a, d] @ B.T [d, n_b] scores, for several scorings at once.

    Each want is (k, penalty): penalty None scores by the product itself; a penalty [n_b]
    scores by 2 * product - penalty[j] (the column-dependent part of CSLS). k is one depth
    for all rows or one per row (int [n_a]), clipped to n_b. Returns, per want, columns
    int64 [n_a, K] and scores float32 [n_a, K] (K the largest k), best first; a row's
    entries beyond its own depth are padding (score -inf, column 0).

    With a penalty and at least _LAYOUT_FROM_ROWS rows, B's columns are first reordered
    (a copy of B) so that each group of 16 holds columns of similar penalty; the plain
    group maxima then bound the penalised scores tightly and one pass over each tile
    serves every scoring. Equal scores (of any scoring in the pass) are then ordered by
    that layout, not by lowest column. With fewer rows the copy would cost more than it
    saves: the tile is shifted by the penalty in place instead (one more pass).
    """
    n_a, n_b = len(A), len(B)
    plain = [w for w, (_, penalty) in enumerate(wants) if penalty is None]
    penalised = [w for w, (_, penalty) in enumerate(wants) if penalty is not None]
    if len(plain) > 1 or len(penalised) > 1:
        raise ValueError("at most one plain and one penalised scoring per pass")
    found = [
        Running.empty(np.minimum(np.broadcast_to(np.asarray(k, np.int64), (n_a,)), n_b))
        for k, _ in wants
    ]
    if n_a == 0 or n_b == 0:
        return [(f.cols, f.values) for f in found]
    rows, cols = tile_shape(n_a, n_b, batch_size)
    col_tiles = list(_batches(n_b, cols))
    pen = _Penalty.plan(wants[penalised[0]][1], n_a, col_tiles) if penalised else None
    if pen is not None and pen.layout is not None:
        B = B[pen.layout]

    def row_block(r0: int, r1: int) -> None:
        # The rows' running answers are views of the outputs, updated in place.
        running = [Running(f.depth[r0:r1], f.cols[r0:r1], f.values[r0:r1]) for f in found]
        scoring = running[plain[0]] if plain else None
        shifted = running[penalised[0]] if penalised else None
        _score_rows(A[r0:r1], B, col_tiles, rows * cols, scoring, shifted, pen)

    _run_blocks(row_block, list(_batches(n_a, rows)))
    for f, (_, penalty) in zip(found, wants, strict=True):
        if pen is not None and pen.layout is not None:  # back to B's own column numbers
            f.cols[...] = np.where(np.isfinite(f.values), pen.layout[f.cols], 0)
        if penalty is not None:
            f.values[...] *= 2  # 2 (cos - p / 2) is 2 cos - p to the last bit: exact
    return [(f.cols, f.values) for f in found]


@dataclass
class _Penalty:
    """A penalised scoring's plan: half the penalty (ranked by cos - penalty / 2, one
    subtraction per kept entry, doubled at the end), and with enough rows the column
    layout that groups like penalties (B is then read in that order) with each column
    tile's shift."""

    half: np.ndarray
    layout: np.ndarray | None = None
    shifts: dict = field(default_factory=dict)

    @classmethod
    def plan(cls, penalty, n_rows: int, col_tiles: list[tuple[int, int]]) -> _Penalty:
        half = np.asarray(penalty, dtype=np.float32) / 2
        if n_rows < _LAYOUT_FROM_ROWS:
            return cls(half)
        layout = group_layout(half, col_tiles)
        half = half[layout]
        return cls(half, layout, {c0: column_shift(half[c0:c1]) for c0, c1 in col_tiles})


def _score_rows(block, B, col_tiles, buffer_size: int, scoring, shifted, pen) -> None:
    """Merge block [r, d] @ B.T, tile by tile, into the running tops ``scoring`` (plain)
    and ``shifted`` (penalised by ``pen``); either may be None."""
    n = len(block)
    with _tile_buffer(buffer_size) as buf:
        for c0, c1 in col_tiles:
            # A C-contiguous view for every tile shape: strided tiles would make the
            # product and the selection copy.
            tile = buf[: n * (c1 - c0)].reshape(n, c1 - c0)
            np.matmul(block, B[c0:c1].T, out=tile)
            if shifted is None or pen.layout is not None:  # one pass serves both scorings
                update_top(tile, c0, scoring, shifted, pen.shifts.get(c0) if pen else None)
            else:  # no layout: the plain scoring, then the tile shifted in place
                if scoring is not None:
                    update_top(tile, c0, scoring)
                tile -= pen.half[c0:c1]
                update_top(tile, c0, plain=shifted)


def _run_blocks(row_block: Callable[[int, int], None], blocks: list[tuple[int, int]]) -> None:
    """row_block(r0, r1) for each block, over worker threads when there are cores."""
    cores = _cores()
    workers = min(cores, _MAX_WORKERS, len(blocks))
    if workers == 1:
        for block in blocks:
            row_block(*block)
        return
    # The cores shared out between the workers' BLAS (see the module docstring).
    with (
        threadpool_limits(max(1, cores // workers), user_api="blas"),
        ThreadPoolExecutor(workers) as pool,
    ):
        for done in [pool.submit(row_block, *block) for block in blocks]:
            done.result()


# Tile buffers kept between calls, at most one per worker (_MAX_WORKERS x 32 MB): a fresh
# 32 MB array is mapped anew, and its first touch faults page by page, which on some
# machines (fragmented memory, huge pages compacted on demand) adds 50 ms per buffer.
_spare_buffers: list[np.ndarray] = []
_spare_lock = threading.Lock()


@contextmanager
def _tile_buffer(size: int):
    """A float32 buffer of at least ``size`` values (a spare one if one is big enough),
    kept as a spare again afterwards."""
    buf = None
    with _spare_lock:
        for i, spare in enumerate(_spare_buffers):
            if spare.size >= size:
                buf = _spare_buffers.pop(i)
                break
    if buf is None:
        buf = np.empty(max(size, _BLOCK_VALUES), dtype=np.float32)
    try:
        yield buf
    finally:
        with _spare_lock:
            _spare_buffers.append(buf)
            _spare_buffers.sort(key=len, reverse=True)
            del _spare_buffers[_MAX_WORKERS:]


# Reordering B costs a copy of it: worth it once many rows share the tighter bounds.
_LAYOUT_FROM_ROWS = 2048
# Each worker holds one tile (32 MB): on many cores, fewer workers with more BLAS threads
# each keep that memory bounded.
_MAX_WORKERS = 4


def _cores() -> int:
    """CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def nearest_unit(
    A: np.ndarray, B: np.ndarray, k: int, batch_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit row of A [n_a, d]'s k nearest unit rows of B [n_b, d] by cosine, best first:
    indices int64 [n_a, k] and cosines float32 [n_a, k] (k clipped to n_b)."""
    return tiled_top(A, B, [(k, None)], batch_size)[0]


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
    if len(Q) == 0 or k == 0:
        return {
            m: (np.zeros((len(Q), k), dtype=np.int64), np.zeros((len(Q), k), dtype=np.float32))
            for m in methods
        }
    if "csls" not in methods:
        return {"nn": tiled_top(Q, T, [(k, None)], batch_size)[0]}
    pool = Q if query_pool is None else unit_rows(query_pool)
    r_source = _knn_mean_unit(T, pool, csls_k, batch_size)  # [V]
    ck = min(csls_k, len(T))
    # One pass over the queries' products: the nearest targets by cosine (NN, and r_T from
    # the csls_k nearest) and the best by 2 cos - r_S (CSLS once r_T is subtracted).
    (nn_idx, nn_cos), (c_idx, c_score) = tiled_top(
        Q, T, [(max(k, ck), None), (k, r_source)], batch_size
    )
    r_target = nn_cos[:, :ck].mean(axis=1)
    out = {"csls": (c_idx, (c_score - r_target[:, None]).astype(np.float32))}
    if "nn" in methods:
        out["nn"] = (nn_idx[:, :k], nn_cos[:, :k])
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
