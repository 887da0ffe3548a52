import gzip

import numpy as np
import pytest

from dtl_cli.embed.io import load_saved_vectors, load_vectors, save_vectors, write_vec
from dtl_cli.errors import DataError

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


def test_header_count_is_not_checked_when_max_vocab_stops_early(tmp_path):
    path = tmp_path / "big.vec"
    path.write_text("100 2\na 1 2\nb 3 4\nc 5 6\n", encoding="utf-8")
    words, loaded = load_vectors(path, max_vocab=2)
    assert words == ["a", "b"] and loaded.shape == (2, 2)


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
