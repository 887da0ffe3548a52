import numpy as np
import pytest

from dtl_cli.align import selection
from dtl_cli.align.selection import top_columns


@pytest.mark.parametrize("n", [4000, 4007])
def test_grouped_top_columns_match_full_sort(n):
    # Wide rows take the group-maxima path; 4007 also has a tail of columns outside groups.
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(9, n)).astype(np.float32)
    scores[0, -3:] = 10.0 + np.arange(3)  # the best values sit in the tail
    scores[1, ::64] = 5.0 + np.arange(len(scores[1, ::64])) / 1e3  # all in one group family
    idx, values = top_columns(scores, 10)
    want = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(values, np.take_along_axis(scores, want, axis=1))


def _brute_top(scores, k):
    want = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: lowest column first
    return want, np.take_along_axis(scores, want, axis=1)


# 9251 has a tail of columns outside the groups; 1000 columns hold 62 groups, few for k = 20.
@pytest.mark.parametrize("n", [1000, 9216, 9251])
@pytest.mark.parametrize("k", [1, 5, 10, 20])
@pytest.mark.parametrize("decimals", [None, 1])  # 1: many ties, resolved by column
def test_bounded_top_columns_match_full_sort(n, k, decimals):
    # Rows this wide open only the groups that reach the bound.
    rng = np.random.default_rng(k)
    scores = rng.normal(size=(12, n)).astype(np.float32)
    if decimals is not None:
        scores = np.round(scores, decimals)
    scores[0, -2:] = 9.0  # the best sit in the tail
    scores[1, ::576] = 7.0 + np.arange(len(scores[1, ::576])) / 1e3  # one group family
    idx, values = top_columns(scores, k)
    want, want_values = _brute_top(scores, k)
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(values, want_values)


def test_top_columns_merges_a_running_answer_from_earlier_columns():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=(20, 20000)), 2).astype(np.float32)
    split = 8000
    first = top_columns(scores[:, :split], 10)
    prior = (first[0] - split, first[1])  # earlier columns numbered below these
    idx, values = top_columns(scores[:, split:], 10, prior)
    want, want_values = _brute_top(scores, 10)
    np.testing.assert_array_equal(idx + split, want)
    np.testing.assert_array_equal(values, want_values)


def test_a_row_of_ties_goes_to_the_lowest_columns():
    # A zero query (unit_rows keeps it zero) ties with every column; the others do not.
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(64, 16384)).astype(np.float32)
    scores[5] = 0.0
    idx, values = top_columns(scores, 10)
    want, want_values = _brute_top(scores, 10)
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(values, want_values)
    assert idx[5].tolist() == list(range(10))
    assert values.dtype == np.float32 and idx.dtype == np.int64


@pytest.mark.parametrize("k", [1, 10, 40])
@pytest.mark.parametrize("grouped", [False, True])
def test_shifted_top_columns_match_a_full_sort_of_the_shifted_scores(k, grouped):
    # grouped: every group's shifts are alike (tight bounds); else they are spread out.
    rng = np.random.default_rng(k)
    n = 9251  # a tail of 3 columns outside the groups
    scores = np.round(rng.normal(size=(12, n)), 1).astype(np.float32)  # many ties
    column = np.round(rng.random(n), 2).astype(np.float32)
    if grouped:
        column = np.sort(column)[selection.group_layout(np.arange(n), [(0, n)])]
    shift = selection.column_shift(column)
    assert np.all(shift.high - shift.low <= (0.011 if grouped else 1.0))
    shifted = scores - column
    want, want_values = _brute_top(shifted, k)
    idx, values = top_columns(scores, k, shift=shift)
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(values, want_values)
    # With a running answer from earlier columns (numbered below these).
    split = 4000
    first = top_columns(shifted[:, :split], k)
    rest = selection.column_shift(column[split:])
    idx, values = top_columns(scores[:, split:], k, (first[0] - split, first[1]), rest)
    np.testing.assert_array_equal(idx + split, want)
    np.testing.assert_array_equal(values, want_values)


def test_update_top_keeps_each_rows_own_depth_across_tiles():
    # Rows of depths 0..7 fed three column tiles in turn, both scorings in one pass: each
    # row ends with its own top k of each.
    rng = np.random.default_rng(6)
    scores = np.round(rng.normal(size=(8, 3000)), 1).astype(np.float32)
    column = np.round(rng.random(3000), 1).astype(np.float32)
    plain = selection.Running.empty(np.arange(8), width=7)
    shifted = selection.Running.empty(np.arange(8)[::-1])
    for c0, c1 in ((0, 1000), (1000, 2100), (2100, 3000)):
        tile = np.ascontiguousarray(scores[:, c0:c1])
        shift = selection.column_shift(column[c0:c1])
        selection.update_top(tile, c0, plain, shifted, shift)
    for running, full in ((plain, scores), (shifted, scores - column)):
        want, want_values = _brute_top(full, 7)
        for i, k in enumerate(running.depth):
            np.testing.assert_array_equal(running.cols[i, :k], want[i, :k])
            np.testing.assert_array_equal(running.values[i, :k], want_values[i, :k])
            assert np.all(running.values[i, k:] == -np.inf) and np.all(running.cols[i, k:] == 0)
    with pytest.raises(ValueError, match="needs its shift"):
        selection.update_top(scores, 0, shifted=shifted)


@pytest.mark.parametrize("width", [200, 1000, 9251])
def test_group_layout_puts_consecutive_values_in_each_group(width):
    rng = np.random.default_rng(1)
    values = rng.random(2 * width)
    tiles = [(0, width), (width, 2 * width)]
    order = selection.group_layout(values, tiles)
    np.testing.assert_array_equal(np.sort(order), np.arange(2 * width))
    n1 = width // 16
    for c0, c1 in tiles:
        share = np.sort(values[order[c0:c1]])
        np.testing.assert_array_equal(share, np.sort(values)[c0:c1])  # the tile's own share
        # Group g (columns g, g + n1, ...) holds the share's 16 g-th to (16 g + 15)-th.
        groups = values[order[c0 : c0 + 16 * n1]].reshape(16, n1)
        for g in range(n1):
            np.testing.assert_array_equal(np.sort(groups[:, g]), share[16 * g : 16 * g + 16])
        np.testing.assert_array_equal(values[order[c0 + 16 * n1 : c1]], share[16 * n1 :])
