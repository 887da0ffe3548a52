"""Label-free adaptation reads the pool's text and the configured unlabelled documents."""

import numpy as np
from omegaconf import OmegaConf

from dtl_cli.stages.adaptation import unlabelled_text


def _cfg(limit=100, seed=0):
    return OmegaConf.create(
        {"seed": seed, "model": {"finetune": {"adapt": {"max_documents": limit}}}}
    )


def test_the_pool_keeps_its_repeats_and_unlabelled_documents_already_in_it_are_dropped():
    pool = np.array([[1, 2], [1, 2], [3, 4]])
    extra = np.array([[3, 4], [5, 6], [5, 6], [1, 2]])
    text = unlabelled_text(_cfg(), pool, extra)
    np.testing.assert_array_equal(text, [[1, 2], [1, 2], [3, 4], [5, 6], [5, 6]])


def test_no_unlabelled_documents_leave_the_pool_as_it_is():
    pool = np.arange(12).reshape(6, 2)
    assert unlabelled_text(_cfg(), pool, np.zeros((0, 2), int)) is pool


def test_above_the_limit_a_seeded_sample_in_order():
    pool = np.arange(40).reshape(20, 2)
    extra = np.arange(40, 80).reshape(20, 2)
    first = unlabelled_text(_cfg(limit=10, seed=3), pool, extra)
    again = unlabelled_text(_cfg(limit=10, seed=3), pool, extra)
    other = unlabelled_text(_cfg(limit=10, seed=4), pool, extra)
    assert first.shape == (10, 2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert (np.diff(first[:, 0]) > 0).all()  # kept in order
    assert len({r.tobytes() for r in first}) == 10
