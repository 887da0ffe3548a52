"""Row-wise top-k selection on one similarity tile (a block of rows by a block of columns).

Top-k selection avoids partitioning whole rows: the columns of a row are split into
groups of 16 and the row's group maxima taken (one vectorised pass over the tile). Maxima
are real values, so the k-th largest group maximum (or of the maxima of groups of groups)
is a lower bound tau on the row's k-th largest value: only groups whose maximum reaches tau
can hold the answer, and only those are opened. Once a row has k values from earlier
tiles, its k-th best raises tau, so later tiles open few groups or none.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_GROUP = 16


def _candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices [rows, c] per row that include the row's k largest scores."""
    rows, n = scores.shape
    n_groups = n // _GROUP
    if n_groups <= 2 * k:
        return np.broadcast_to(np.arange(n), (rows, n))
    # Group j holds columns j, j + n_groups, j + 2 n_groups, ...: the maxima are
    # _GROUP - 1 elementwise maxima over contiguous slices.
    group_max = _group_max(scores, n_groups)
    # The k best groups, found the same way one level up (group_max is small and C-ordered).
    best_groups = _select(group_max, _candidates(group_max, k), k)
    cand = (best_groups[:, :, None] + n_groups * np.arange(_GROUP)).reshape(rows, -1)
    if n_groups * _GROUP < n:
        tail = np.arange(n_groups * _GROUP, n)
        cand = np.hstack([cand, np.broadcast_to(tail, (rows, len(tail)))])
    return cand


def _group_max(scores: np.ndarray, n_groups: int) -> np.ndarray:
    """[rows, n_groups]: the maximum of columns j, j + n_groups, ... (_GROUP of them)."""
    rows = len(scores)
    return scores[:, : n_groups * _GROUP].reshape(rows, _GROUP, n_groups).max(axis=1)


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


def _best_first(cols: np.ndarray, values: np.ndarray, k: int):
    """The k best of each row of (cols, values) [rows, c]: by value, then lowest column."""
    order = np.lexsort((cols, -values), axis=1)[:, :k]
    return np.take_along_axis(cols, order, axis=1), np.take_along_axis(values, order, axis=1)


