import numpy as np
import pytest

from dtl_cli.align.bli import evaluate_bli, filter_pairs, induce_dictionary, read_dictionary
from dtl_cli.errors import DataError

# Targets are the 5 basis vectors; mapped sources sit at chosen distances from them.
TGT_WORDS = ["a", "b", "c", "d", "e"]
TGT_VECS = np.eye(5, dtype=np.float32)
SRC_WORDS = ["x", "y", "z", "w"]
MAPPED_SRC = np.array(
    [
        [1.0, 0.0, 0.0, 0.0, 0.0],  # x: nearest a
        [0.0, 0.9, 0.5, 0.2, 0.0],  # y: b, then c, then d
        [0.0, 0.0, 0.0, 0.1, 1.0],  # z: e, then d
        [0.0, 0.0, 0.0, 1.0, 0.3],  # w: d, then e
    ],
    dtype=np.float32,
)


def test_read_dictionary_accepts_tabs_spaces_blank_lines_and_repeats(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("chat\tcat\n\nchat  kitty\r\nchien dog\n  \nélan élan\n", encoding="utf-8")
    assert read_dictionary(path) == [
        ("chat", "cat"),
        ("chat", "kitty"),
        ("chien", "dog"),
        ("élan", "élan"),
    ]


@pytest.mark.parametrize("bad_line", ["one", "a b c"])
def test_read_dictionary_names_bad_line(tmp_path, bad_line):
    path = tmp_path / "dict.txt"
    path.write_text(f"a b\n\n{bad_line}\nc d\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dict\.txt:3: expected 2 fields") as err:
        read_dictionary(path)
    assert f"found {len(bad_line.split())}" in str(err.value)
    assert "\n" not in str(err.value)


def test_read_dictionary_reports_non_utf8_line(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_bytes(b"a b\ncaf\xe9 coffee\n")
    with pytest.raises(DataError, match=r"dict\.txt:2: not UTF-8 \(byte 0x"):
        read_dictionary(path)


def test_read_dictionary_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="no such dictionary file"):
        read_dictionary(tmp_path / "nope.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(DataError, match="empty.txt"):
        read_dictionary(empty)


def test_filter_pairs_keeps_pairs_in_both_vocabularies():
    src = {"x": 0, "y": 1}
    tgt = {"a": 0, "b": 1}
    kept, dropped = filter_pairs([("x", "a"), ("y", "zz"), ("q", "b"), ("y", "b")], src, tgt)
    assert kept == [(0, 0), (1, 1)]
    assert dropped == 2


def test_evaluate_bli_multiple_gold_coverage_and_monotone_precision():
    pairs = [
        ("x", "b"),  # wrong gold ...
        ("x", "a"),  # ... but this one is top 1: hit at 1
        ("y", "d"),  # rank 3: hit at 5 only
        ("z", "c"),  # never in z's top 2 but in top 5 (5 targets)
        ("w", "zz"),  # gold not in target vocab: unreachable, still a query
        ("oov", "a"),  # source not in vocab: lowers coverage
    ]
    result = evaluate_bli(SRC_WORDS, MAPPED_SRC, TGT_WORDS, TGT_VECS, pairs, ks=(1, 2, 5))
    assert result["n_pairs"] == 6
    assert result["n_queries"] == 4
    assert result["coverage"] == pytest.approx(4 / 5)
    assert result["nn"] == {"p@1": 0.25, "p@2": 0.25, "p@5": 0.75}
    for method in ("nn", "csls"):
        p = result[method]
        assert 0.0 <= p["p@1"] <= p["p@2"] <= p["p@5"] <= 1.0


def test_evaluate_bli_no_covered_query_raises_with_counts():
    pairs = [("q1", "a"), ("q2", "zz"), ("q3", "yy")]
    with pytest.raises(DataError, match="none of the 3 dictionary pairs") as err:
        evaluate_bli(SRC_WORDS, MAPPED_SRC, TGT_WORDS, TGT_VECS, pairs)
    assert "2 pairs are in neither vocabulary" in str(err.value)
    assert "language order" in str(err.value)


def test_evaluate_bli_recovers_planted_translation():
    rng = np.random.default_rng(0)
    tgt = rng.normal(size=(40, 8)).astype(np.float32)
    perm = rng.permutation(40)
    mapped = tgt[perm] + 0.01 * rng.normal(size=(40, 8)).astype(np.float32)
    src_words = [f"s{i}" for i in range(40)]
    tgt_words = [f"t{i}" for i in range(40)]
    pairs = [(f"s{i}", f"t{perm[i]}") for i in range(40)]
    result = evaluate_bli(src_words, mapped, tgt_words, tgt, pairs, batch_size=7)
    assert result["coverage"] == 1.0
    assert result["nn"]["p@1"] == 1.0 and result["csls"]["p@1"] == 1.0
    wrong = [(f"s{i}", f"t{perm[(i + 1) % 40]}") for i in range(40)]
    assert evaluate_bli(src_words, mapped, tgt_words, tgt, wrong)["nn"]["p@1"] == 0.0


def test_induce_dictionary_returns_best_target_per_source_word():
    out = induce_dictionary(SRC_WORDS, MAPPED_SRC, TGT_WORDS, TGT_VECS, method="nn", n_words=3)
    assert [(s, t) for s, t, _ in out] == [("x", "a"), ("y", "b"), ("z", "e")]
    assert out[0][2] == pytest.approx(1.0)
    assert len(induce_dictionary(SRC_WORDS, MAPPED_SRC, TGT_WORDS, TGT_VECS)) == 4


def _brute_csls(mapped, tgt, pool, k=10):
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    cos = unit(mapped) @ unit(tgt).T
    r_t = np.sort(cos, axis=1)[:, -k:].mean(axis=1)
    r_s = np.sort(unit(tgt) @ unit(pool).T, axis=1)[:, -k:].mean(axis=1)
    return 2 * cos - r_t[:, None] - r_s[None, :]


def test_csls_pool_takes_r_s_from_the_first_source_rows_only():
    rng = np.random.default_rng(3)
    mapped = rng.normal(size=(80, 6)).astype(np.float32)
    tgt = rng.normal(size=(50, 6)).astype(np.float32)
    src_words = [f"s{i}" for i in range(80)]
    tgt_words = [f"t{j}" for j in range(50)]
    induced = {}
    for pool in (None, 12):
        scores = _brute_csls(mapped, tgt, mapped if pool is None else mapped[:pool])
        out = induce_dictionary(src_words, mapped, tgt_words, tgt, csls_pool=pool)
        induced[pool] = [t for _, t, _ in out]
        assert induced[pool] == [f"t{j}" for j in scores.argmax(axis=1)]
        pairs = [(f"s{i}", f"t{(3 * i) % 50}") for i in range(80)]
        gold_first = np.array([(3 * i) % 50 for i in range(80)])
        expected = float(np.mean(scores.argmax(axis=1) == gold_first))
        got = evaluate_bli(src_words, mapped, tgt_words, tgt, pairs, ks=(1,), csls_pool=pool)
        assert got["csls"]["p@1"] == pytest.approx(expected)
    assert induced[None] != induced[12]  # the pool changes some r_S terms, so some picks
    with pytest.raises(ValueError, match="csls_pool"):
        induce_dictionary(src_words, mapped, tgt_words, tgt, csls_pool=0)
