import numpy as np
import pytest

from dtl_cli.align.learn import learn_map
from dtl_cli.align.mappings import apply_map, fit_procrustes
from dtl_cli.align.multistep import MultiStep, fit_multistep
from dtl_cli.align.retrieval import topk


@pytest.fixture
def pairs():
    """Anisotropic source rows [400, 6] and their noisy rotated translations."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.3, 0.1]) + 0.5
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    Y = X @ Q.T + 0.05 * rng.normal(size=X.shape) - 0.2
    return X.astype(np.float32), Y.astype(np.float32)


def _shared_images(X, Y, steps):
    (W, b), (W_s, b_s) = fit_multistep(X, Y, steps)
    source = apply_map(apply_map(X, W, b), W_s, b_s).astype(np.float64)
    target = apply_map(Y, W_s, b_s).astype(np.float64)
    return source - source.mean(axis=0), target - target.mean(axis=0)


def test_defaults_are_orthogonal_procrustes(pairs):
    X, Y = pairs
    (W, b), (W_s, _) = fit_multistep(X, Y)
    W_p, b_p = fit_procrustes(X, Y)
    np.testing.assert_allclose(W, W_p, atol=1e-5)
    np.testing.assert_allclose(b, b_p, atol=1e-5)
    np.testing.assert_allclose(W_s @ W_s.T, np.eye(6), atol=1e-5)  # cosines unchanged
    assert MultiStep().is_orthogonal and not MultiStep(whiten=True).is_orthogonal


def test_whitening_gives_both_sides_identity_covariance(pairs):
    source, target = _shared_images(*pairs, MultiStep(whiten=True))
    np.testing.assert_allclose(source.T @ source, np.eye(6), atol=1e-3)
    np.testing.assert_allclose(target.T @ target, np.eye(6), atol=1e-3)


def test_dewhitening_restores_each_sides_own_spectrum(pairs):
    X, Y = (a.astype(np.float64) for a in pairs)
    steps = MultiStep(whiten=True, src_dewhiten="src", trg_dewhiten="trg")
    source, target = _shared_images(*pairs, steps)
    for shared, original in ((source, X), (target, Y)):
        centred = original - original.mean(axis=0)
        np.testing.assert_allclose(
            np.linalg.eigvalsh(shared.T @ shared),
            np.linalg.eigvalsh(centred.T @ centred),
            rtol=1e-3,
        )


def test_reweighting_scales_shared_dimensions_by_singular_values(pairs):
    source, target = _shared_images(*pairs, MultiStep(whiten=True, src_reweight=1, trg_reweight=1))
    gram = source.T @ source
    s2 = np.diag(gram)
    np.testing.assert_allclose(gram, np.diag(s2), atol=1e-3)  # uncorrelated dimensions
    assert np.all(np.diff(s2) <= 1e-6) and s2[0] > s2[-1]  # largest singular value first
    np.testing.assert_allclose(np.diag(target.T @ target), s2, rtol=1e-3)


@pytest.mark.parametrize("direction", ["source_to_target", "target_to_source"])
@pytest.mark.parametrize(
    "steps",
    [
        MultiStep(whiten=True),
        # VecMap's recipe, and both sides de-whitened to the target's variances.
        MultiStep(
            whiten=True, src_reweight=0.5, trg_reweight=0.5, src_dewhiten="src", trg_dewhiten="trg"
        ),
        MultiStep(
            whiten=True, src_reweight=0.5, trg_reweight=0.5, src_dewhiten="trg", trg_dewhiten="trg"
        ),
    ],
)
def test_learn_map_recovers_translations_in_the_shared_space(pairs, steps, direction):
    X, Y = pairs
    index = np.stack([np.arange(300), np.arange(300)], axis=1)
    learned = learn_map(
        "procrustes", X, Y, index, direction=direction, steps=["center"], multistep=steps
    )
    W_s, b_s = learned.shared
    mapped = apply_map(apply_map(X[300:], learned.W, learned.b), W_s, b_s)
    best, _ = topk(mapped, apply_map(Y[300:], W_s, b_s), 1)
    assert np.mean(best[:, 0] == np.arange(100)) >= 0.95
    back = apply_map(apply_map(Y, learned.W_reverse, learned.b_reverse), learned.W, learned.b)
    np.testing.assert_allclose(back, Y, atol=1e-3)  # reverse is the inverse


def test_multistep_options_are_checked():
    with pytest.raises(ValueError, match="src_dewhiten"):
        MultiStep(src_dewhiten="source")
    with pytest.raises(ValueError, match="trg_reweight"):
        MultiStep(trg_reweight=-1)
    X = np.eye(4, dtype=np.float32)
    with pytest.raises(ValueError, match="procrustes or self_learning"):
        learn_map("linear", X, X, np.array([[0, 0]]), multistep=MultiStep(whiten=True))