def _top_columns_by_selection(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    cols = _select(scores, _candidates(scores, k), k)
    cols = np.ascontiguousarray(cols)
    return _best_first(cols.astype(np.int64), _gather(scores, cols), k)


class Shift(NamedTuple):
    """An amount taken off each column of a tile: the values are scores[:, j] - column[j].

    column [n] (the scores' dtype, so shifted values round as the scores do); low and
    high [n1]: the least and greatest shift in each first-level group
    (n1 = n // _GROUP); low2 and high2 [n1 // _GROUP]: the same per second-level group.
    Group maxima of the scores bound a group's shifted values within its high - low, so
    groups of columns with similar shifts (see ``group_layout``) keep the bounds tight.
    """

    column: np.ndarray
    low: np.ndarray
    high: np.ndarray
    low2: np.ndarray
    high2: np.ndarray


def column_shift(column: np.ndarray) -> Shift:
    """The Shift of ``column`` [n] (float32) for a tile n columns wide."""
    n1 = len(column) // _GROUP
    n2 = n1 // _GROUP
    body = column[: n1 * _GROUP].reshape(_GROUP, n1)  # row t: member t of every group
    low, high = body.min(axis=0), body.max(axis=0)
    low2 = low[: n2 * _GROUP].reshape(_GROUP, n2).min(axis=0)
    high2 = high[: n2 * _GROUP].reshape(_GROUP, n2).max(axis=0)
    return Shift(column, low, high, low2, high2)


def _layout_ranks(width: int) -> np.ndarray:
    """For each column of a tile ``width`` wide, the rank (in ascending order of value)
    of the column that ``group_layout`` puts there: first-level group g (columns g,
    g + n1, ...) gets _GROUP consecutive ranks, second-level group j2 (first-level groups
    j2, j2 + n2, ...) _GROUP^2 consecutive ranks."""
    n1 = width // _GROUP
    n2 = n1 // _GROUP
    position = np.arange(width)
    rank = position.copy()  # the columns' tail keeps its order
    member, group = np.divmod(position[: n1 * _GROUP], n1)
    second, group2 = np.divmod(group, max(n2, 1))
    rank[: n1 * _GROUP] = np.where(
        group < n2 * _GROUP,
        _GROUP * _GROUP * group2 + _GROUP * second + member,
        _GROUP * group + member,  # first-level groups in no second-level group
    )
    return rank


def group_layout(values: np.ndarray, tiles: list[tuple[int, int]]) -> np.ndarray:
    """A column order [n] that makes the groups of each tile (c0, c1) hold columns of
    similar ``values`` [n]: each tile takes its share of the ascending order of values,
    laid out by ``_layout_ranks``."""
    ascending = np.argsort(values, kind="stable")
    order = np.empty(len(values), dtype=np.int64)
    for c0, c1 in tiles:
        order[c0:c1] = ascending[c0 + _layout_ranks(c1 - c0)]
    return order


class Maxima(NamedTuple):
    """Group maxima of a tile [rows, n]: level1 [rows, n1] of the columns' groups, level2
    [rows, n1 // _GROUP] of the groups' groups."""

    level1: np.ndarray
    level2: np.ndarray


def group_maxima(scores: np.ndarray) -> Maxima:
    """The group maxima of scores [rows, n] (one pass over the scores)."""
    level1 = _group_max(scores, scores.shape[1] // _GROUP)
    return Maxima(level1, _group_max(level1, level1.shape[1] // _GROUP))


def _above(scores: np.ndarray, k: int, floor, maxima: Maxima | None, shift: Shift | None):
    """Entries of the (shifted) scores [rows, n] that may be among a row's k largest, as
    flat arrays (rows, columns, values) sorted by row, or None when the rows are too narrow
    for this.

    Group maxima give a bound: a row's k largest second-level lower bounds (first-level
    ones when the row is too narrow for two levels) belong to k distinct entries, so its
    k largest values are >= tau, the k-th of them. Unshifted, a group's lower and upper
    bound are both its maximum; shifted, they are its maximum minus the group's greatest
    and least shift. Only groups whose upper bound reaches tau (or `floor` [rows], the k-th
    best already found elsewhere, if higher) are opened. Entries equal to the bound are
    kept, so ties are decided later.
    """
    rows, n = scores.shape
    n1 = n // _GROUP
    n2 = n1 // _GROUP
    if n1 <= 2 * k:
        return None
    max1, max2 = group_maxima(scores) if maxima is None else maxima
    low = None if shift is None else shift.low
    two_levels = n2 > 2 * k
    if two_levels:
        upper2, lower2 = (max2, max2) if shift is None else (max2 - shift.low2, max2 - shift.high2)
        tau = np.partition(lower2, n2 - k, axis=1)[:, n2 - k]
    else:  # rows too narrow for a second level: the bound from the first
        lower1 = max1 if shift is None else max1 - shift.high
        tau = np.partition(lower1, n1 - k, axis=1)[:, n1 - k]
    if floor is not None:
        tau = np.maximum(tau, floor)
    if two_levels:
        # Second-level group j holds first-level groups j, j + n2, ...; the first level's
        # tail (n1 - n2 * _GROUP groups) belongs to none.
        row, group2 = np.nonzero(upper2 >= tau[:, None])
        row, group1, _ = _open(max1, row, group2, n2, tau, low)
        tail1 = max1[:, n2 * _GROUP :]
        if shift is not None:
            tail1 = tail1 - low[n2 * _GROUP :]
        tail_row, tail_group1 = np.nonzero(tail1 >= tau[:, None])
        row = np.concatenate([row, tail_row])
        group1 = np.concatenate([group1, tail_group1 + n2 * _GROUP])
    else:
        upper1 = max1 if shift is None else max1 - low
        row, group1 = np.nonzero(upper1 >= tau[:, None])
    row, col, values = _open(scores, row, group1, n1, tau, None if shift is None else shift.column)
    # The columns' tail (n - n1 * _GROUP) belongs to no group either.
    tail = scores[:, n1 * _GROUP :]
    if shift is not None:
        tail = tail - shift.column[n1 * _GROUP :]
    tail_row, tail_col = np.nonzero(tail >= tau[:, None])
    row = np.concatenate([row, tail_row])
    col = np.concatenate([col, tail_col + n1 * _GROUP])
    values = np.concatenate([values, tail[tail_row, tail_col]])
    order = np.argsort(row, kind="stable")
    return row[order], col[order], values[order]


def _open(values, row, group, n_groups: int, tau, shift=None):
    """The members (row, index, value) of groups (row, group) of `values` [rows, m] that
    reach tau [rows]; group j holds indices j, j + n_groups, ... (_GROUP of them).
    ``shift`` [m], if given, is taken off each member's value first (for first-level
    maxima as members, the group's least shift: an upper bound on its shifted values)."""
    index = group[:, None] + n_groups * np.arange(_GROUP)  # [h, _GROUP]
    member = values.ravel().take(index + (row * values.shape[1])[:, None])
    if shift is not None:
        member -= shift.take(index)
    hit_group, hit_member = np.nonzero(member >= tau[row][:, None])
    return row[hit_group], index[hit_group, hit_member], member[hit_group, hit_member]


def _dense(row, col, values, rows: int, width: int | None = None):
    """Ragged (row, col, value) triples sorted by row -> [rows, width] arrays padded with
    -inf (values) and column 0."""
    counts = np.bincount(row, minlength=rows)
    width = int(counts.max(initial=0)) if width is None else width
    pos = np.arange(len(row)) - (np.cumsum(counts) - counts)[row]
    out_cols = np.zeros((rows, width), dtype=np.int64)
    out_values = np.full((rows, width), -np.inf, dtype=values.dtype)
    out_cols[row, pos] = col
    out_values[row, pos] = values
    return out_cols, out_values


# Beyond this many candidate entries in any row (many ties, e.g. a zero vector's row),
# plain selection is cheaper than padding every row to that width.
_MAX_CANDIDATES_PER_ROW = 256


def _widest_row(row: np.ndarray, rows: int) -> int:
    return int(np.bincount(row, minlength=rows).max(initial=0))


def top_columns(
    scores: np.ndarray,
    k: int,
    best: tuple[np.ndarray, np.ndarray] | None = None,
    shift: Shift | None = None,
    maxima: Maxima | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Column indices int64 [rows, k] and values [rows, k] of each row's k largest scores,
    best first (k is clipped to the number of columns plus the running answer's). Equal
    values go to the lowest column where the group bound applies; rows too narrow for it
    (at most 32 k columns) and tiles where some row has more than _MAX_CANDIDATES_PER_ROW
    candidates use plain selection, where ties at the k-th place go to a deterministic
    but arbitrary column.

    ``best`` (columns, values) [rows, k], best first, is a running answer from other
    columns (numbered apart from these, e.g. negative): the result is the k best of both,
    and once it holds k its k-th value lets whole groups of ``scores`` be skipped.
    ``shift``, if given, ranks by scores - shift.column instead (see ``Shift``). ``maxima``
    is ``group_maxima(scores)`` if already computed (one tile serving several scorings).
    ``scores`` is left unchanged.
    """
    rows, n = scores.shape
    k_prior = 0 if best is None else best[0].shape[1]
    k = min(k, n + k_prior)
    if k == 0:
        return np.zeros((rows, 0), dtype=np.int64), np.zeros((rows, 0), dtype=scores.dtype)
    # A full running answer bounds what can still enter; a partial one cannot.
    floor = best[1][:, -1] if k_prior == k else None
    found = _above(scores, k, floor, maxima, shift)
    if found is not None and _widest_row(found[0], rows) <= _MAX_CANDIDATES_PER_ROW:
        cols, values = _dense(*found, rows)
    else:
        shifted = scores if shift is None else scores - shift.column
        cols, values = _top_columns_by_selection(shifted, min(k, n))
    if best is not None:
        cols = np.hstack([best[0], cols])
        values = np.hstack([best[1], values])
    return _best_first(cols, values, k)
