import numpy as np
import pytest

from dtl_cli.align.learn import carry_vectors, learn_map
from dtl_cli.align.mappings import (
    apply_map,
    fit_linear,
    fit_procrustes,
    identity_map,
    invert_map,
)
from dtl_cli.align.normalize import normalize, unit_rows


def _orthogonal(d, rng):
    Q, R = np.linalg.qr(rng.normal(size=(d, d)))
    return Q * np.sign(np.diag(R))


def test_procrustes_recovers_planted_orthogonal_map_exactly():
    rng = np.random.default_rng(0)
    Q = _orthogonal(8, rng)
    bias = rng.normal(size=8)
    X = rng.normal(size=(50, 8))
    Y = X @ Q.T + bias
    W, b = fit_procrustes(X, Y)
    assert W.dtype == np.float32 and W.shape == (8, 8) and b.shape == (8,)
    np.testing.assert_allclose(W, Q, atol=1e-5)
    np.testing.assert_allclose(b, bias, atol=1e-5)


def test_procrustes_nearly_recovers_map_under_noise():
    rng = np.random.default_rng(0)
    Q = _orthogonal(8, rng)
    bias = rng.normal(size=8)
    X = rng.normal(size=(500, 8))
    Y = X @ Q.T + bias + 0.05 * rng.normal(size=(500, 8))
    W, b = fit_procrustes(X, Y)
    np.testing.assert_allclose(W @ W.T, np.eye(8), atol=1e-5)
    np.testing.assert_allclose(W, Q, atol=0.02)
    np.testing.assert_allclose(b, bias, atol=0.02)


def test_procrustes_on_row_pairs_in_chunks_matches_gathered_rows(monkeypatch):
    from dtl_cli.align import mappings

    monkeypatch.setattr(mappings, "_CHUNK", 7)  # 100 pairs: 15 chunks, a partial last one
    rng = np.random.default_rng(1)
    Q = _orthogonal(6, rng)
    X = (rng.normal(size=(40, 6)) + 3.0).astype(np.float32)  # far from centred
    Y = (X @ Q.T + 0.1 * rng.normal(size=(40, 6)) - 2.0).astype(np.float32)
    pairs = rng.integers(0, 40, size=(100, 2))
    pairs[:60, 1] = pairs[:60, 0]  # mostly true translations, some noise pairs
    W, b = fit_procrustes(X, Y, pairs)
    A, B = X[pairs[:, 0]].astype(float), Y[pairs[:, 1]].astype(float)  # the textbook fit
    U, _, Vt = np.linalg.svd((B - B.mean(0)).T @ (A - A.mean(0)))
    W_ref = U @ Vt
    b_ref = B.mean(0) - W_ref @ A.mean(0)
    np.testing.assert_allclose(W, W_ref, atol=1e-5)
    np.testing.assert_allclose(b, b_ref, atol=1e-5)
    with pytest.raises(ValueError, match="zero dictionary pairs"):
        fit_procrustes(X, Y, np.zeros((0, 2), dtype=int))
    with pytest.raises(ValueError, match=r"pairs\[:, 1\] must be row indices in \[0, 40\)"):
        fit_procrustes(X, Y, np.array([[0, 40]]))
    with pytest.raises(ValueError, match="integer row pairs"):
        fit_procrustes(X, Y, np.array([0.0, 1.0]))


def test_procrustes_keeps_its_accuracy_far_from_the_origin():
    # Means of 1000 against a spread of 0.01: summing y x^T and subtracting n my mx^T
    # would cancel away most digits; the fit must match the textbook one on centred rows.
    rng = np.random.default_rng(2)
    Q = _orthogonal(5, rng)
    X = 1000.0 + 0.01 * rng.normal(size=(300, 5))
    Y = X @ Q.T + 1e-4 * rng.normal(size=(300, 5)) - 500.0
    W, b = fit_procrustes(X, Y, np.stack([np.arange(300)] * 2, axis=1))
    U, _, Vt = np.linalg.svd((Y - Y.mean(0)).T @ (X - X.mean(0)))
    np.testing.assert_allclose(W, U @ Vt, atol=1e-6)
    np.testing.assert_allclose(b, Y.mean(0) - U @ Vt @ X.mean(0), rtol=1e-5)


def test_procrustes_rejects_unequal_dimensions():
    with pytest.raises(ValueError, match="equal dimensions"):
        fit_procrustes(np.zeros((5, 3)), np.zeros((5, 4)))


