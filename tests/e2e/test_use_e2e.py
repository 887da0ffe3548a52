"""End to end on the tiny corpus: an Optuna search on a dev split, tracked in MLflow, then
`dtl report` over its trials."""

from __future__ import annotations

import io
import json
import os

import pytest
from conftest import copy_store, run_dtl
from rich.console import Console

from dtl_cli import report

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def search(tmp_path_factory, tiny_entries):
    """Two Optuna trials of hparams_search=finetune_optuna, each logged to MLflow, over a
    copy of the tiny store."""
    root = tmp_path_factory.mktemp("search")
    result = run_dtl(
        ["run", "hparams_search=finetune_optuna", "hydra.sweeper.n_trials=2", "logger=mlflow"],
        root,
        copy_store(tiny_entries, root / "store"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sweeps = sorted((root / "outputs" / "multirun" / "run").glob("*/*"))
    assert len(sweeps) == 1
    return root, sweeps[0], result


def test_each_trial_returns_its_dev_score_and_the_sweeper_keeps_the_best(search):
    _, sweep, result = search
    values = []
    for job in ("0", "1"):
        objective = json.loads((sweep / job / "objective.json").read_text())
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert objective["name"] == "dev_macro_f1@50"
        # the number returned is the dev split's, not the test split's
        assert objective["value"] == metrics["dev"]["transfer"]["macro_f1"]
        assert metrics["n_dev"] == 160 and metrics["k"] == 50  # 20% of 800, k from the rest
        values.append(objective["value"])
    best = (sweep / "optimization_results.yaml").read_text()
    assert f"best_value: {max(values)}" in best
    assert "objective dev_macro_f1@50 = " in result.stdout


def test_report_lists_the_trials_and_marks_the_best(search):
    _, sweep, _ = search
    console = Console(record=True, width=250, file=io.StringIO())
    out = report.report([str(sweep)], console=console)
    text = console.export_text()
    assert list(out["summary"]["trial"]) == [0, 1]
    best = int(out["summary"]["objective"].idxmax())
    assert f"best trial: {sweep / str(best)} objective=" in text
    assert (sweep / "objective_by_trial.png").stat().st_size > 1000


def test_every_trial_is_an_mlflow_run_in_the_file_store(search):
    import mlflow

    root, sweep, _ = search
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    client = mlflow.MlflowClient(tracking_uri=(root / "outputs" / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("dtl").experiment_id
    parents = [
        r for r in client.search_runs([experiment]) if "mlflow.parentRunId" not in r.data.tags
    ]
    assert sorted(r.data.tags["dtl.run_dir"] for r in parents) == [
        str((sweep / job).resolve()) for job in ("0", "1")
    ]
    for run in parents:
        assert run.data.params["evaluation.objective"] == "dev_macro_f1@50"
        strategy = run.data.params["model.finetune.strategy"]
        assert strategy in ("frozen_embeddings", "full", "head_only")
        assert 0 < run.data.metrics["dev.transfer.macro_f1"] <= 1
        assert "transfer.accuracy" in run.data.metrics
