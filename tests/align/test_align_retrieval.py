import numpy as np
import pytest

from dtl_cli.align.retrieval import (
    knn_mean_similarity,
    topk,
    topk_methods,
    unit_rows,
)


def _data(n_q=13, n_t=17, d=6):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n_q, d)), rng.normal(size=(n_t, d))


def _cos(A, B):
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    return A @ B.T


def test_unit_rows_keeps_zero_rows():
    X = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(unit_rows(X), [[0.6, 0.8], [0.0, 0.0]], atol=1e-7)


@pytest.mark.parametrize("batch_size", [1, 4, 13, 100])
def test_nn_topk_matches_brute_force(batch_size):
    Q, T = _data()
    sims = _cos(Q, T)
    want = np.argsort(-sims, axis=1)[:, :5]
    idx, scores = topk(Q, T, 5, method="nn", batch_size=batch_size)
    assert idx.dtype == np.int64 and scores.dtype == np.float32 and idx.shape == (13, 5)
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_allclose(scores, np.take_along_axis(sims, want, axis=1), atol=1e-5)


def test_k_is_clipped_to_number_of_targets():
    Q, T = _data(n_t=3)
    idx, _ = topk(Q, T, 10)
    assert idx.shape == (13, 3)
    np.testing.assert_array_equal(idx, np.argsort(-_cos(Q, T), axis=1))


@pytest.mark.parametrize("batch_size", [2, 50])
def test_knn_mean_similarity_matches_brute_force(batch_size):
    Q, T = _data()
    want = np.sort(_cos(Q, T), axis=1)[:, -3:].mean(axis=1)
    got = knn_mean_similarity(Q, T, 3, batch_size=batch_size)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(knn_mean_similarity(Q, T[:2], 5), _cos(Q, T[:2]).mean(1), atol=1e-5)


@pytest.mark.parametrize("batch_size", [3, 64])
def test_csls_matches_brute_force_with_query_pool(batch_size):
    Q, T = _data()
    pool = np.vstack([Q, np.random.default_rng(1).normal(size=(9, 6))])
    r_t = np.sort(_cos(Q, T), axis=1)[:, -4:].mean(axis=1)
    r_s = np.sort(_cos(T, pool), axis=1)[:, -4:].mean(axis=1)
    csls = 2 * _cos(Q, T) - r_t[:, None] - r_s[None, :]
    want = np.argsort(-csls, axis=1)[:, :3]
    idx, scores = topk(Q, T, 3, method="csls", csls_k=4, batch_size=batch_size, query_pool=pool)
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_allclose(scores, np.take_along_axis(csls, want, axis=1), atol=1e-5)


def test_csls_beats_nn_when_a_hub_is_planted():
    rng = np.random.default_rng(0)
    n, d = 60, 100
    targets = unit_rows(rng.normal(size=(n, d)))
    hub_direction = unit_rows(rng.normal(size=(1, d)))[0]
    # Every query is its gold target plus a shared offset; the hub sits on that offset.
    queries = targets + 1.05 * hub_direction + 0.3 * rng.normal(size=(n, d)) / np.sqrt(d)
    all_targets = np.vstack([targets, hub_direction])
    hub = n
    gold = np.arange(n)
    nn_idx, _ = topk(queries, all_targets, 1, method="nn")
    csls_idx, _ = topk(queries, all_targets, 1, method="csls", csls_k=10)
    nn_acc = np.mean(nn_idx[:, 0] == gold)
    csls_acc = np.mean(csls_idx[:, 0] == gold)
    assert np.mean(nn_idx[:, 0] == hub) > 0.5
    assert np.mean(csls_idx[:, 0] == hub) < 0.1
    assert csls_acc > nn_acc + 0.4


def test_unknown_method_raises():
    Q, T = _data()
    with pytest.raises(ValueError, match="'cosine'"):
        topk(Q, T, 1, method="cosine")


def test_nn_and_csls_from_one_pass_match_brute_force_on_wide_targets():
    rng = np.random.default_rng(6)
    Q, T, pool = (rng.normal(size=(n, 8)) for n in (50, 3000, 2500))
    r_t = np.sort(_cos(Q, T), axis=1)[:, -10:].mean(axis=1)
    r_s = np.sort(_cos(T, pool), axis=1)[:, -10:].mean(axis=1)
    csls = 2 * _cos(Q, T) - r_t[:, None] - r_s[None, :]
    got = topk_methods(Q, T, 5, ("nn", "csls"), batch_size=16, query_pool=pool)
    for method, sims in (("nn", _cos(Q, T)), ("csls", csls)):
        want = np.argsort(-sims, axis=1)[:, :5]
        np.testing.assert_array_equal(got[method][0], want)
        np.testing.assert_allclose(got[method][1], np.take_along_axis(sims, want, 1), atol=1e-5)


