"""End to end: the installed `dtl` command in a subprocess on the shipped tiny corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, one_error_line, run_dtl

from dtl_cli.hydra_app import compose_config
from dtl_cli.stages import entries
from dtl_cli.store import Store
from dtl_cli.text.tokenize import make_tokenizer
from dtl_cli.text.vocab import length_from_data

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One store for the module: pretrain -> transfer -> evaluate -> run, recorded."""
    root = tmp_path_factory.mktemp("e2e")
    store = root / "store"
    steps = {}
    for verb in ("pretrain", "transfer", "evaluate", "run"):
        result = run_dtl([verb], root, store)
        assert result.returncode == 0, f"dtl {verb} failed:\n{result.stdout}\n{result.stderr}"
        steps[verb] = result
    return root, store, steps


def _metrics(root: Path, verb: str) -> dict:
    runs = sorted((root / "outputs" / verb).glob("*/*/metrics.json"))
    assert runs, f"no metrics.json for {verb}"
    return json.loads(runs[-1].read_text())


def test_run_transfers_zero_shot_well_above_chance(shared):
    root, _, _ = shared
    m = _metrics(root, "evaluate")
    assert m["k"] == 0 and m["baseline"]["kind"] == "majority"
    assert m["transfer"]["accuracy"] > m["chance"] + 0.3  # 4 labels: chance is 0.25
    assert m["transfer"]["macro_f1"] > 0.5
    assert m["gain"]["accuracy"] > 0.2
    assert m["bli"]["nn"]["p@1"] > 0.3 and m["bli"]["csls"]["p@1"] > 0.3
    assert m["bli"]["coverage"] > 0.9
    labels = m["transfer"]["labels"]
    assert sorted(labels) == ["arts", "business", "science", "sports"]
    assert set(m["transfer"]["per_class"]) == set(labels)
    matrix = m["transfer"]["confusion_matrix"]
    assert sum(map(sum, matrix)) == m["n_test"]


def test_max_len_auto_fits_the_source_documents(shared):
    _, store, steps = shared
    tokenize = make_tokenizer("nltk", lowercase=True)
    texts = pd.read_csv(TINY / "en_train.csv")["text"]
    expected = length_from_data([len(tokenize(t)) for t in texts])  # 95th percentile, 16s
    assert f"model.max_len=auto: {expected} tokens" in steps["pretrain"].stdout
    cfg, found = compose_config([]), Store(store)
    assert entries.max_len(cfg, found) == expected
    space = entries.read_space(cfg, found, "source")
    data = entries.read_labelled(cfg, found, "source", space, entries.class_names(cfg, found))
    assert data.ids.shape == (len(texts), expected)


def test_zero_shot_shows_the_test_majority_as_an_oracle_reference(shared):
    root, _, steps = shared
    m = _metrics(root, "evaluate")
    counts = pd.read_csv(TINY / "zh_test.csv")["label"].value_counts()
    assert m["oracle"]["majority_class"] == counts.index[0]
    assert m["oracle"]["majority_share"] == pytest.approx(counts.iloc[0] / counts.sum())
    assert "oracle reference (reads the test labels; no run uses it)" in steps["run"].stdout


def test_verbs_reuse_each_others_store_entries(shared):
    root, store, steps = shared
    assert "== pretrain: running" in steps["pretrain"].stdout
    assert "== pretrain: cached" in steps["transfer"].stdout
    assert "== map: running" in steps["transfer"].stdout
    for stage in ("pretrain", "map", "finetune"):
        assert f"== {stage}: cached" in steps["evaluate"].stdout
        assert f"== {stage}: cached" in steps["run"].stdout
    assert _metrics(root, "run")["transfer"] == _metrics(root, "evaluate")["transfer"]
    assert not list(store.glob("*/.tmp-*"))


def test_run_folder_records_config_timings_and_versions(shared):
    root, store, _ = shared
    run_dir = sorted((root / "outputs" / "run").glob("*/*"))[-1]
    record = json.loads((run_dir / "run.json").read_text())
    assert list(record["stages"]) == ["pretrain", "map", "finetune", "evaluate"]
    assert all(s["seconds"] >= 0 and s["peak_memory_mb"] > 0 for s in record["stages"].values())
    assert record["versions"]["dtl"] and record["devices"] == ["/CPU:0"]
    assert (store / "classifier" / record["stages"]["pretrain"]["key"]).is_dir()
    built = record["stages"]["pretrain"]["entries"]
    assert set(built) == {
        "corpus[source]",
        "corpus[target]",
        "corpus[target_test]",
        "embeddings[source]",
        "embeddings[target]",
        "classifier",
    }
    assert all(entry["cached"] for entry in built.values())
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "run.log").stat().st_size > 0


