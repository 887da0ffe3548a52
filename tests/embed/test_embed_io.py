import gzip
import warnings

import numpy as np
import pytest

from dtl_cli.embed import io as io_module
from dtl_cli.embed.io import (
    load_saved_vectors,
    load_vectors,
    save_vectors,
    vector_header,
    write_vec,
)
from dtl_cli.errors import DataError, DtlWarning

WORDS = ["the", "The", "cat", "猫", "THE", "sat"]


def _vectors(n=6, dim=3):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, dim)).astype(np.float32)


def test_write_vec_round_trips_exactly(tmp_path):
    path = tmp_path / "en.vec"
    vectors = _vectors()
    write_vec(path, WORDS, vectors)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "6 3"
    words, loaded = load_vectors(path)
    assert words == WORDS
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, vectors)


def test_gz_and_txt_suffixes(tmp_path):
    vectors = _vectors()
    for name in ["zh.vec.gz", "zh.txt"]:
        write_vec(tmp_path / name, WORDS, vectors)
        words, loaded = load_vectors(tmp_path / name)
        assert words == WORDS
        np.testing.assert_array_equal(loaded, vectors)
    with gzip.open(tmp_path / "zh.vec.gz", "rt", encoding="utf-8") as handle:
        assert handle.readline() == "6 3\n"


def test_max_vocab_and_lowercase(tmp_path):
    path = tmp_path / "en.vec"
    vectors = _vectors()
    write_vec(path, WORDS, vectors)
    words, loaded = load_vectors(path, max_vocab=2)
    assert words == ["the", "The"]
    np.testing.assert_array_equal(loaded, vectors[:2])
    words, loaded = load_vectors(path, lowercase=True)
    assert words == ["the", "cat", "猫", "sat"]
    np.testing.assert_array_equal(loaded, vectors[[0, 2, 3, 5]])
    words, loaded = load_vectors(path, lowercase=True, max_vocab=3)
    assert words == ["the", "cat", "猫"]
    np.testing.assert_array_equal(loaded, vectors[[0, 2, 3]])


def test_duplicate_words_keep_first(tmp_path):
    path = tmp_path / "dup.vec"
    path.write_text("3 2\na 1 2\nb 3 4\na 5 6\n", encoding="utf-8")
    words, loaded = load_vectors(path)
    assert words == ["a", "b"]
    assert loaded.tolist() == [[1, 2], [3, 4]]


