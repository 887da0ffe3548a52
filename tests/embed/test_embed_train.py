import itertools

import numpy as np
import pandas as pd
import pytest
from conftest import TINY

from dtl_cli.embed.train import train_fasttext, train_word2vec
from dtl_cli.errors import DataError
from dtl_cli.text.tokenize import make_tokenizer

ANIMALS = [f"animal{i}" for i in range(10)]
METALS = [f"metal{i}" for i in range(10)]


def _corpus():
    """Two topics whose words never share a sentence: 600 sentences of 8 words."""
    rng = np.random.default_rng(0)
    return [list(rng.choice(group, size=8)) for _ in range(300) for group in (ANIMALS, METALS)]


def _unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_deterministic_and_shapes():
    kwargs = dict(dim=16, window=3, min_count=1, epochs=3, seed=7)
    words_a, vectors_a = train_word2vec(_corpus(), **kwargs)
    words_b, vectors_b = train_word2vec(_corpus(), **kwargs)
    assert words_a == words_b
    assert sorted(words_a) == sorted(ANIMALS + METALS)
    assert vectors_a.dtype == np.float32 and vectors_a.shape == (20, 16)
    np.testing.assert_array_equal(vectors_a, vectors_b)


def test_cooccurring_words_are_closer():
    words, vectors = train_word2vec(_corpus(), dim=16, window=3, min_count=1, epochs=20, seed=1)
    row = {word: i for i, word in enumerate(words)}
    animals = _unit(vectors[[row[w] for w in ANIMALS]])
    metals = _unit(vectors[[row[w] for w in METALS]])
    within = animals @ animals.T
    least_similar_pair_within = within[np.triu_indices(10, 1)].min()
    most_similar_pair_across = (animals @ metals.T).max()
    assert least_similar_pair_within > most_similar_pair_across + 0.2


def test_frequency_order_min_count_and_max_vocab():
    sentences = [["a", "b", "a", "c", "a", "b", "d"]] * 3  # a:9 b:6 c:3 d:3
    words, _ = train_word2vec(sentences, dim=4, min_count=4, epochs=1)
    assert words == ["a", "b"]
    words, vectors = train_word2vec(sentences, dim=4, min_count=1, epochs=1, max_vocab=2)
    assert words == ["a", "b"] and vectors.shape == (2, 4)


def test_epoch_callback_and_restartable_iterable():
    class Reader:
        def __init__(self):
            self.passes = 0

        def __iter__(self):
            self.passes += 1
            yield from [["x", "y", "z"], ["x", "y"]] * 5

    reader = Reader()
    seen = []
    train_word2vec(reader, dim=4, min_count=1, epochs=3, on_epoch=lambda i, n: seen.append((i, n)))
    assert seen == [(0, 3), (1, 3), (2, 3)]
    assert reader.passes == 4  # one vocabulary pass + one per epoch


def test_one_shot_generator_is_rejected():
    with pytest.raises(TypeError, match="re-iterable"):
        train_word2vec((s for s in [["a", "a"]]), min_count=1)


def test_too_small_corpus():
    with pytest.raises(DataError) as err:
        train_word2vec([["a", "b"], ["c"]], min_count=2)
    assert str(err.value) == (
        "no word occurs at least min_count=2 times; the corpus is too small or min_count too high"
    )


def _tiny_chinese() -> list[list[str]]:
    tokenize = make_tokenizer("jieba", lowercase=True)
    texts = pd.read_csv(TINY / "zh_train.csv")["text"].tolist()
    texts += (TINY / "zh_unlabelled.txt").read_text(encoding="utf-8").splitlines()
    return [tokenize(t) for t in texts if t]


def test_fasttext_trains_on_the_tiny_corpus_and_shares_subwords():
    docs = _tiny_chinese()
    kwargs = dict(dim=16, epochs=5, seed=0, bucket=20000)
    words, vectors = train_fasttext(docs, **kwargs)
    words_b, vectors_b = train_fasttext(docs, **kwargs)
    assert words == words_b and np.array_equal(vectors, vectors_b)  # workers=1: reproducible
    assert vectors.dtype == np.float32 and vectors.shape == (len(words), 16)
    assert words == train_word2vec(docs, dim=16, epochs=1, seed=0)[0]  # same vocabulary rule
    # A word's vector includes its characters' (n-grams of 1): words sharing one are closer.
    unit = _unit(vectors)
    long = [i for i, w in enumerate(words) if len(w) >= 2]
    same, other = [], []
    for a, b in itertools.combinations(long, 2):
        (same if set(words[a]) & set(words[b]) else other).append(unit[a] @ unit[b])
    assert len(same) > 50 and np.mean(same) > np.mean(other) + 0.2
    with pytest.raises(ValueError, match="min_n"):
        train_fasttext(docs, min_n=3, max_n=2)


def test_corpus_file_input_is_deterministic_with_one_worker(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in _corpus()), encoding="utf-8")
    kwargs = dict(dim=16, window=3, min_count=1, epochs=3, seed=7)
    seen = []
    words_a, vectors_a = train_word2vec(
        corpus_file=path, on_epoch=lambda i, n: seen.append(i), **kwargs
    )
    words_b, vectors_b = train_word2vec(corpus_file=str(path), **kwargs)
    assert words_a == words_b and sorted(words_a) == sorted(ANIMALS + METALS)
    np.testing.assert_array_equal(vectors_a, vectors_b)
    assert seen == [0, 1, 2]
    with pytest.raises(TypeError, match="exactly one"):
        train_word2vec(_corpus(), corpus_file=path)