def test_missing_upstream_runs_first_and_k_shot_trains_a_real_baseline(shared):
    root, store, _ = shared
    result = run_dtl(["evaluate", "evaluation.k=40"], root, store)
    assert result.returncode == 0, result.stderr
    assert "== finetune: not in the store yet, running it first" in result.stdout
    assert "target-only k=40: temperature " in result.stdout  # its calibrated EM, said
    m = _metrics(root, "evaluate")
    assert m["k"] == 40 and m["baseline"]["kind"] == "target_only"
    assert m["baseline"]["accuracy"] > m["chance"]
    assert m["transfer"]["accuracy"] > m["chance"] + 0.3
    # The label-free adaptation (no k-shot label) came from the k = 0 runs' entry.
    run = sorted(p.parent for p in (root / "outputs" / "evaluate").glob("*/*/run.json"))[-1]
    finetune = json.loads((run / "run.json").read_text())["stages"]["finetune"]
    used = finetune["entries"]
    assert used["adapted"]["cached"] is True
    assert used["finetune[40,0]"]["cached"] is False
    # The mix's target-only side is the baseline's classifier: the same priors, so w = 0
    # would be the baseline itself.
    shot = finetune["shots"]["k=40/repeat=0"]
    mixed = json.loads((Path(shot["entry"]) / "finetune.json").read_text())["combine"]
    baseline = json.loads((Path(shot["baseline_entry"]) / "baseline.json").read_text())
    assert mixed["target_only_priors"] == baseline["priors"]
    # ... calibrated alike before its EM: the temperature from its out-of-fold outputs.
    assert mixed["target_only_temperature"] == baseline["temperature"] > 0


def test_sweep_over_two_mappings_pretrains_once(shared):
    root, store, _ = shared
    result = run_dtl(["transfer", "-m", "mapping=linear,none"], root, store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("== pretrain: cached") == 2
    jobs = sorted((root / "outputs" / "multirun" / "transfer").glob("*/*/[0-9]"))
    assert len(jobs) == 2
    assert all((job / "status.txt").read_text() == "done\n" for job in jobs)
    assert len(list((store / "classifier").glob("[0-9a-f]*"))) == 1
    assert len(list((store / "embeddings").glob("[0-9a-f]*"))) == 2
    # linear + none + the procrustes entry from the fixture
    assert len(list((store / "map").glob("[0-9a-f]*"))) == 3


def test_vecmap_multistep_recipe_maps_and_is_scored_in_the_shared_space(shared):
    root, store, _ = shared
    recipe = ["mapping.whiten=true", "mapping.src_reweight=0.5", "mapping.trg_reweight=0.5"]
    recipe += ["mapping.src_dewhiten=src", "mapping.trg_dewhiten=trg"]
    result = run_dtl(["map", *recipe], root, store)
    assert result.returncode == 0, result.stderr
    entries = {path.parent for path in (store / "map").glob("*/map.npz")}
    shared = [e for e in entries if "W_shared" in np.load(e / "map.npz").files]
    assert len(shared) == 1
    record = json.loads(sorted((root / "outputs" / "map").glob("*/*/run.json"))[-1].read_text())
    assert record["stages"]["map"]["key"] == shared[0].name
    bli = record["stages"]["map"]["bli"]
    assert bli["csls"]["p@1"] > 0.8 and bli["reverse"]["csls"]["p@1"] > 0.8
    line = one_error_line(run_dtl(["map", "mapping=linear", "mapping.whiten=true"], root, store))
    assert "mapping.whiten is not a key of mapping (LinearMapping)" in line


def test_same_seed_same_numbers_in_a_fresh_store(shared, tmp_path):
    root, _, _ = shared
    result = run_dtl(["run"], tmp_path, tmp_path / "store")
    assert result.returncode == 0, result.stderr
    fresh = _metrics(tmp_path, "run")
    again = _metrics(root, "run")
    assert fresh["transfer"] == again["transfer"] and fresh["bli"] == again["bli"]


def test_own_csv_files_with_pretrained_vectors(shared, tmp_path):
    """dataset=csv + embedding=pretrained: .vec files exported from the shared run's store."""
    from dtl_cli.embed.io import load_saved_vectors, write_vec

    root, store, _ = shared
    record = json.loads(sorted((root / "outputs" / "run").glob("*/*/run.json"))[0].read_text())
    for side in ("source", "target"):
        key = record["stages"]["pretrain"]["entries"][f"embeddings[{side}]"]["key"]
        words, vectors = load_saved_vectors(store / "embeddings" / key / "vectors")
        write_vec(tmp_path / f"{side}.vec", words, vectors)
    result = run_dtl(
        [
            "run",
            "dataset=csv",
            f"dataset.source.train.path={TINY / 'en_train.csv'}",
            f"dataset.target.train.path={TINY / 'zh_train.csv'}",
            f"dataset.target.test.path={TINY / 'zh_test.csv'}",
            f"dataset.dictionary.seed={TINY / 'dict_seed.txt'}",
            f"dataset.dictionary.test={TINY / 'dict_test.txt'}",
            "embedding=pretrained",
            f"embedding.source_vectors={tmp_path / 'source.vec'}",
            f"embedding.target_vectors={tmp_path / 'target.vec'}",
        ],
        tmp_path,
        tmp_path / "store",
    )
    assert result.returncode == 0, result.stderr
    assert "source: loading vectors from" in result.stdout
    assert "saved a binary copy for next time in the store" in result.stdout
    m = _metrics(tmp_path, "run")
    assert m["transfer"]["accuracy"] > m["chance"] + 0.3
    assert m["bli"]["nn"]["p@1"] > 0.3
