"""Pretrained word vectors through the store: a text `.vec` file is parsed once, then read back
from a binary copy.

Entry `<store>/vectors/<key>/`: `vectors.npy` + `vectors.words.txt` (``embed.io.save_vectors``),
keyed by the file's path, size and modification time and the loading options. Not a stage of
its own: the pretrain stage loads its vectors here, so rebuilding a pretrain entry (say, after a
classifier option changed) does not parse a 500 MB text file again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dtl_cli.embed.io import load_saved_vectors, load_vectors, save_vectors
from dtl_cli.stages.keys import vectors_key
from dtl_cli.store import Store

STAGE = "vectors"


def load_pretrained_vectors(
    store: Store, path: str, *, max_vocab: int | None, lowercase: bool
) -> tuple[list[str], np.ndarray, bool]:
    """``(words, vectors float32 [V, dim], reused)`` as ``load_vectors`` returns them; `reused`
    is True when they came from the binary copy in the store."""
    built: dict[str, tuple[list[str], np.ndarray]] = {}

    def build(tmp: Path) -> dict:
        words, vectors = load_vectors(path, max_vocab=max_vocab, lowercase=lowercase)
        save_vectors(tmp / "vectors", words, vectors)
        built["vectors"] = words, vectors
        return {"file": str(path), "words": len(words), "dim": int(vectors.shape[1])}

    entry, reused = store.get_or_build(STAGE, vectors_key(path, max_vocab, lowercase), build)
    if reused:
        words, vectors = load_saved_vectors(entry / "vectors")
        return words, vectors, True
    return *built["vectors"], False
