"""End to end for training options: learning curves, other models, strategies, bad k; each
over a copy of the session's tiny store (its corpus, embeddings and map built once)."""

from __future__ import annotations

import json

import pytest
from conftest import run_dtl

pytestmark = pytest.mark.e2e


# The label-free adaptation and the k-shot mix (each a few more trainings) are not what
# these tests are about: off, so each run trains only what the assertions read.
NO_ADAPT = [
    "model.finetune.adapt.source_epochs=0",
    "model.finetune.adapt.self_training_rounds=0",
    "model.finetune.combine=none",
]


def _metrics(root, verb="run") -> dict:
    runs = sorted((root / "outputs" / verb).glob("*/*/metrics.json"))
    assert runs
    return json.loads(runs[-1].read_text())


def test_learning_curve_with_repeats_writes_mean_std_and_a_plot(tmp_path, seeded_store):
    result = run_dtl(
        [
            "run",
            "evaluation.k=[0,20,all]",
            "evaluation.repeats=2",
            "model.finetune.epochs=5",
            "model.epochs=3",  # a classifier of its own (its training is logged), soon trained
            *NO_ADAPT,
        ],
        tmp_path,
        seeded_store,
    )
    assert result.returncode == 0, result.stderr
    assert "20 examples are too few for a validation split" in result.stdout
    m = _metrics(tmp_path)
    assert m["k"] == [0, 20, 800]
    curve = {row["k"]: row for row in m["curve"]}
    assert curve[0]["repeats"] == 1 and curve[20]["repeats"] == 2
    runs = curve[20]["transfer"]["accuracy_runs"]
    assert len(runs) == 2 and curve[20]["transfer"]["accuracy"] == pytest.approx(sum(runs) / 2)
    assert curve[20]["baseline"]["kind"] == "target_only"
    assert curve[0]["baseline"]["kind"] == "majority"
    assert set(m["history"]["runs"]) == {
        "k=0/repeat=0",
        "k=20/repeat=0",
        "k=20/repeat=1",
        "k=800/repeat=0",
        "k=800/repeat=1",
    }
    assert len(m["history"]["source"]["loss"]) >= 1
    png = next((tmp_path / "outputs" / "run").glob("*/*/learning_curve.png"))
    assert png.stat().st_size > 10_000
    assert list((tmp_path / "outputs" / "run").glob("*/*/tensorboard/pretrain"))


@pytest.mark.parametrize(("model", "strategy"), [("cnn", "head_only"), ("bilstm", "gradual")])
def test_other_models_and_strategies_transfer(tmp_path, seeded_store, model, strategy):
    result = run_dtl(
        [
            "run",
            f"model={model}",
            f"model.finetune.strategy={strategy}",
            "evaluation.k=20",
            "model.epochs=4",
            "model.finetune.epochs=3",
            *NO_ADAPT,
        ],
        tmp_path,
        seeded_store,
    )
    assert result.returncode == 0, result.stderr
    m = _metrics(tmp_path)
    assert m["model"] == model and m["strategy"] == strategy
    assert m["curve"][0]["strategy"] == strategy
    assert m["transfer"]["accuracy"] > m["chance"] + 0.1


def test_k_larger_than_the_target_split_is_one_clear_line(tmp_path, seeded_store):
    result = run_dtl(["run", "evaluation.k=5000"], tmp_path, seeded_store)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "evaluation.k=5000" in lines[0] and "800" in lines[0]


def test_fasttext_embeddings_transfer_zero_shot(tmp_path, seeded_store):
    result = run_dtl(
        ["run", "embedding=fasttext", "embedding.bucket=20000"], tmp_path, seeded_store
    )
    assert result.returncode == 0, result.stderr
    assert "fasttext source" in result.stdout and "fasttext target" in result.stdout
    m = _metrics(tmp_path)
    assert m["transfer"]["accuracy"] > m["chance"] + 0.3
