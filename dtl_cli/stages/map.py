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
from dtl_cli.align.bli import (
    evaluate_bli,
    filter_pairs,
    induce_dictionary,
    read_dictionary,
    seed_overlap,
)
from dtl_cli.align.learn import carry_vectors, learn_map
from dtl_cli.align.mappings import apply_map
from dtl_cli.align.self_learning import identical_pairs
from dtl_cli.errors import DataError
from dtl_cli.schema import LinearMapping, SelfLearningMapping, is_a
from dtl_cli.stages import entries
from dtl_cli.stages.common import config_values
from dtl_cli.stages.entries import Map, Space
from dtl_cli.stages.options import multistep_steps
from dtl_cli.store import Store
from dtl_cli.text.script import DictionaryScript, convert_dictionary
from dtl_cli.text.vocab import first_index

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


def seed_index_pairs(cfg: DictConfig, src_words, tgt_words) -> tuple[np.ndarray, dict]:
    """Seed pairs as (source row, target row) int [n, 2], and what became of the dictionary:
    pairs used and dropped (a word missing from a vocabulary; 0 for identical seeds), and
    its script conversion."""
    m = cfg.mapping
    seed = m.seed
    if seed in ("identical", "numerals"):
        pairs = identical_pairs(src_words, tgt_words, numerals_only=seed == "numerals")
        if m.seed_pairs is not None:
            pairs = pairs[: m.seed_pairs]
        if not len(pairs):
            raise DataError(
                f"mapping.seed={seed}: no {'numeral' if seed == 'numerals' else 'word'} is "
                "spelled the same in both vocabularies; use mapping.seed=dictionary"
            )
        ui.info(f"seed: {len(pairs)} {seed} strings in both vocabularies")
        return pairs, {"seed_pairs_used": len(pairs), "seed_pairs_dropped": 0}
    pairs, script = read_converted(cfg, "seed", src_words, tgt_words)
    kept, dropped = filter_pairs(pairs, first_index(src_words), first_index(tgt_words))
    if not kept:
        cap = cfg.embedding.max_vocab
        if cap is not None and min(len(src_words), len(tgt_words)) >= cap:
            fix = f"embedding.max_vocab={cap} keeps only the {cap} most frequent words: raise it"
        else:
            fix = (script and script.mismatch()) or "check the language order (source first)"
        raise DataError(
            f"{cfg.dataset.dictionary.seed}: none of its {len(pairs)} pairs has both words in "
            f"the vocabularies ({len(set(src_words))} source, {len(set(tgt_words))} target "
            f"words); {fix} [dataset.dictionary.seed]"
        )
    if m.seed_pairs is not None:
        kept = kept[: m.seed_pairs]
    ui.info(
        f"seed dictionary: {len(kept)} pairs used, {dropped} dropped (a word not in vocab)"
        + (f"; {script.describe()}" if script else "")
    )
    if script and dropped > len(pairs) / 2:
        ui.info(f"most seed pairs dropped: {script.explain_drops()}")
    info = {"seed_pairs_used": len(kept), "seed_pairs_dropped": dropped}
    if script:
        info["dictionary_script"] = {"conversion": script.conversion, "converted": script.changed}
    return np.array(kept, dtype=np.int64).reshape(-1, 2), info


def read_converted(
    cfg: DictConfig, which: str, src_words, tgt_words
) -> tuple[list[tuple[str, str]], DictionaryScript | None]:
    """Dictionary `which` (seed | test) as pairs, its Chinese side converted into the
    corpus's script by `dataset.dictionary.script` (None: neither language is Chinese)."""
    d = cfg.dataset
    pairs = read_dictionary(d.dictionary[which])
    sides = ((d.source.lang, src_words), (d.target.lang, tgt_words))
    for side, (lang, words) in enumerate(sides):
        if str(lang).lower().startswith("zh"):
            return convert_dictionary(pairs, side, words, d.dictionary.script)
    return pairs, None


def _self_learning_args(m: DictConfig, seed: int) -> dict:
    if not is_a(m, SelfLearningMapping):
        return {"seed": seed}
    keys = ("cutoff", "csls_k", "keep_prob", "patience", "min_improvement", "max_iterations")
    keys += ("batch_size", "keep_seed", "drift_guard", "drift_patience")
    return {**{k: m[k] for k in keys}, "seed": seed}