@pytest.mark.parametrize(("tile_cols", "block_values"), [(5, 20), (7, 1000), (4096, 1 << 23)])
def test_tiles_merge_to_the_brute_force_answer(monkeypatch, tile_cols, block_values):
    # Tiny tiles split every row over several column tiles, so merging is exercised; the
    # CSLS scores are checked against the textbook formula.
    from dtl_cli.align import retrieval

    monkeypatch.setattr(retrieval, "_TILE_COLS", tile_cols)
    monkeypatch.setattr(retrieval, "_FULL_WIDTH", tile_cols)
    monkeypatch.setattr(retrieval, "_BLOCK_VALUES", block_values)
    rng = np.random.default_rng(5)
    Q, T, pool = rng.normal(size=(30, 6)), rng.normal(size=(41, 6)), rng.normal(size=(50, 6))
    cos = _cos(Q, T)
    r_t = np.sort(cos, axis=1)[:, -4:].mean(axis=1)
    r_s = np.sort(_cos(T, pool), axis=1)[:, -4:].mean(axis=1)
    csls = 2 * cos - r_t[:, None] - r_s[None, :]
    got = topk_methods(Q, T, 6, csls_k=4, query_pool=pool, batch_size=8)
    for method, scores in (("nn", cos), ("csls", csls)):
        want = np.argsort(-scores, axis=1)[:, :6]
        np.testing.assert_array_equal(got[method][0], want)
        np.testing.assert_allclose(
            got[method][1], np.take_along_axis(scores, want, axis=1), atol=1e-5
        )
    with pytest.raises(ValueError, match="one penalised"):
        retrieval.tiled_top(Q, T, [(1, r_s), (1, r_s)])
    with pytest.raises(ValueError, match="one plain"):
        retrieval.tiled_top(Q, T, [(1, None), (2, None)])


def test_worker_threads_give_the_single_thread_answer_bit_for_bit(monkeypatch):
    from dtl_cli.align import retrieval

    rng = np.random.default_rng(8)
    A, B = unit_rows(rng.normal(size=(700, 16))), unit_rows(rng.normal(size=(40000, 16)))
    penalty = rng.random(40000).astype(np.float32)
    wants = [(10, None), (3, penalty)]
    monkeypatch.setattr(retrieval, "_cores", lambda: 1)
    alone = retrieval.tiled_top(A, B, wants, batch_size=64)
    monkeypatch.setattr(retrieval, "_cores", lambda: 3)
    threaded = retrieval.tiled_top(A, B, wants, batch_size=64)
    for (i1, v1), (i2, v2) in zip(alone, threaded, strict=True):
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(v1, v2)
    want_values = -np.sort(-(A @ B.T), axis=1)[:, :10]
    np.testing.assert_allclose(threaded[0][1], want_values, atol=1e-6)


def test_many_cores_share_out_blas_threads_between_at_most_four_workers(monkeypatch):
    import contextlib

    from dtl_cli.align import retrieval

    limits = []

    @contextlib.contextmanager
    def record(n, user_api):
        limits.append((n, user_api))
        yield

    monkeypatch.setattr(retrieval, "threadpool_limits", record)
    monkeypatch.setattr(retrieval, "_cores", lambda: 16)
    rng = np.random.default_rng(2)
    A, B = unit_rows(rng.normal(size=(300, 8))), unit_rows(rng.normal(size=(50, 8)))
    idx, _ = retrieval.tiled_top(A, B, [(3, None)], batch_size=32)[0]  # 10 row blocks
    assert limits == [(4, "blas")]  # 4 workers x 4 BLAS threads
    np.testing.assert_array_equal(idx, np.argsort(-(A @ B.T), axis=1, kind="stable")[:, :3])


@pytest.mark.parametrize("n_b", [5000, 40000])  # one column tile; three
def test_penalty_layout_gives_the_in_place_answer(monkeypatch, n_b):
    from dtl_cli.align import retrieval

    rng = np.random.default_rng(9)
    A, B = unit_rows(rng.normal(size=(300, 16))), unit_rows(rng.normal(size=(n_b, 16)))
    penalty = (0.3 + 0.2 * rng.random(n_b)).astype(np.float32)
    wants = [(10, None), (25, penalty)]
    monkeypatch.setattr(retrieval, "_LAYOUT_FROM_ROWS", 10**9)  # shift each tile in place
    in_place = retrieval.tiled_top(A, B, wants, batch_size=64)
    monkeypatch.setattr(retrieval, "_LAYOUT_FROM_ROWS", 1)  # reorder B's columns by penalty
    laid_out = retrieval.tiled_top(A, B, wants, batch_size=64)
    for (i1, v1), (i2, v2) in zip(in_place, laid_out, strict=True):
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(v1, v2)
    csls_part = 2 * (A @ B.T) - penalty
    want = np.argsort(-csls_part, axis=1, kind="stable")[:, :25]
    np.testing.assert_array_equal(laid_out[1][0], want)
    np.testing.assert_allclose(laid_out[1][1], np.take_along_axis(csls_part, want, 1), atol=1e-6)


def test_per_row_depths_give_each_row_its_own_top_k():
    from dtl_cli.align import retrieval

    rng = np.random.default_rng(10)
    A, B = unit_rows(rng.normal(size=(500, 8))), unit_rows(rng.normal(size=(3000, 8)))
    depth = rng.geometric(0.2, 500)  # 1, 2, ... like stochastic induction's picks
    penalty = rng.random(3000).astype(np.float32)
    (idx, values), (p_idx, p_values) = retrieval.tiled_top(
        A, B, [(depth, None), (depth + 1, penalty)], batch_size=32
    )
    assert idx.shape == (500, depth.max()) and p_idx.shape == (500, depth.max() + 1)
    for got_idx, got_values, scores, d in (
        (idx, values, A @ B.T, depth),
        (p_idx, p_values, 2 * (A @ B.T) - penalty, depth + 1),
    ):
        want = np.argsort(-scores, axis=1, kind="stable")
        for i in range(500):
            np.testing.assert_array_equal(got_idx[i, : d[i]], want[i, : d[i]])
            np.testing.assert_allclose(got_values[i, : d[i]], scores[i, want[i, : d[i]]], atol=1e-6)
        # Each row keeps exactly its own depth; the rest of its width is padding.
        np.testing.assert_array_equal(np.isfinite(got_values).sum(axis=1), d)
        assert np.all(got_idx[~np.isfinite(got_values)] == 0)