def test_trailing_spaces_and_crlf_are_accepted(tmp_path):
    path = tmp_path / "ft.vec"
    path.write_bytes(b"2 2\r\na 1 2 \r\nb 3 4 \r\n")
    words, loaded = load_vectors(path)
    assert words == ["a", "b"] and loaded.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a 1 2\n", r"bad\.vec:1: bad header 'a 1 2'; the first line must be '<count> <dim>'"),
        (b"2 3\na 1 2 3\nb 1 2\n", r"bad\.vec:3: 2 values but the header says dim=3"),
        (b"3 2\na 1 2\nb 1 2\n", r"bad\.vec:1: header says 3 words but the file has 2 rows"),
        (b"1 2\na 1 2\nb 1 2\n", r"bad\.vec:3: more rows than the header's count 1"),
        (b"2 2\na 1 2\ncaf\xe9 1 2\n", r"bad\.vec:3: not UTF-8 \(byte 0xe9 at column 4\)"),
        (b"2 2\na 1 2\nb nan 2\n", r"bad\.vec:3: NaN or infinite value"),
        (b"2 2\na 1 inf\nb 1 2\n", r"bad\.vec:2: NaN or infinite value"),
        (b"2 2\na 1 2\nb 1 x\n", r"bad\.vec:3: value 'x' is not a number"),
    ],
)
def test_malformed_text_files_name_file_and_line(tmp_path, content, expected):
    path = tmp_path / "bad.vec"
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected) as err:
        load_vectors(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("header", "max_vocab", "rows_said"),
    [("100 2", 2, 3), ("2 2", 2, 3), ("100 2", 50, 3), ("3 2", 2, None)],
)
def test_header_count_is_checked_whatever_max_vocab_is(tmp_path, header, max_vocab, rows_said):
    path = tmp_path / "big.vec"
    path.write_text(f"{header}\na 1 2\nb 3 4\n\nc 5 6\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        words, loaded = load_vectors(path, max_vocab=max_vocab)
    assert words == ["a", "b", "c"][:max_vocab] and loaded.shape == (len(words), 2)
    said = [str(w.message) for w in caught if issubclass(w.category, DtlWarning)]
    if rows_said is None:
        assert said == []
    else:
        assert said and f"header says {header.split()[0]} words but the file has 3 rows" in said[0]


def test_vector_header_reads_count_and_dim_without_loading(tmp_path):
    write_vec(tmp_path / "a.vec", WORDS[:4], _vectors(4, 3))
    assert vector_header(tmp_path / "a.vec") == (4, 3)
    with gzip.open(tmp_path / "b.vec.gz", "wt", encoding="utf-8") as out:
        out.write("7 30\nx " + " ".join(["0.5"] * 30) + "\n")
    assert vector_header(tmp_path / "b.vec.gz") == (7, 30)
    (tmp_path / "c.vec").write_text("hello world\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"c\.vec:1: bad header"):
        vector_header(tmp_path / "c.vec")


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(DataError, match=r"nope\.vec: no such file"):
        load_vectors(tmp_path / "nope.vec")
    odd = tmp_path / "vectors.xyz"
    odd.write_text("1 1\na 1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"vectors\.xyz: unknown vector format '\.xyz'"):
        load_vectors(odd)


def test_binary_and_gensim_formats(tmp_path):
    from gensim.models import KeyedVectors

    vectors = _vectors()
    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(WORDS, vectors)
    kv.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    kv.save(str(tmp_path / "v.kv"))
    words, loaded = load_vectors(tmp_path / "v.bin", max_vocab=3)
    assert words == WORDS[:3]
    np.testing.assert_array_equal(loaded, vectors[:3])
    words, loaded = load_vectors(tmp_path / "v.kv", lowercase=True)
    assert words == ["the", "cat", "猫", "sat"]
    np.testing.assert_array_equal(loaded, vectors[[0, 2, 3, 5]])


def test_broken_binary_file(tmp_path):
    path = tmp_path / "v.bin"
    path.write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"v\.bin: not a readable word2vec binary file"):
        load_vectors(path)


def test_save_and_load_saved_vectors(tmp_path):
    vectors = _vectors().astype(np.float64)
    save_vectors(tmp_path / "zh", WORDS, vectors)
    assert (tmp_path / "zh.npy").is_file() and (tmp_path / "zh.words.txt").is_file()
    assert not list(tmp_path.glob("*.tmp"))
    words, loaded = load_saved_vectors(tmp_path / "zh")
    assert words == WORDS
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, vectors.astype(np.float32))


def test_load_saved_vectors_errors(tmp_path):
    with pytest.raises(DataError, match=r"zh\.words\.txt: no such file"):
        load_saved_vectors(tmp_path / "zh")
    save_vectors(tmp_path / "zh", WORDS, _vectors())
    (tmp_path / "zh.words.txt").write_text("only\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"zh\.npy: shape \(6, 3\) does not match 1 words"):
        load_saved_vectors(tmp_path / "zh")


def test_writers_reject_unwritable_words(tmp_path):
    with pytest.raises(ValueError, match="has spaces"):
        write_vec(tmp_path / "x.vec", ["two words"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="line break"):
        save_vectors(tmp_path / "x", ["a\nb"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="shape"):
        save_vectors(tmp_path / "x", ["a"], np.zeros((2, 2)))


def _mixed_case_file(path, n=300, dim=4):
    """A .vec file with case twins ("w7", "W7") and an exact duplicate, values of all shapes."""
    rng = np.random.default_rng(1)
    words = [f"W{i - 1}" if i % 5 == 4 else f"w{i}" for i in range(n)]
    words[n // 2] = words[3]  # a later exact duplicate: skipped
    vectors = (rng.standard_normal((n, dim)) * 10.0 ** rng.integers(-8, 8, (n, 1))).astype(
        np.float32
    )
    write_vec(path, words, vectors)
    return words, vectors


def _exact_only(monkeypatch):
    """Force the line-by-line parser, the reference for what the block parser must return."""
    monkeypatch.setattr(io_module._TextRows, "_add_fast", lambda *args: False)


@pytest.mark.parametrize("block_bytes", [None, 64])
@pytest.mark.parametrize(
    "options",
    [{}, {"max_vocab": 57}, {"lowercase": True}, {"lowercase": True, "max_vocab": 101}],
)
def test_block_parser_equals_line_by_line(tmp_path, monkeypatch, options, block_bytes):
    for name in ["mixed.vec", "mixed.vec.gz"]:
        path = tmp_path / name
        _mixed_case_file(path)
        if block_bytes:  # many small blocks: boundaries, stop-early between blocks
            monkeypatch.setattr(io_module, "_BLOCK_BYTES", block_bytes)
        words, vectors = load_vectors(path, **options)
        with monkeypatch.context() as patched:
            _exact_only(patched)
            expected_words, expected = load_vectors(path, **options)
        assert words == expected_words
        assert vectors.dtype == np.float32
        np.testing.assert_array_equal(vectors, expected)
    n = options.get("max_vocab")
    assert len(words) == (n if n else 239 if options.get("lowercase") else 299)


def test_unusual_block_is_parsed_line_by_line(tmp_path, monkeypatch):
    """float() rules stay: "1_0" is a number; a duplicate's values are never parsed."""
    path = tmp_path / "odd.vec"
    lines = [f"w{i} {i} {i + 0.5}" for i in range(40)]
    lines[20] = "w20 1_0 +.5"
    lines[30] = "w3 x y"
    path.write_text("40 2\n" + "\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(io_module, "_BLOCK_BYTES", 50)
    words, vectors = load_vectors(path)
    assert words == [f"w{i}" for i in range(40) if i != 30]
    assert vectors[20].tolist() == [10.0, 0.5]
    assert vectors[-1].tolist() == [39.0, 39.5]


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("w50 1 x", r"bad\.vec:52: value 'x' is not a number"),
        ("w50 1", r"bad\.vec:52: 1 values but the header says dim=2"),
        ("w50 1  2", r"bad\.vec:52: 3 values but the header says dim=2"),
        ("w50 1\t2", r"bad\.vec:52: 1 values but the header says dim=2"),
        ("w50 1 nan", r"bad\.vec:52: NaN or infinite value"),
        ("w50 1 1e999", r"bad\.vec:52: NaN or infinite value"),
        ("w50 1 2 3", r"bad\.vec:52: 3 values but the header says dim=2"),
        ("caf\udce9 1 2", r"bad\.vec:52: not UTF-8 \(byte 0xe9 at column 4\)"),
    ],
)
@pytest.mark.parametrize("block_bytes", [None, 100])
def test_bad_line_after_many_good_ones_is_named(
    tmp_path, monkeypatch, bad_line, expected, block_bytes
):
    path = tmp_path / "bad.vec"
    lines = [f"w{i} {i} 0.25" for i in range(80)]
    lines[50] = bad_line
    text = "80 2\n" + "\n".join(lines) + "\n"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    if block_bytes:
        monkeypatch.setattr(io_module, "_BLOCK_BYTES", block_bytes)
    with pytest.raises(DataError, match=expected):
        load_vectors(path)
