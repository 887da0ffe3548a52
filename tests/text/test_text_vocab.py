import numpy as np
import pytest

from dtl_cli.text.vocab import OOV, PAD, build_vocab, encode, length_from_data


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


def test_max_len_from_data_is_the_percentile_rounded_up_and_capped():
    lengths = list(range(1, 101))  # 1..100 tokens
    assert length_from_data(lengths, percentile=95, cap=512, step=1) == 96
    assert length_from_data(lengths, percentile=95, cap=512) == 96  # a multiple of 16
    assert length_from_data(lengths, percentile=80, cap=512) == 96  # 81, rounded up
    assert length_from_data(lengths, percentile=50, cap=512, step=1) == 51
    assert length_from_data(lengths, percentile=100, cap=64) == 64  # capped for cost
    assert length_from_data([3, 4, 5], percentile=95) == 16
    tokens = [["w"] * n for n in lengths]
    max_len = length_from_data([len(t) for t in tokens], percentile=90, step=1)
    _, n_cut = encode(tokens, {"w": 2}, max_len)
    assert max_len == 91 and n_cut == 9  # at most 10% of the documents are cut
    for bad in ({"percentile": 0}, {"cap": 0}, {"step": 0}):
        with pytest.raises(ValueError):
            length_from_data(lengths, **bad)
    with pytest.raises(ValueError, match="no documents"):
        length_from_data([])
