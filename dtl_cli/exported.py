"""A trained dtl classifier as a text-in, labels-out predictor, and its folder on disk.

`dtl predict` classifies with a `TextClassifier` read from a run; `dtl export RUN --out DIR`
saves the same object into DIR, and any Python program with dtl installed loads it back
without the store or the run folder:

    from dtl_cli import exported
    clf = exported.load("DIR")
    clf.predict(["这家店的菜很好吃", "送餐太慢了"])        # -> ["pos", "neg"]
    clf.predict_proba(texts)                                # [n, n_classes], columns clf.classes

DIR holds `model.keras` (the Keras model, embedding matrix included: token ids in,
class probabilities out), `vocab.txt` (the word of token id i + 2 on line i; 0 is padding
and 1 an unknown word) and `predictor.json` (tokenizer, lower-casing, max_len, classes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dtl_cli.text.tokenize import make_tokenizer
from dtl_cli.text.vocab import OOV, PAD, build_vocab, encode

MODEL_FILE, VOCAB_FILE, SETTINGS_FILE = "model.keras", "vocab.txt", "predictor.json"
FORMAT = 1


@dataclass
class Encoded:
    """Token ids [n, max_len] int32, and per document its token count and unknown tokens."""

    ids: np.ndarray
    tokens: np.ndarray
    unknown: np.ndarray

    @property
    def oov_share(self) -> np.ndarray:
        """Share [n] of each document's tokens missing from the vocabulary (0 when empty)."""
        return np.divide(
            self.unknown, self.tokens, out=np.zeros(len(self.tokens)), where=self.tokens > 0
        )


@dataclass
class TextClassifier:
    """A Keras model over token ids with the tokenizer and vocabulary it was trained with."""

    model: Any  # keras.Model: int32 ids [n, length] -> probabilities [n, n_classes]
    words: list[str]  # the word of token id i + 2
    classes: list[str]
    tokenizer: str  # a dtl_cli.text.tokenize name: jieba, nltk, chars, whitespace
    lowercase: bool
    max_len: int
    about: dict = field(default_factory=dict)  # where it came from (run, k, repeat)

    def __post_init__(self) -> None:
        self._index = build_vocab(self.words)
        self._tokenize = make_tokenizer(self.tokenizer, lowercase=self.lowercase)

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Tokenize and look up `texts`, cut to max_len as in training."""
        token_lists = [self._tokenize(text) for text in texts]
        ids, _ = encode(token_lists, self._index, self.max_len)
        counts = np.array([min(len(t), self.max_len) for t in token_lists], dtype=np.int64)
        unknown = ((ids == OOV) & (ids != PAD)).sum(axis=1)
        ids[ids.max(axis=1, initial=0) == PAD, 0] = OOV  # an empty document averages to zero
        return Encoded(ids, counts, unknown)

    def predict_proba(
        self,
        texts: Sequence[str],
        batch_size: int = 256,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Class probabilities [n, n_classes] float32, columns in `classes` order."""
        return self.predict_encoded(self.encode(texts), batch_size, on_batch)

    def predict_encoded(
        self, encoded: Encoded, batch_size: int = 256, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        out = np.zeros((len(encoded.ids), len(self.classes)), dtype=np.float32)
        for start in range(0, len(encoded.ids), batch_size):
            batch = encoded.ids[start : start + batch_size]
            out[start : start + len(batch)] = np.asarray(self.model(batch, training=False))
            if on_batch is not None:
                on_batch(len(batch))
        return out

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        return [self.classes[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def save(self, folder: str | Path) -> Path:
        """Write model.keras, vocab.txt and predictor.json into `folder` (created)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if any("\n" in w or "\r" in w for w in self.words):
            raise ValueError("a vocabulary word holds a line break; vocab.txt cannot store it")
        self.model.save(folder / MODEL_FILE)
        (folder / VOCAB_FILE).write_text("".join(f"{w}\n" for w in self.words), encoding="utf-8")
        settings = {
            "format": FORMAT,
            "tokenizer": self.tokenizer,
            "lowercase": self.lowercase,
            "max_len": self.max_len,
            "classes": self.classes,
            "id_offset": 2,
            "about": self.about,
        }
        (folder / SETTINGS_FILE).write_text(
            json.dumps(settings, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        return folder


def load(folder: str | Path) -> TextClassifier:
    """The predictor `dtl export` wrote into `folder`."""
    import keras

    folder = Path(folder)
    missing = [n for n in (MODEL_FILE, VOCAB_FILE, SETTINGS_FILE) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: no {missing[0]}; is it a folder `dtl export` wrote?")
    settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    if settings.get("format") != FORMAT:
        raise ValueError(f"{folder / SETTINGS_FILE}: format {settings.get('format')} unknown")
    words = (folder / VOCAB_FILE).read_text(encoding="utf-8").split("\n")[:-1]
    model = keras.models.load_model(folder / MODEL_FILE, compile=False)
    return TextClassifier(
        model=model,
        words=words,
        classes=list(settings["classes"]),
        tokenizer=settings["tokenizer"],
        lowercase=bool(settings["lowercase"]),
        max_len=int(settings["max_len"]),
        about=settings.get("about", {}),
    )