def _build(cfg: DictConfig, source: Space, target: Space, tmp: Path) -> dict:
    m = cfg.mapping
    seed_pairs, info = seed_index_pairs(cfg, source.words, target.words)

    def log(entry: dict) -> None:
        # Progress for long runs only: iterations of the tiny corpus take milliseconds.
        if entry["seconds"] >= 1.0:
            ui.info(
                f"self-learning {entry['iteration']}: objective {entry['objective']:.4f}, "
                f"{entry['pairs']} pairs, p={entry['keep_prob']:.2f}, {entry['seconds']:.1f} s"
            )

    with config_values("mapping.*"):
        learned = learn_map(
            m.method,
            source.vectors,
            target.vectors,
            seed_pairs,
            direction=str(m.direction),
            steps=[str(step) for step in m.normalize],
            ridge=m.ridge if is_a(m, LinearMapping) else 0.0,
            ridge_relative=bool(is_a(m, LinearMapping) and m.ridge_relative),
            shrink_toward=str(m.shrink_toward) if is_a(m, LinearMapping) else "zero",
            self_learning=_self_learning_args(m, cfg.seed),
            multistep=multistep_steps(m),
            log=log,
        )
    if m.method == "self_learning":
        info["history"] = learned.history
        last = learned.history[-1]
        stopped = f"; stopped: {last['stopped']}" if "stopped" in last else ""
        ui.info(
            f"self-learning: {len(learned.history)} iterations, objective "
            f"{learned.history[0]['objective']:.4f} -> {last['objective']:.4f}, "
            f"{last['pairs']} induced pairs{stopped}"
        )
        _say_drift(learned.history)
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
    test_pairs, _ = read_converted(cfg, "test", source.words, target.words)
    if cfg.evaluation.bli.drop_seed_overlap:
        seed_pairs, _ = read_converted(cfg, "seed", source.words, target.words)
        overlap = set(seed_overlap(test_pairs, seed_pairs))
        test_pairs = [pair for pair in test_pairs if pair not in overlap]
        ui.info(f"BLI: {len(overlap)} test pairs sharing a source word with the seed dropped")
    bli_args = {
        # P@1 is the headline every summary shows: scored whatever precision_at lists.
        "ks": tuple(sorted({1, *cfg.evaluation.bli.precision_at})),
        "csls_k": cfg.evaluation.bli.csls_k,
        "csls_pool": cfg.evaluation.bli.csls_pool,
        "dict_name": f"{test_path} [dataset.dictionary.test]",
    }
    with config_values("evaluation.bli.*"):
        bli = evaluate_bli(
            source.words, mapped, target.words, target_vectors, test_pairs, **bli_args
        )
    bli["seed_pairs_used"] = fitted.info["seed_pairs_used"]
    bli["seed_pairs_dropped"] = fitted.info["seed_pairs_dropped"]
    if "dictionary_script" in fitted.info:
        bli["dictionary_script"] = fitted.info["dictionary_script"]
    if fitted.shared is None:  # target -> source in source space, carried as the classifier is
        queries = carry_vectors(
            target.vectors, fitted.W_reverse, fitted.b_reverse, entries.carry_steps(cfg)
        )
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


def _say_drift(history: list[dict]) -> None:
    """Say which iteration's map the drift guard kept, when it is not the last."""
    last = history[-1]
    kept = last.get("kept_iteration")
    if kept is None or kept == len(history):
        return
    best = last["seed_cosine_start"] if kept == 0 else history[kept - 1]["seed_cosine"]
    ui.info(
        "self-learning drifted from the seed pairs: mean cosine of the held-out seed pairs "
        f"{last['seed_cosine_start']:.3f} for the seed pairs' own map, "
        f"{last['seed_cosine']:.3f} after the last iteration; kept "
        + ("the seed pairs' own map" if kept == 0 else f"iteration {kept}'s map")
        + f" ({best:.3f}; mapping.drift_guard=false keeps the last)"
    )


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
