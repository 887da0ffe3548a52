import numpy as np
import pytest

from dtl_cli.align.learn import learn_map
from dtl_cli.align.mappings import apply_map, fit_procrustes
from dtl_cli.align.retrieval import nearest_unit, tiled_top, topk, unit_rows
from dtl_cli.align.self_learning import (
    csls_induce,
    draw_ranks,
    fit_self_learning,
    identical_pairs,
    pick_by_rank,
    seed_cosine,
    split_seed_pairs,
)


def _planted(n=1500, d=40, noise=0.35, one_sided=0.1, seed=0):
    """Source X, target Y = Q x + noise with rows shuffled locally (frequency jitter) and
    a share of words on one side only. gold[i] = target row of source row i, or -1."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(20, d))
    base = centers[rng.integers(0, 20, n)] + rng.normal(size=(n, d))
    Q, R = np.linalg.qr(rng.normal(size=(d, d)))
    Q *= np.sign(np.diag(R))
    X = unit_rows(base)
    Y = unit_rows(base @ Q.T + noise * rng.normal(size=(n, d)))
    # Replace a share of target rows by unrelated words (source word has no translation).
    lonely = rng.random(n) < one_sided
    Y[lonely] = unit_rows(rng.normal(size=(int(lonely.sum()), d)))
    order = np.argsort(np.arange(n) + rng.normal(scale=30, size=n))  # target row -> concept
    Y = Y[order]
    gold = np.argsort(order)
    gold[lonely] = -1
    return X, Y, gold


def _p_at_1(X, Y, gold, W, b, queries):
    best, _ = topk(apply_map(X[queries], W, b), Y, 1, "csls", query_pool=apply_map(X, W, b))
    return float(np.mean(best[:, 0] == gold[queries]))


@pytest.fixture(scope="module")
def planted():
    X, Y, gold = _planted()
    have = np.flatnonzero(gold >= 0)
    train, test = have[:600], have[1000:1300]
    return X, Y, gold, train, test


def test_self_learning_from_25_pairs_matches_supervised_procrustes(planted):
    X, Y, gold, train, test = planted
    W_sup, b_sup = fit_procrustes(X[train], Y[gold[train]])
    supervised = _p_at_1(X, Y, gold, W_sup, b_sup, test)
    seed = np.stack([train[:25], gold[train[:25]]], axis=1)
    W_seed, b_seed = fit_procrustes(X[seed[:, 0]], Y[seed[:, 1]])
    W, b, history, _ = fit_self_learning(X, Y, seed, cutoff=1200, patience=3, seed=0)
    learned = _p_at_1(X, Y, gold, W, b, test)
    assert supervised > 0.6  # the task is not trivial ...
    assert _p_at_1(X, Y, gold, W_seed, b_seed, test) < supervised - 0.1  # ... nor are 25 pairs
    assert learned >= supervised - 0.02
    np.testing.assert_allclose(W @ W.T, np.eye(X.shape[1]), atol=1e-4)


def test_history_records_each_iteration_and_ends_at_its_best(planted):
    X, Y, gold, train, _ = planted
    seed = np.stack([train[:25], gold[train[:25]]], axis=1)
    seen = []
    _, _, history, _ = fit_self_learning(X, Y, seed, cutoff=800, patience=2, log=seen.append)
    assert seen == history
    assert [h["iteration"] for h in history] == list(range(1, len(history) + 1))
    assert set(history[0]) == {"iteration", "objective", "pairs", "keep_prob", "seconds"}
    probs = [h["keep_prob"] for h in history]
    assert probs[0] == 0.1 and probs[-1] == 1.0 and probs == sorted(probs)
    objectives = [h["objective"] for h in history]
    assert objectives[-1] >= objectives[0]
    at_one = [h["objective"] for h in history if h["keep_prob"] == 1.0]
    assert at_one[-1] >= max(at_one) - 1e-6  # stopped on a plateau, not after a drop
    assert all(h["pairs"] > 0 for h in history)


def test_self_learning_is_deterministic_for_a_seed(planted):
    X, Y, gold, train, _ = planted
    seed = np.stack([train[:25], gold[train[:25]]], axis=1)
    runs = [fit_self_learning(X, Y, seed, cutoff=500, max_iterations=4, seed=3) for _ in range(2)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert [h["objective"] for h in runs[0][2]] == [h["objective"] for h in runs[1][2]]


def test_max_iterations_bounds_the_loop(planted):
    X, Y, gold, train, _ = planted
    seed = np.stack([train[:25], gold[train[:25]]], axis=1)
    _, _, history, _ = fit_self_learning(X, Y, seed, cutoff=300, max_iterations=3)
    assert len(history) == 3


@pytest.mark.parametrize("batch_size", [7, 4096])
def test_csls_induce_matches_brute_force_union(batch_size):
    rng = np.random.default_rng(1)
    S = unit_rows(rng.normal(size=(30, 6)))
    T = unit_rows(rng.normal(size=(25, 6)))
    k = 3
    _, _, csls = _brute_csls(S, T, k)
    expected = {(i, int(np.argmax(csls[i]))) for i in range(30)}
    expected |= {(int(np.argmax(csls[:, j])), j) for j in range(25)}
    pairs, scores, _ = csls_induce(S, T, csls_k=k, batch_size=batch_size)
    assert {tuple(p) for p in pairs.tolist()} == expected and len(pairs) == len(expected)
    np.testing.assert_allclose(scores, csls[pairs[:, 0], pairs[:, 1]], atol=1e-5)


def _brute_csls(S, T, k):
    """r_S [n_s], r_T [n_t] and the full CSLS matrix [n_s, n_t] of unit rows S, T."""
    cos = S @ T.T
    r_s = np.sort(cos, axis=1)[:, -k:].mean(axis=1)
    r_t = np.sort(cos, axis=0)[-k:, :].mean(axis=0)
    return r_s, r_t, 2 * cos - r_s[:, None] - r_t[None, :]


@pytest.mark.parametrize("m", [3, 12, 300])
def test_pick_by_rank_matches_brute_force_with_few_candidates(m, monkeypatch):
    # With m neighbours per row most picks come from the candidates and the rest are
    # recomputed whole (in column tiles of 64); every pick must equal the brute-force
    # rank-r CSLS column.
    from dtl_cli.align import retrieval

    monkeypatch.setattr(retrieval, "_TILE_COLS", 64)
    monkeypatch.setattr(retrieval, "_FULL_WIDTH", 64)
    rng = np.random.default_rng(4)
    S = unit_rows(rng.normal(size=(200, 8)))
    T = unit_rows(rng.normal(size=(300, 8)))
    r_s, r_t, csls = _brute_csls(S, T, 5)
    ranks = draw_ranks(200, 300, 0.2, np.random.default_rng(0))
    assert ranks.max() > m or m == 300  # some rows need more than the candidates hold
    cand, cand_cos = nearest_unit(S, T, m)
    picked, score = pick_by_rank(S, T, cand, 2 * cand_cos, r_s, r_t, ranks, batch_size=16)
    expected = np.argsort(-csls, axis=1)[np.arange(200), ranks]
    np.testing.assert_array_equal(picked, expected)
    np.testing.assert_allclose(score, csls[np.arange(200), expected], atol=1e-5)


def test_pick_by_rank_scores_only_the_columns_the_hint_underrates(monkeypatch):
    # The hint is exact but for two columns it rates 0.5 too high: no row's candidates can
    # rule them out, yet only they can beat a pick. They are scored per row, and only the
    # rows where one of them (not already a candidate) reaches the pick are recomputed
    # against all columns; without that step every row would be.
    from dtl_cli.align import self_learning

    rng = np.random.default_rng(5)
    S = unit_rows(rng.normal(size=(400, 8)))
    T = unit_rows(rng.normal(size=(320, 8)))
    r_s, r_t, csls = _brute_csls(S, T, 5)
    hint = r_t.astype(np.float32)
    hint[[3, 77]] += 0.5
    ranks = draw_ranks(400, 320, 0.3, np.random.default_rng(1))
    cand, cand_scores = tiled_top(S, T, [(ranks + 11, hint)])[0]
    recomputed = []
    exact_picks = self_learning._exact_picks

    def recording(A, B, redo, *rest):
        recomputed.extend(redo.tolist())
        exact_picks(A, B, redo, *rest)

    monkeypatch.setattr(self_learning, "_exact_picks", recording)
    picked, score = pick_by_rank(S, T, cand, cand_scores, r_s, r_t, ranks, hint)
    rows = np.arange(400)
    expected = np.argsort(-csls, axis=1, kind="stable")[rows, ranks]
    np.testing.assert_array_equal(picked, expected)
    np.testing.assert_allclose(score, csls[rows, expected], atol=1e-5)
    pick_score = csls[rows, expected]
    overturned = set()
    for col in (3, 77):
        outside = ~(np.isfinite(cand_scores) & (cand == col)).any(axis=1)
        overturned |= set(np.flatnonzero(outside & (csls[:, col] >= pick_score - 1e-6)).tolist())
    assert 0 < len(overturned) < 100
    assert set(recomputed) == overturned


@pytest.mark.parametrize(
    ("tile_cols", "few_candidates", "hint_noise"),
    [(64, True, None), (4096, False, None), (4096, False, 0.01), (64, True, 0.3)],
)
def test_stochastic_csls_induce_picks_the_drawn_rank_both_ways(
    tile_cols, few_candidates, hint_noise, monkeypatch
):
    # Forward picks come from a CSLS-ranked pass, backward ones from candidates chosen by
    # 2 cos - hint (an estimate of r_S, good or poor); with few candidates most rows of
    # both are recomputed. Every pick must be the brute-force entry of the drawn rank.
    from dtl_cli.align import retrieval, self_learning

    monkeypatch.setattr(retrieval, "_TILE_COLS", tile_cols)
    monkeypatch.setattr(retrieval, "_FULL_WIDTH", tile_cols)
    if few_candidates:
        monkeypatch.setattr(self_learning, "CANDIDATE_MARGIN", 0)
    rng = np.random.default_rng(7)
    S = unit_rows(rng.normal(size=(250, 8)))
    T = unit_rows(rng.normal(size=(300, 8)))
    r_s, r_t, csls = _brute_csls(S, T, 4)
    draws = np.random.default_rng(3)
    rank_f, rank_b = draw_ranks(250, 300, 0.2, draws), draw_ranks(300, 250, 0.2, draws)
    fwd = np.argsort(-csls, axis=1, kind="stable")[np.arange(250), rank_f]
    bwd = np.argsort(-csls.T, axis=1, kind="stable")[np.arange(300), rank_b]
    expected = {(i, int(fwd[i])) for i in range(250)} | {(int(bwd[j]), j) for j in range(300)}
    hint = None if hint_noise is None else r_s + rng.normal(0, hint_noise, 250).astype("f4")
    pairs, scores, r_source = csls_induce(
        S, T, csls_k=4, keep_prob=0.2, rng=np.random.default_rng(3), hint=hint
    )
    np.testing.assert_allclose(r_source, r_s, atol=1e-6)
    assert {tuple(p) for p in pairs.tolist()} == expected and len(pairs) == len(expected)
    np.testing.assert_allclose(scores, csls[pairs[:, 0], pairs[:, 1]], atol=1e-5)


def test_draw_ranks_is_geometric_and_falls_back_to_best():
    ranks = draw_ranks(200_000, 10**6, 0.25, np.random.default_rng(0))
    # P(rank = r) = 0.75^r 0.25: mean (1 - p) / p = 3, P(rank 0) = 0.25.
    assert abs(ranks.mean() - 3.0) < 0.05 and abs((ranks == 0).mean() - 0.25) < 0.01
    few = draw_ranks(10_000, 2, 0.1, np.random.default_rng(0))
    # Two columns: rank 1 with probability 0.09; the rest (rank 0, or nothing kept) pick 0.
    assert set(np.unique(few)) == {0, 1} and abs((few == 1).mean() - 0.09) < 0.01
    assert not draw_ranks(5, 5, 1.0, None).any()


def test_stochastic_induction_only_picks_kept_entries_and_never_empty_rows():
    rng = np.random.default_rng(2)
    S = unit_rows(rng.normal(size=(40, 5)))
    T = unit_rows(rng.normal(size=(3, 5)))  # 3 columns: some rows lose every entry at p=0.1
    pairs, scores, _ = csls_induce(S, T, csls_k=2, keep_prob=0.1, rng=np.random.default_rng(0))
    assert np.isfinite(scores).all()
    assert set(pairs[:, 0].tolist()) == set(range(40))
    with pytest.raises(ValueError, match="random generator"):
        csls_induce(S, T, keep_prob=0.5)


def test_identical_pairs_and_numerals():
    src = ["the", "2018", "paris", "3.5", "dog", "paris"]
    tgt = ["的", "paris", "2018", "狗", "3.5"]
    assert identical_pairs(src, tgt).tolist() == [[1, 2], [2, 1], [3, 4]]
    assert identical_pairs(src, tgt, numerals_only=True).tolist() == [[1, 2], [3, 4]]
    assert identical_pairs(["a"], ["b"]).shape == (0, 2)


def test_identical_seed_drives_self_learning(planted):
    X, Y, gold, _, test = planted
    words_src = [f"s{i}" for i in range(len(X))]
    words_tgt = [f"t{j}" for j in range(len(Y))]
    for i in np.flatnonzero(gold >= 0)[:30]:  # 30 shared spellings, e.g. names and numbers
        words_src[i] = words_tgt[gold[i]] = f"name{i}"
    seed = identical_pairs(words_src, words_tgt)
    assert len(seed) == 30 and (gold[seed[:, 0]] == seed[:, 1]).all()
    W, b, _, _ = fit_self_learning(X, Y, seed, cutoff=1200, patience=3)
    assert _p_at_1(X, Y, gold, W, b, test) > 0.6


def test_target_to_source_stores_the_inverse_of_the_target_map(planted):
    X, Y, gold, train, _ = planted
    pairs = np.stack([train, gold[train]], axis=1)
    learned = learn_map("procrustes", X, Y, pairs, direction="target_to_source")
    W_g, b_g = fit_procrustes(Y[pairs[:, 1]], X[pairs[:, 0]])
    np.testing.assert_allclose(learned.W_reverse, W_g, atol=1e-6)
    np.testing.assert_allclose(learned.b_reverse, b_g, atol=1e-6)
    # The stored forward map undoes g: f(g(y)) = y.
    np.testing.assert_allclose(
        apply_map(apply_map(Y[:50], W_g, b_g), learned.W, learned.b), Y[:50], atol=1e-4
    )
    assert learned.W.shape == (X.shape[1], X.shape[1]) and learned.b.shape == (Y.shape[1],)


def test_linear_target_to_source_fits_the_forward_map_too():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    M = rng.normal(size=(4, 4))
    Y = X @ M.T + 1.0
    pairs = np.stack([np.arange(200), np.arange(200)], axis=1)
    learned = learn_map("linear", X, Y, pairs, direction="target_to_source")
    np.testing.assert_allclose(apply_map(X, learned.W, learned.b), Y, atol=1e-3)


def test_normalize_steps_are_applied_in_order_and_folded_back_exactly():
    rng = np.random.default_rng(4)
    X = unit_rows(rng.normal(size=(300, 6)) + 2.0)  # unit rows, far from centred
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    Y = X @ Q.T  # unit rows too; centring then removes both means
    pairs = np.stack([np.arange(100), np.arange(100)], axis=1)
    # "unit" first is exact on unit rows, then "center": the map is fitted on centred copies
    # and re-expressed on the raw vectors, so it still sends X onto Y.
    learned = learn_map("procrustes", X, Y, pairs, steps=["unit", "center"])
    np.testing.assert_allclose(apply_map(X, learned.W, learned.b), Y, atol=1e-4)
    np.testing.assert_allclose(apply_map(Y, learned.W_reverse, learned.b_reverse), X, atol=1e-4)


def test_normalize_steps_reach_both_spaces_in_the_given_order(monkeypatch):
    import dtl_cli.align.learn as learn

    calls = []
    real = learn.normalize

    def spy(X, steps):
        calls.append(list(steps))
        return real(X, steps)

    monkeypatch.setattr(learn, "normalize", spy)
    X = np.random.default_rng(0).normal(size=(20, 3))
    learn_map("procrustes", X, X, np.array([[0, 0], [1, 1], [2, 2]]), steps=["center", "unit"])
    assert calls == [["center", "unit"], ["center", "unit"]]
    calls.clear()
    learn_map("procrustes", X, X, np.array([[0, 0], [1, 1], [2, 2]]))
    assert calls == []


def test_learn_map_rejects_unknown_options():
    X = np.eye(3, dtype=np.float32)
    pairs = np.array([[0, 0]])
    with pytest.raises(ValueError, match="direction"):
        learn_map("procrustes", X, X, pairs, direction="sideways")
    with pytest.raises(ValueError, match="method"):
        learn_map("magic", X, X, pairs)
    with pytest.raises(ValueError, match="normalisation step"):
        learn_map("procrustes", X, X, pairs, steps=["whiten"])


def _drifting(d=20, n_seed=100, n_rest=1000, seed=0):
    """Seed words translate by an orthogonal Q; the many other words by a different map,
    which pulls self-learning away from the seed pairs."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    X = unit_rows(rng.normal(size=(n_seed + n_rest, d)))
    noise = 0.05 * rng.normal(size=(n_seed, d))
    R, _ = np.linalg.qr(rng.normal(size=(d, d)))
    Y = np.vstack(
        [unit_rows(X[:n_seed] @ Q.T + noise), unit_rows(X[n_seed:] @ (0.3 * Q + 0.7 * R).T)]
    )
    return X.astype(np.float32), Y.astype(np.float32), np.stack([np.arange(n_seed)] * 2, axis=1)


