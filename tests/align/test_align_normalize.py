import numpy as np
import pytest

from dtl_cli.align.normalize import normalize


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=3.0, size=(20, 5)).astype(np.float64)
    X[4] = 0.0
    return X


def test_unit_rows_have_length_one_and_zero_rows_stay_zero():
    X = _data()
    out = normalize(X, ["unit"])
    norms = np.linalg.norm(out, axis=1)
    assert out.dtype == np.float32
    assert norms[4] == 0.0
    np.testing.assert_allclose(np.delete(norms, 4), 1.0, atol=1e-6)


def test_center_gives_zero_column_means():
    out = normalize(_data(), ["center"])
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)


def test_order_matters():
    X = _data()
    unit_then_center = normalize(X, ["unit", "center"])
    center_then_unit = normalize(X, ["center", "unit"])
    np.testing.assert_allclose(unit_then_center.mean(axis=0), 0.0, atol=1e-6)
    assert not np.allclose(np.linalg.norm(unit_then_center, axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(center_then_unit, axis=1), 1.0, atol=1e-6)
    assert not np.allclose(center_then_unit.mean(axis=0), 0.0, atol=1e-3)


def test_none_copies_and_leaves_input_untouched():
    X = _data()
    before = X.copy()
    out = normalize(X, ["none"])
    np.testing.assert_allclose(out, X.astype(np.float32))
    normalize(X, ["unit", "center"])
    np.testing.assert_array_equal(X, before)
    X32 = X.astype(np.float32)
    assert normalize(X32, []) is not X32


def test_unknown_step_is_named():
    with pytest.raises(ValueError, match="'scale'"):
        normalize(_data(), ["unit", "scale"])
