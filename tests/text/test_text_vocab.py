import numpy as np
import pytest

from dtl_cli.text.vocab import OOV, PAD, build_vocab, encode


def test_build_vocab_starts_at_two_in_order():
    assert (PAD, OOV) == (0, 1)
    assert build_vocab(["the", "cat", "the", "sat"]) == {"the": 2, "cat": 3, "sat": 5}


def test_encode_pads_truncates_and_marks_oov():
    index = build_vocab(["a", "b", "c"])
    ids, n_truncated = encode([["a", "zzz"], ["c", "b", "a", "b"], []], index, max_len=3)
    assert ids.dtype == np.int32
    assert ids.tolist() == [[2, OOV, PAD], [4, 3, 2], [PAD, PAD, PAD]]
    assert n_truncated == 1


def test_encode_exact_length_is_not_truncated():
    ids, n_truncated = encode([["a", "a"]], {"a": 2}, max_len=2)
    assert ids.tolist() == [[2, 2]]
    assert n_truncated == 0


def test_encode_rejects_bad_max_len():
    with pytest.raises(ValueError, match="max_len"):
        encode([["a"]], {"a": 2}, max_len=0)
