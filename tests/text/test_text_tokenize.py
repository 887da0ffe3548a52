import pytest

from dtl_cli.text.tokenize import is_punctuation, make_tokenizer


def test_is_punctuation():
    for token in [",", "...", "。", "，", "！", "？", "、", "；", "：", "“", "”", "（", "）", "$"]:
        assert is_punctuation(token), token
    for token in ["", "a", "U.S.", "n't", "足球", "3"]:
        assert not is_punctuation(token), token


def test_nltk_splits_english_without_data():
    tokenize = make_tokenizer("nltk")
    assert tokenize("Don't stop, U.S. team!") == ["do", "n't", "stop", "u.s.", "team"]


def test_nltk_keeps_case_when_asked():
    tokenize = make_tokenizer("nltk", lowercase=False)
    assert tokenize("Big Team.") == ["Big", "Team"]


def test_jieba_segments_chinese_and_drops_punctuation(capfd):
    tokenize = make_tokenizer("jieba")
    tokens = tokenize("我们喜欢足球比赛。")
    # jieba's bundled dictionary keeps the compound 足球比赛 as one word
    assert tokens == ["我们", "喜欢", "足球比赛"]
    assert tokenize("你好，世界！（测试）“引号”") == ["你好", "世界", "测试", "引号"]
    assert tokenize("我 爱 NLP") == ["我", "爱", "nlp"]
    assert "Building prefix dict" not in capfd.readouterr().err


def test_chars_and_whitespace():
    assert make_tokenizer("chars")("足球, 比赛！") == ["足", "球", "比", "赛"]
    assert make_tokenizer("whitespace")("Hello , world ! ok!") == ["hello", "world", "ok!"]


def test_deterministic():
    tokenize = make_tokenizer("nltk")
    text = "The cat's hat, isn't it?"
    assert tokenize(text) == tokenize(text) == make_tokenizer("nltk")(text)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="unknown tokenizer 'spacy'; choose one of nltk, jieba"):
        make_tokenizer("spacy")