def test_split_seed_pairs_holds_out_every_fifth_source_word_with_all_its_pairs():
    seed = np.array([[0, 0], [0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [4, 6], [5, 7]])
    fit, held = split_seed_pairs(seed)
    assert held.tolist() == [[4, 5], [4, 6]] and len(fit) == 6
    fit, held = split_seed_pairs(seed[:5])  # four source words: nothing held out
    assert held is None and len(fit) == 5


def test_seed_cosine_is_the_mean_best_cosine_over_each_words_translations():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    Y = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    pairs = np.array([[0, 1], [0, 2], [1, 1]])  # word 0: cos 0 and 0.707; word 1: cos 1
    W, b = np.eye(2), np.zeros(2)
    assert seed_cosine(X, Y, pairs, W, b) == pytest.approx((np.sqrt(0.5) + 1) / 2)


def test_drift_guard_keeps_the_map_that_still_translates_the_held_out_seed_pairs():
    X, Y, seed = _drifting()
    _, held = split_seed_pairs(seed)
    args = {"cutoff": 1100, "patience": 2, "max_iterations": 20, "seed": 0}
    W, b, history, _ = fit_self_learning(X, Y, seed, **args)
    drifted = seed_cosine(X, Y, held, W, b)
    W, b, history, pairs = fit_self_learning(X, Y, seed, drift_guard=True, **args)
    cosines = [history[-1]["seed_cosine_start"]] + [e["seed_cosine"] for e in history]
    assert cosines[0] > 0.95 and cosines[-1] < cosines[0] - 0.2  # the loop drifts away
    kept = history[-1]["kept_iteration"]
    assert cosines[kept] == max(cosines) and kept < len(history)
    assert seed_cosine(X, Y, held, W, b) == pytest.approx(max(cosines), abs=1e-6)
    assert seed_cosine(X, Y, held, W, b) > drifted + 0.2  # unguarded, the last map drifted
    assert not np.isin(pairs[:, 0], held[:, 0]).any()  # never fitted on the held-out words


def test_drift_patience_stops_the_loop_once_the_kept_map_is_decided():
    X, Y, seed = _drifting()
    args = {"cutoff": 1100, "patience": 2, "max_iterations": 20, "seed": 0, "drift_guard": True}
    W_all, b_all, full, _ = fit_self_learning(X, Y, seed, **args)
    W, b, history, _ = fit_self_learning(X, Y, seed, drift_patience=2, **args)
    kept = history[-1]["kept_iteration"]
    assert len(history) == kept + 2 < len(full)  # two iterations past the best, then stop
    assert "no better held-out seed cosine for 2 iterations" in history[-1]["stopped"]
    assert "stopped" not in full[-1]
    # The same map as the full run's: that run's best came before the stop too.
    assert full[-1]["kept_iteration"] == kept
    np.testing.assert_allclose(W, W_all, atol=1e-6)
    np.testing.assert_allclose(b, b_all, atol=1e-6)


def test_keep_seed_puts_the_seed_pairs_into_every_dictionary():
    X, Y, seed = _drifting()
    args = {"cutoff": 1100, "patience": 2, "max_iterations": 6, "seed": 0}
    _, _, _, pairs = fit_self_learning(X, Y, seed, keep_seed=True, **args)
    assert set(map(tuple, seed.tolist())) <= set(map(tuple, pairs.tolist()))