def test_fit_linear_recovers_planted_affine_map():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 4))
    bias = rng.normal(size=6)
    X = rng.normal(size=(40, 4))
    W, b = fit_linear(X, X @ A.T + bias)
    assert W.shape == (6, 4) and W.dtype == np.float32
    np.testing.assert_allclose(W, A, atol=1e-5)
    np.testing.assert_allclose(b, bias, atol=1e-5)


def test_fit_linear_ridge_shrinks_weights_but_not_bias():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3))
    bias = np.array([5.0, -2.0, 1.0])
    X = rng.normal(size=(30, 3))
    Y = X @ A.T + bias
    W_small, _ = fit_linear(X, Y, ridge=1.0)
    W_big, b_big = fit_linear(X, Y, ridge=1e6)
    assert np.linalg.norm(W_small) < np.linalg.norm(A)
    assert np.linalg.norm(W_big) < 1e-2
    np.testing.assert_allclose(b_big, Y.mean(axis=0), atol=1e-2)


def test_relative_ridge_shrinks_alike_at_any_scale_and_pair_count():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(4, 4))
    X = rng.normal(size=(200, 4))
    Y = X @ A.T + 0.5 * rng.normal(size=(200, 4))
    W, b = fit_linear(X, Y, ridge=1.0, relative=True)
    # In absolute units that is the trace of the centred Gram matrix over d.
    W_abs, b_abs = fit_linear(X, Y, ridge=float(((X - X.mean(0)) ** 2).sum()) / 4)
    np.testing.assert_allclose(W, W_abs, atol=1e-5)
    np.testing.assert_allclose(b, b_abs, atol=1e-5)
    # Inputs 10 times longer, or the pairs repeated 3 times, shrink the fit alike (the
    # absolute ridge would shrink the first far less and the second a third as much).
    W_long, _ = fit_linear(10 * X, Y, ridge=1.0, relative=True)
    np.testing.assert_allclose(10 * W_long, W, atol=1e-4)
    W_more, _ = fit_linear(np.tile(X, (3, 1)), np.tile(Y, (3, 1)), ridge=1.0, relative=True)
    np.testing.assert_allclose(W_more, W, atol=1e-5)
    assert np.linalg.norm(W) < 0.7 * np.linalg.norm(fit_linear(X, Y)[0])


def test_ridge_toward_orthogonal_goes_from_least_squares_to_procrustes():
    rng = np.random.default_rng(3)
    Q = _orthogonal(5, rng)
    X = rng.normal(size=(40, 5)) * np.array([3.0, 1.0, 1.0, 0.3, 0.1])  # weak directions
    Y = X @ Q.T + 0.3 * rng.normal(size=(40, 5)) + 2.0
    W_ls, b_ls = fit_linear(X, Y)
    W_0, b_0 = fit_linear(X, Y, ridge=0.0, toward="orthogonal")
    np.testing.assert_allclose(W_0, W_ls, atol=1e-5)  # no ridge: no pull at all
    W_rot, b_rot = fit_procrustes(X, Y)
    W_inf, b_inf = fit_linear(X, Y, ridge=1e7, relative=True, toward="orthogonal")
    np.testing.assert_allclose(W_inf, W_rot, atol=1e-4)  # the limit is Procrustes, not 0
    np.testing.assert_allclose(b_inf, b_rot, atol=1e-3)
    # In between, W is nearer the rotation than least squares is, and not shrunk.
    W_mid, _ = fit_linear(X, Y, ridge=1.0, relative=True, toward="orthogonal")
    assert np.linalg.norm(W_mid - Q) < np.linalg.norm(W_ls - Q)
    W_zero, _ = fit_linear(X, Y, ridge=1.0, relative=True)
    assert np.linalg.norm(W_mid) > np.linalg.norm(W_zero)
    # Unequal dimensions get the semi-orthogonal factor: ridge -> infinity gives W with
    # orthonormal rows from 5 to 3 dimensions.
    W_wide, _ = fit_linear(X, Y[:, :3], ridge=1e7, relative=True, toward="orthogonal")
    np.testing.assert_allclose(W_wide @ W_wide.T, np.eye(3), atol=1e-4)
    with pytest.raises(ValueError, match="toward"):
        fit_linear(X, Y, ridge=1.0, toward="identity")


def test_apply_map_uses_row_convention():
    W = np.array([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]])
    b = np.array([1.0, 0.0, -1.0])
    out = apply_map(np.array([[1.0, 1.0]]), W, b)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[4.0, 1.0, 2.0]])


