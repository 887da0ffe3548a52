"""Row-wise top-k selection on one similarity tile (a block of rows by a block of columns).

Top-k selection never sorts whole rows. The n columns of a row are split into groups of 16
(group g holds columns g, g + n1, g + 2 n1, ... with n1 = n // 16, so that the maxima are
elementwise maxima of contiguous slices) and the row's group maxima are taken, one pass
over the tile. The k-th largest group maximum is a lower bound tau on the row's k-th
largest value (k groups' maxima are k distinct entries), and so is the k-th value already
found in earlier tiles: only groups whose maximum reaches tau are opened, and their
members offered to the row's running top k. The columns past the last whole group (the
tail) are always offered.

A scoring may take a per-column amount off the scores (CSLS's penalty, see ``Shift``): a
group's maximum minus its greatest and least shift then bound its shifted values, tightly
when its columns have similar shifts (see ``group_layout``).

The loops are compiled with numba and release the GIL, so worker threads run them side by
side. The first call in a new environment compiles them (a few seconds) and caches the
machine code beside this file; later processes load it.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

_GROUP = 16


class Shift(NamedTuple):
    """An amount taken off each column of a tile: the scores are scores[:, j] - column[j].

    column [n] float32 (shifted values round as float32 scores do); low and high [n1]:
    the least and greatest shift in each group (n1 = n // 16).
    """

    column: np.ndarray
    low: np.ndarray
    high: np.ndarray


def column_shift(column: np.ndarray) -> Shift:
    """The Shift of ``column`` [n] (float32) for a tile n columns wide."""
    column = np.ascontiguousarray(column, dtype=np.float32)
    n1 = len(column) // _GROUP
    body = column[: n1 * _GROUP].reshape(_GROUP, n1)  # row t: member t of every group
    return Shift(column, body.min(axis=0), body.max(axis=0))


def group_layout(values: np.ndarray, tiles: list[tuple[int, int]]) -> np.ndarray:
    """A column order [n] that makes the groups of each tile (c0, c1) hold columns of
    similar ``values`` [n]: each tile takes its share of the ascending order of values,
    and group g of a tile w wide gets the share's 16 g-th to (16 g + 15)-th; the tail
    (w % 16 columns) keeps the share's last ones in order."""
    ascending = np.argsort(values, kind="stable")
    order = np.empty(len(values), dtype=np.int64)
    for c0, c1 in tiles:
        width = c1 - c0
        n1 = width // _GROUP
        rank = np.arange(width)  # the rank in the share of the column placed at each spot
        member, group = np.divmod(rank[: n1 * _GROUP], max(n1, 1))
        rank[: n1 * _GROUP] = _GROUP * group + member
        order[c0:c1] = ascending[c0 + rank]
    return order


class Running(NamedTuple):
    """A scoring's running top k for a block of rows, updated in place: columns int64 and
    values float32 [rows, K], best first (by value, then lowest column), padded with -inf
    (column 0); row i keeps its best depth[i] <= K (int64 [rows])."""

    depth: np.ndarray
    cols: np.ndarray
    values: np.ndarray

    @classmethod
    def empty(cls, depth: np.ndarray, width: int | None = None) -> Running:
        """Nothing found yet, for rows of the given depths (width: K, default max depth)."""
        depth = np.asarray(depth, dtype=np.int64)
        width = int(depth.max(initial=0)) if width is None else width
        rows = len(depth)
        return cls(
            np.minimum(depth, width),
            np.zeros((rows, width), dtype=np.int64),
            np.full((rows, width), -np.inf, dtype=np.float32),
        )


def update_top(
    scores: np.ndarray,
    offset: int,
    plain: Running | None = None,
    shifted: Running | None = None,
    shift: Shift | None = None,
) -> None:
    """Merge the columns of float32 ``scores`` [rows, n] (C-ordered) into each row's running
    top k of the scores themselves (``plain``) and of scores - shift.column (``shifted``),
    in place; one pass over the tile serves both. Column j of ``scores`` is numbered
    ``offset`` + j: keep earlier tiles' numbers lower, so ties go to them.
    """
    if shifted is not None and shift is None:
        raise ValueError("a shifted scoring needs its shift")
    plain = _NOTHING if plain is None else plain
    shifted = _NOTHING if shifted is None else shifted
    shift = _NO_SHIFT if shift is None else shift
    _update_kernel(scores, offset, *plain, *shifted, *shift)


_NOTHING = Running(np.zeros(0, np.int64), np.zeros((0, 0), np.int64), np.zeros((0, 0), np.float32))
_NO_SHIFT = Shift(*(np.zeros(0, dtype=np.float32),) * 3)


def top_columns(
    scores: np.ndarray,
    k: int,
    best: tuple[np.ndarray, np.ndarray] | None = None,
    shift: Shift | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Column indices int64 [rows, k] and float32 values [rows, k] of each row's k largest
    scores [rows, n], best first; equal values go to the lowest column. k is clipped to
    the number of columns plus the running answer's.

    ``best`` (columns, values) [rows, k'], best first, is a running answer from other
    columns, numbered below these (e.g. negative): the result is the k best of both.
    ``shift``, if given, ranks by scores - shift.column (see ``Shift``).
    """
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    rows, n = scores.shape
    k_prior = 0 if best is None else best[0].shape[1]
    k = min(k, n + k_prior)
    running = Running.empty(np.full(rows, k))
    if best is not None:
        running.cols[:, : min(k, k_prior)] = best[0][:, :k]
        running.values[:, : min(k, k_prior)] = best[1][:, :k]
    if shift is None:
        update_top(scores, 0, plain=running)
    else:
        update_top(scores, 0, shifted=running, shift=shift)
    return running.cols, running.values


@numba.njit(nogil=True, cache=True)
def _update_kernel(
    scores, offset, depth, cols, values, s_depth, s_cols, s_values, column, low, high
):
    n = scores.shape[1]
    n1 = n // _GROUP
    top = np.empty(n1, dtype=np.float32)  # one row's group maxima, reused row by row
    bounds = np.empty(max(cols.shape[1], s_cols.shape[1], 1), dtype=np.float32)
    for i in range(scores.shape[0]):
        row = scores[i]
        for g in range(n1):
            top[g] = row[g]
        for t in range(1, _GROUP):
            start = t * n1
            for g in range(n1):
                v = row[start + g]
                top[g] = v if v > top[g] else top[g]
        # The row is still in cache for both scorings.
        if depth.shape[0] and depth[i] > 0:
            _select_row(
                row, top, column, low, high, False, depth[i], cols[i], values[i], bounds, offset
            )
        if s_depth.shape[0] and s_depth[i] > 0:
            _select_row(
                row,
                top,
                column,
                low,
                high,
                True,
                s_depth[i],
                s_cols[i],
                s_values[i],
                bounds,
                offset,
            )


@numba.njit(nogil=True, cache=True)
def _select_row(row, top, column, low, high, shifted, k, best_cols, best, bounds, offset):
    """Merge one row into its running top k (best_cols, best), given its group maxima."""
    n1 = top.shape[0]
    # tau: the k-th largest lower bound of a group's best (shifted) value, from the k
    # largest kept in ascending order; or the running k-th, if higher.
    for j in range(k):
        bounds[j] = -np.inf
    for g in range(n1):
        lower = top[g] - high[g] if shifted else top[g]
        if lower > bounds[0]:
            j = 1
            while j < k and bounds[j] < lower:
                bounds[j - 1] = bounds[j]
                j += 1
            bounds[j - 1] = lower
    tau = max(bounds[0], best[k - 1])
    for g in range(n1):
        upper = top[g] - low[g] if shifted else top[g]
        if upper >= tau:
            for t in range(_GROUP):
                c = t * n1 + g
                v = row[c] - column[c] if shifted else row[c]
                if v >= tau:
                    _offer(best_cols, best, k, v, offset + c)
    for c in range(n1 * _GROUP, row.shape[0]):  # the tail, in no group
        v = row[c] - column[c] if shifted else row[c]
        if v >= tau:
            _offer(best_cols, best, k, v, offset + c)


@numba.njit(nogil=True, cache=True, inline="always")
def _offer(cols, values, k, v, c):
    """Insert (v, c) into the k best (cols, values), ordered by value then lowest column."""
    last = k - 1
    if v < values[last] or (v == values[last] and c >= cols[last]):
        return
    j = last
    while j > 0 and (values[j - 1] < v or (values[j - 1] == v and cols[j - 1] > c)):
        values[j] = values[j - 1]
        cols[j] = cols[j - 1]
        j -= 1
    values[j] = v
    cols[j] = c
