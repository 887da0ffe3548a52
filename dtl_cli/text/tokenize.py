"""Tokenizers for English and Chinese text, chosen by name; none downloads data at run time."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable

TOKENIZERS = ("nltk", "jieba", "chars", "whitespace")


def is_punctuation(token: str) -> bool:
    """True if ``token`` is non-empty and every character is punctuation or a symbol.

    Uses Unicode categories P* and S*, so Chinese punctuation (。，！？、；：“”（）) counts too.
    """
    return bool(token) and all(unicodedata.category(ch)[0] in "PS" for ch in token)


def _keep(token: str) -> bool:
    return bool(token.strip()) and not is_punctuation(token)


def make_tokenizer(name: str, *, lowercase: bool = True) -> Callable[[str], list[str]]:
    """Return a deterministic ``text -> list of tokens`` function.

    Names: "nltk" (NLTK Treebank-style word tokenizer, no data files needed), "jieba"
    (Chinese word segmentation), "chars" (one token per character), "whitespace"
    (``str.split``). All drop whitespace and pure-punctuation tokens; ``lowercase``
    lower-cases the tokens.
    """
    if name == "nltk":
        split = _nltk_split()
    elif name == "jieba":
        split = _jieba_split()
    elif name == "chars":
        split = list
    elif name == "whitespace":
        split = str.split
    else:
        raise ValueError(f"unknown tokenizer '{name}'; choose one of {', '.join(TOKENIZERS)}")

    def tokenize(text: str) -> list[str]:
        tokens = [tok for tok in split(text) if _keep(tok)]
        return [tok.lower() for tok in tokens] if lowercase else tokens

    return tokenize


def _nltk_split() -> Callable[[str], list[str]]:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer().tokenize


def _jieba_split() -> Callable[[str], list[str]]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.lcut