def test_invert_orthogonal_map_is_exact_transpose():
    rng = np.random.default_rng(0)
    W = _orthogonal(5, rng).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    W_inv, b_inv = invert_map(W, b)
    np.testing.assert_array_equal(W_inv, W.T)
    X = rng.normal(size=(10, 5))
    np.testing.assert_allclose(apply_map(apply_map(X, W, b), W_inv, b_inv), X, atol=1e-5)


@pytest.mark.parametrize("shape", [(4, 4), (7, 4)])
def test_invert_general_map_round_trips(shape):
    rng = np.random.default_rng(0)
    W = rng.normal(size=shape)
    b = rng.normal(size=shape[0])
    W_inv, b_inv = invert_map(W, b)
    assert W_inv.shape == (shape[1], shape[0])
    X = rng.normal(size=(10, shape[1]))
    np.testing.assert_allclose(apply_map(apply_map(X, W, b), W_inv, b_inv), X, atol=1e-4)


def test_identity_map_leaves_vectors_unchanged():
    W, b = identity_map(3)
    X = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(apply_map(X, W, b), X, atol=1e-6)


def _planted(rng, n: int, d: int, noise: float):
    """Z [n, d] and a noisy affine image of it under a planted, non-orthogonal (M, c)."""
    Z = rng.normal(size=(n, d))
    M = rng.normal(size=(d, d)) / np.sqrt(d) + np.eye(d)
    c = rng.normal(size=d)
    return Z, Z @ M.T + c + noise * rng.normal(size=(n, d)), M, c


@pytest.mark.parametrize("direction", ["source_to_target", "target_to_source"])
def test_linear_maps_recover_the_planted_map_in_the_direction_each_is_used(direction):
    rng = np.random.default_rng(7)
    n, d = 600, 8
    pairs = np.stack([np.arange(n), np.arange(n)], axis=1)
    # Target words are carried into the source space: the map target -> source is planted
    # (source = M target + c + noise), and the reverse map must find it.
    Y, X, M, c = _planted(rng, n, d, noise=1.0)
    learned = learn_map("linear", X, Y, pairs, direction=direction)
    np.testing.assert_allclose(learned.W_reverse, M, atol=0.15)
    np.testing.assert_allclose(learned.b_reverse, c, atol=0.15)
    # Inverting the forward least-squares fit would not: noise shrinks it, so its inverse
    # over-stretches.
    W_inv, _ = invert_map(learned.W, learned.b)
    assert np.abs(W_inv - M).max() > 0.3
    # BLI maps source -> target: with source -> target planted, the forward map finds it.
    X, Y, M, c = _planted(rng, n, d, noise=1.0)
    learned = learn_map("linear", X, Y, pairs, direction=direction)
    np.testing.assert_allclose(learned.W, M, atol=0.15)
    np.testing.assert_allclose(learned.b, c, atol=0.15)


def test_carry_vectors_gives_a_shrunk_map_the_source_normalisation_back():
    rng = np.random.default_rng(3)
    n, d = 400, 8
    pairs = np.stack([np.arange(n), np.arange(n)], axis=1)
    Q = _orthogonal(d, rng)
    X = normalize(rng.normal(size=(n, d)), ["unit", "center", "unit"])  # source, as trained on
    Y = normalize(X @ Q.T + 0.8 * rng.normal(size=(n, d)), ["unit", "center", "unit"])
    learned = learn_map("linear", X, Y, pairs)
    plain = carry_vectors(Y, learned.W_reverse, learned.b_reverse)
    np.testing.assert_allclose(plain, apply_map(Y, learned.W_reverse, learned.b_reverse))
    # Least squares on noisy pairs shrinks every carried vector toward the mean...
    assert np.linalg.norm(plain, axis=1).mean() < 0.8
    steps = ["unit", "center", "unit"]
    carried = carry_vectors(Y, learned.W_reverse, learned.b_reverse, steps)
    # ...the source's steps give them its norms and centre back, pointing where the map put
    # them (as close to their translations in angle), so a linear score of a carried word
    # is as large as of its translation.
    assert carried.dtype == np.float32 and carried.shape == (n, d)
    np.testing.assert_allclose(np.linalg.norm(carried, axis=1), 1.0, atol=1e-5)
    assert np.linalg.norm(carried.mean(axis=0)) < 0.05
    cosine = np.sum(unit_rows(plain) * X, axis=1).mean()
    assert np.sum(carried * X, axis=1).mean() == pytest.approx(cosine, abs=0.01)
    assert np.sum(plain * X, axis=1).mean() < 0.8 * cosine
