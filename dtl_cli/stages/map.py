"""Stage 2, map: learn f(x) = W x + b from the source space into the target space from a seed
(dictionary pairs or identical strings), and score it by bilingual lexicon induction on the
held-out test dictionary, source -> target and target -> source.

Entries (stages/entries.py): map (the fitted map, keyed by both spaces, `mapping.*` and the
seed dictionary) and bli (its scores, keyed by the map, the test dictionary and
`evaluation.bli.*`: another precision_at re-scores, it never refits).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from dtl_cli import ui
from dtl_cli.align.bli import evaluate_bli, filter_pairs, induce_dictionary, read_dictionary
from dtl_cli.align.learn import learn_map
from dtl_cli.align.mappings import apply_map
from dtl_cli.align.self_learning import identical_pairs
from dtl_cli.errors import DataError
from dtl_cli.stages import entries
from dtl_cli.stages.entries import Map, Space
from dtl_cli.stages.options import multistep_steps
from dtl_cli.store import Store

STAGE = "map"
SIDES = entries.SIDES
INDUCED_WORDS = 1000  # how many source words get their induced translation written out


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return store.has("map", entries.map_key(cfg)) and store.has("bli", entries.bli_key(cfg))


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    key = entries.map_key(cfg)
    spaces = functools.cache(lambda: tuple(entries.read_space(cfg, store, s) for s in SIDES))
    entry, cached = entries.build(store, "map", key, lambda tmp: _build(cfg, *spaces(), tmp))
    bli_key = entries.bli_key(cfg)
    _, bli_cached = entries.build(
        store, "bli", bli_key, lambda tmp: _score(cfg, store, *spaces(), tmp)
    )
    bli = entries.read_bli(cfg, store)
    _show(bli)
    return {
        "key": key,
        "entry": str(entry),
        "cached": cached and bli_cached,
        "bli": bli,
        "entries": {
            "map": entries.record("map", key, cached),
            "bli": entries.record("bli", bli_key, bli_cached),
        },
    }


def seed_index_pairs(cfg: DictConfig, src_words, tgt_words) -> tuple[np.ndarray, int]:
    """Seed pairs as (source row, target row) int [n, 2], and how many dictionary pairs
    were dropped because a word is missing from a vocabulary (0 for identical seeds)."""
    m = cfg.mapping
    seed = m.get("seed", "dictionary")
    if seed in ("identical", "numerals"):
        pairs = identical_pairs(src_words, tgt_words, numerals_only=seed == "numerals")
        if m.get("seed_pairs") is not None:
            pairs = pairs[: m.seed_pairs]
        if not len(pairs):
            raise DataError(
                f"mapping.seed={seed}: no {'numeral' if seed == 'numerals' else 'word'} is "
                "spelled the same in both vocabularies; use mapping.seed=dictionary"
            )
        ui.info(f"seed: {len(pairs)} {seed} strings in both vocabularies")
        return pairs, 0
    seed_path = cfg.dataset.dictionary.seed
    pairs = read_dictionary(seed_path)
    src_index: dict[str, int] = {}
    for i, w in enumerate(src_words):
        src_index.setdefault(w, i)
    tgt_index: dict[str, int] = {}
    for i, w in enumerate(tgt_words):
        tgt_index.setdefault(w, i)
    kept, dropped = filter_pairs(pairs, src_index, tgt_index)
    if not kept:
        raise DataError(
            f"{seed_path}: none of its {len(pairs)} pairs has both words in the vocabularies "
            f"({len(src_index)} source, {len(tgt_index)} target words); check the language "
            "order (source first) and lower-casing [dataset.dictionary.seed]"
        )
    if m.get("seed_pairs") is not None:
        kept = kept[: m.seed_pairs]
    ui.info(f"seed dictionary: {len(kept)} pairs used, {dropped} dropped (a word not in vocab)")
    return np.array(kept, dtype=np.int64).reshape(-1, 2), dropped


def _self_learning_args(m: DictConfig, seed: int) -> dict:
    keys = ("cutoff", "csls_k", "keep_prob", "patience", "min_improvement", "max_iterations")
    args = {k: m[k] for k in (*keys, "batch_size") if k in m}
    args["seed"] = seed
    return args


def _build(cfg: DictConfig, source: Space, target: Space, tmp: Path) -> dict:
    m = cfg.mapping
    seed_pairs, dropped = seed_index_pairs(cfg, source.words, target.words)

    def log(entry: dict) -> None:
        # Progress for long runs only: iterations of the tiny corpus take milliseconds.
        if entry["seconds"] >= 1.0:
            ui.info(
                f"self-learning {entry['iteration']}: objective {entry['objective']:.4f}, "
                f"{entry['pairs']} pairs, p={entry['keep_prob']:.2f}, {entry['seconds']:.1f} s"
            )

    learned = learn_map(
        m.method,
        source.vectors,
        target.vectors,
        seed_pairs,
        direction=m.get("direction", "source_to_target"),
        steps=list(m.get("normalize") or []),
        ridge=m.get("ridge", 0.0),
        self_learning=_self_learning_args(m, cfg.seed),
        multistep=multistep_steps(m),
        log=log,
    )
    info = {"seed_pairs_used": len(seed_pairs), "seed_pairs_dropped": dropped}
    if m.method == "self_learning":
        info["history"] = learned.history
        last = learned.history[-1]
        ui.info(
            f"self-learning: {len(learned.history)} iterations, objective "
            f"{learned.history[0]['objective']:.4f} -> {last['objective']:.4f}, "
            f"{last['pairs']} induced pairs"
        )
    fitted = Map(learned.W, learned.b, learned.W_reverse, learned.b_reverse, learned.shared, info)
    entries.write_map(tmp, fitted)
    return info


def _score(cfg: DictConfig, store: Store, source: Space, target: Space, tmp: Path) -> dict:
    """Score the stored map by BLI, source -> target and target -> source."""
    fitted = entries.read_map(cfg, store)
    # BLI compares the languages where the map put them: the target space, or the
    # multi-step framework's shared space (both sides taken there by `shared`).
    mapped = apply_map(source.vectors, fitted.W, fitted.b)
    target_vectors = target.vectors
    if fitted.shared is not None:
        mapped = apply_map(mapped, *fitted.shared)
        target_vectors = apply_map(target_vectors, *fitted.shared)
    test_path = cfg.dataset.dictionary.test
    test_pairs = read_dictionary(test_path)
    bli_args = {
        "ks": tuple(cfg.evaluation.bli.precision_at),
        "csls_k": cfg.evaluation.bli.csls_k,
        "csls_pool": cfg.evaluation.bli.get("csls_pool"),
        "dict_name": f"{test_path} [dataset.dictionary.test]",
    }
    bli = evaluate_bli(source.words, mapped, target.words, target_vectors, test_pairs, **bli_args)
    bli["seed_pairs_used"] = fitted.info["seed_pairs_used"]
    bli["seed_pairs_dropped"] = fitted.info["seed_pairs_dropped"]
    if fitted.shared is None:  # target -> source in source space, through the inverse
        queries = apply_map(target.vectors, fitted.W_reverse, fitted.b_reverse)
        candidates = source.vectors
    else:  # both sides are in the shared space already
        queries, candidates = target_vectors, mapped
    try:
        bli["reverse"] = evaluate_bli(
            target.words,
            queries,
            source.words,
            candidates,
            [(t, s) for s, t in test_pairs],
            **bli_args,
        )
    except DataError:  # no target word of the test dictionary is in the target vocabulary
        bli["reverse"] = None
    induced = induce_dictionary(
        source.words,
        mapped,
        target.words,
        target_vectors,
        n_words=INDUCED_WORDS,
        csls_pool=bli_args["csls_pool"],
    )
    entries.write_bli(tmp, bli, induced)
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
    reverse = bli.get("reverse")
    if reverse:
        parts = [
            f"{method} p@1={reverse[method]['p@1']:.3f}"
            for method in ("nn", "csls")
            if method in reverse
        ]
        ui.info(f"BLI target -> source on {reverse['n_queries']} words: " + "; ".join(parts))
