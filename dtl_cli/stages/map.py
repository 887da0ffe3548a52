"""Stage 2, map: learn f(x) = W x + b from the source space into the target space on the seed
dictionary, and score it by bilingual lexicon induction on the held-out test dictionary.

Entry: `map.npz` (W [d_t, d_s], b [d_t]), `bli.json`, `induced_dictionary.tsv`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from dtl_cli import ui
from dtl_cli.align.bli import evaluate_bli, filter_pairs, induce_dictionary, read_dictionary
from dtl_cli.align.mappings import apply_map, fit_linear, fit_procrustes, identity_map
from dtl_cli.errors import ConfigError, DataError
from dtl_cli.stages.common import load_pretrained
from dtl_cli.stages.keys import map_key, pretrain_key
from dtl_cli.store import Store

STAGE = "map"
METHODS = ("linear", "procrustes", "none")
INDUCED_WORDS = 1000  # how many source words get their induced translation written out


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return store.has(STAGE, map_key(cfg))


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    if cfg.mapping.method not in METHODS:
        raise ConfigError(f"mapping.method={cfg.mapping.method!r} is not one of {METHODS}")
    key = map_key(cfg)
    upstream = store.path("pretrain", pretrain_key(cfg))
    entry, cached = store.get_or_build(STAGE, key, lambda tmp: _build(cfg, upstream, tmp))
    bli = json.loads((entry / "bli.json").read_text())
    _show(bli)
    return {"key": key, "entry": str(entry), "cached": cached, "bli": bli}


def fit_map(method: str, X: np.ndarray, Y: np.ndarray, ridge: float = 0.0):
    """(W, b) for `method` from paired rows X [n, d_s] -> Y [n, d_t]."""
    if method == "linear":
        return fit_linear(X, Y, ridge=ridge)
    if method == "procrustes":
        return fit_procrustes(X, Y)
    return identity_map(X.shape[1])


def _build(cfg: DictConfig, upstream: Path, tmp: Path) -> dict:
    pre = load_pretrained(upstream)
    seed_path = cfg.dataset.dictionary.seed
    pairs = read_dictionary(seed_path)
    src_index = {w: i for i, w in enumerate(pre.source_words)}
    tgt_index = {w: i for i, w in enumerate(pre.target_words)}
    kept, dropped = filter_pairs(pairs, src_index, tgt_index)
    if not kept:
        raise DataError(
            f"{seed_path}: none of its {len(pairs)} pairs has both words in the vocabularies "
            f"({len(src_index)} source, {len(tgt_index)} target words); check the language "
            "order (source first) and lower-casing [dataset.dictionary.seed]"
        )
    ui.info(f"seed dictionary: {len(kept)} pairs used, {dropped} dropped (a word not in vocab)")
    src_rows, tgt_rows = (np.array(col) for col in zip(*kept, strict=True))
    X, Y = pre.source_vectors[src_rows], pre.target_vectors[tgt_rows]
    W, b = fit_map(cfg.mapping.method, X, Y, ridge=cfg.mapping.ridge)
    np.savez(tmp / "map.npz", W=W.astype(np.float32), b=b.astype(np.float32))

    mapped = apply_map(pre.source_vectors, W, b)
    test_path = cfg.dataset.dictionary.test
    bli = evaluate_bli(
        pre.source_words,
        mapped,
        pre.target_words,
        pre.target_vectors,
        read_dictionary(test_path),
        ks=tuple(cfg.evaluation.bli.precision_at),
        csls_k=cfg.evaluation.bli.csls_k,
        dict_name=f"{test_path} [dataset.dictionary.test]",
    )
    bli["seed_pairs_used"], bli["seed_pairs_dropped"] = len(kept), dropped
    (tmp / "bli.json").write_text(json.dumps(bli, indent=2))
    induced = induce_dictionary(
        pre.source_words, mapped, pre.target_words, pre.target_vectors, n_words=INDUCED_WORDS
    )
    with open(tmp / "induced_dictionary.tsv", "w", encoding="utf-8") as out:
        out.write("source\ttarget\tcsls\n")
        out.writelines(f"{s}\t{t}\t{score:.4f}\n" for s, t, score in induced)
    return {"bli": bli}


def _show(bli: dict) -> None:
    parts = [
        f"{method} " + " ".join(f"{k}={v:.3f}" for k, v in bli[method].items())
        for method in ("nn", "csls")
        if method in bli
    ]
    ui.info(
        f"BLI on {bli['n_queries']} test words (coverage {bli['coverage']:.2f}): "
        + "; ".join(parts)
    )
