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


# 9251 has a tail at both group levels; 1000 rows and k = 20 are too narrow for two levels.
@pytest.mark.parametrize("n", [1000, 9216, 9251])
@pytest.mark.parametrize("k", [1, 5, 10, 20])
@pytest.mark.parametrize("decimals", [None, 1])  # 1: many ties, resolved by column
def test_bounded_top_columns_match_full_sort(n, k, decimals):
    # Rows this wide open only the groups that reach a two-level bound.
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


def test_a_row_of_ties_falls_back_without_padding_every_row():
    # A zero query (unit_rows keeps it zero) ties with every column; the others do not.
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(64, 16384)).astype(np.float32)
    scores[5] = 0.0
    idx, values = top_columns(scores, 10)
    want, want_values = _brute_top(scores, 10)
    np.testing.assert_array_equal(np.delete(idx, 5, axis=0), np.delete(want, 5, axis=0))
    np.testing.assert_array_equal(values, want_values)
    assert values.dtype == np.float32
    assert top_columns(scores.astype(np.float64), 3)[1].dtype == np.float64


@pytest.mark.parametrize("k", [1, 10, 40])
@pytest.mark.parametrize("grouped", [False, True])
def test_shifted_top_columns_match_a_full_sort_of_the_shifted_scores(k, grouped):
    # grouped: every group's shifts are alike (tight bounds); else they are spread out.
    rng = np.random.default_rng(k)
    n = 9251  # tails at both group levels
    scores = np.round(rng.normal(size=(12, n)), 1).astype(np.float32)  # many ties
    column = np.round(rng.random(n), 2).astype(np.float32)
    if grouped:
        column = np.sort(column)[selection.group_layout(np.arange(n), [(0, n)])]
    shift = selection.column_shift(column)
    assert np.all(shift.high - shift.low <= (0.011 if grouped else 1.0))
    shifted = scores - column
    want, want_values = _brute_top(shifted, k)
    idx, values = top_columns(scores, k, shift=shift, maxima=selection.group_maxima(scores))
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(values, want_values)
    # With a running answer from earlier columns (numbered below these).
    split = 4000
    first = top_columns(shifted[:, :split], k)
    rest = selection.column_shift(column[split:])
    idx, values = top_columns(scores[:, split:], k, (first[0] - split, first[1]), rest)
    np.testing.assert_array_equal(idx + split, want)
    np.testing.assert_array_equal(values, want_values)


@pytest.mark.parametrize("width", [200, 1000, 9251])  # one level; two; tails at both
def test_group_layout_puts_consecutive_values_in_each_group(width):
    rng = np.random.default_rng(1)
    values = rng.random(2 * width)
    tiles = [(0, width), (width, 2 * width)]
    order = selection.group_layout(values, tiles)
    np.testing.assert_array_equal(np.sort(order), np.arange(2 * width))
    n1, n2 = width // 16, width // 256
    for c0, c1 in tiles:
        share = np.sort(values[order[c0:c1]])
        np.testing.assert_array_equal(share, np.sort(values)[c0:c1])  # the tile's own share
        # Group g (columns g, g + n1, ...) holds 16 consecutive values of the share, and
        # second-level group j2 (groups j2, j2 + n2, ...) 256 consecutive ones.
        groups = values[order[c0 : c0 + 16 * n1]].reshape(16, n1)
        for g in range(n1):
            start = 256 * (g % n2) + 16 * (g // n2) if g < 16 * n2 else 16 * g
            np.testing.assert_array_equal(np.sort(groups[:, g]), share[start : start + 16])
        np.testing.assert_array_equal(values[order[c0 + 16 * n1 : c1]], share[16 * n1 :])
