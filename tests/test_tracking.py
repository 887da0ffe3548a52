"""MLflow tracking: the pure helpers on small dicts, and `log_run` with the real mlflow
package into a file store in tmp_path (no server, no mocks)."""

from __future__ import annotations

import json
import os

from dtl_cli.tracking import (
    curve_metrics,
    final_metrics,
    flatten,
    histories,
    log_run,
    metric_name,
    stage_metrics,
    tracking_uri,
)

METRICS = {
    "k": [0, 10],
    "seed": 0,
    "n_test": 6,
    "transfer": {"accuracy": 0.9, "accuracy_runs": [0.9], "confusion_matrix": [[1, 0], [0, 1]]},
    "baseline": {"accuracy": 0.5, "kind": "majority"},
    "bli": {"nn": {"p@1": 0.75}},
    "adapt_norm": False,
    "curve": [
        {"k": 0, "transfer": {"accuracy": 0.8, "macro_f1": 0.7}, "baseline": {"accuracy": 0.5}},
        {"k": 10, "transfer": {"accuracy": 0.9, "macro_f1": 0.85}, "baseline": {"accuracy": 0.6}},
    ],
    "history": {
        "source": {"loss": [1.0, 0.5, 0.25]},
        "runs": {"k=10/repeat=0": {"finetune": {"loss": [0.4, 0.3]}, "baseline": {}}},
    },
}


def test_flatten_and_metric_names():
    assert dict(flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x"})) == {
        "a.b": 1,
        "a.c": [1, 2],
        "d": "x",
    }
    assert metric_name("bli.nn.p@1") == "bli.nn.p_at_1"
    assert metric_name("per_class.a+b.f1") == "per_class.a_b.f1"


def test_final_metrics_keep_numbers_at_the_largest_k_only():
    flat = final_metrics(METRICS)
    assert flat == {
        "n_test": 6.0,
        "transfer.accuracy": 0.9,
        "baseline.accuracy": 0.5,
        "bli.nn.p_at_1": 0.75,
    }


def test_curve_metrics_are_stepped_by_k_and_histories_named_by_model():
    rows = curve_metrics(METRICS)
    assert ("curve.transfer.accuracy", 0.9, 10) in rows
    assert ("curve.baseline.accuracy", 0.5, 0) in rows
    assert not [r for r in rows if r[0] == "curve.baseline.macro_f1"]  # absent, not invented
    assert histories(METRICS) == {
        "source classifier": {"loss": [1.0, 0.5, 0.25]},
        "finetune k=10/repeat=0": {"loss": [0.4, 0.3]},
    }


def test_stage_metrics_read_bli_and_seconds_from_run_json():
    record = {"stages": {"map": {"seconds": 1.5, "bli": {"csls": {"p@1": 0.5}, "n": 3}}}}
    assert stage_metrics(record) == {"seconds.map": 1.5, "bli.csls.p_at_1": 0.5, "bli.n": 3.0}


def test_tracking_uri_defaults_to_a_file_store_below_the_outputs(tmp_path):
    assert tracking_uri(None, str(tmp_path)) == (tmp_path / "mlruns").as_uri()
    assert tracking_uri("http://localhost:5000", "x") == "http://localhost:5000"
    assert tracking_uri(str(tmp_path / "runs"), "x") == (tmp_path / "runs").as_uri()


def test_log_run_writes_one_run_with_nested_models_into_a_file_store(tmp_path, monkeypatch):
    import mlflow  # the `mlflow` extra (make install has it)

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps(METRICS))
    (run_dir / "run.json").write_text(json.dumps({"verb": "run", "stages": {}}))
    (run_dir / "status.txt").write_text("done\n")
    (run_dir / "learning_curve.png").write_bytes(b"png")
    uri = tracking_uri(None, str(tmp_path / "outputs"))
    run_id = log_run(run_dir, {"mapping.method": "procrustes", "seed": 0}, uri, "tests")

    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"mapping.method": "procrustes", "seed": "0"}
    assert run.data.metrics["transfer.accuracy"] == 0.9
    steps = client.get_metric_history(run_id, "curve.transfer.accuracy")
    assert [(m.step, m.value) for m in steps] == [(0, 0.8), (10, 0.9)]
    artefacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"metrics.json", "run.json", "status.txt", "learning_curve.png"} <= artefacts
    experiment = client.get_experiment_by_name("tests").experiment_id
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{run_id}'")
    by_name = {c.info.run_name: c.info.run_id for c in children}
    assert set(by_name) == {"source classifier", "finetune k=10/repeat=0"}
    losses = client.get_metric_history(by_name["source classifier"], "loss")
    assert [m.value for m in sorted(losses, key=lambda m: m.step)] == [1.0, 0.5, 0.25]
    assert os.path.isdir(tmp_path / "outputs" / "mlruns")


def test_hparams_summary_holds_the_config_and_the_final_numbers(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    from dtl_cli.hparams import log_hparams, scalar_params

    plain = scalar_params({"a": [1, 2], "b": None, "c": 0.5})
    assert plain == {"a": "[1, 2]", "b": "None", "c": 0.5}
    folder = log_hparams(tmp_path, {"mapping.method": "linear"}, final_metrics(METRICS))
    events = event_accumulator.EventAccumulator(str(folder))
    events.Reload()
    assert "_hparams_/session_start_info" in events.Tags()["tensors"]
    assert {"transfer.accuracy", "bli.nn.p_at_1"} <= set(events.Tags()["tensors"])
    start = events.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    assert b"mapping.method" in start and b"linear" in start


def test_experiment_created_once_when_jobs_race(tmp_path, monkeypatch):
    import mlflow

    from dtl_cli.tracking import _experiment_id

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow.MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    first = _experiment_id(client, "race")
    # a second job that looked before the first created it: create fails, lookup wins
    monkeypatch.setattr(client, "get_experiment_by_name", _none_once(client.get_experiment_by_name))
    assert _experiment_id(client, "race") == first


def _none_once(lookup):
    calls = []

    def wrapped(name):
        calls.append(name)
        return None if len(calls) == 1 else lookup(name)

    return wrapped


def test_a_failed_send_is_one_warning_and_the_run_stays_done(tmp_path, capsys):
    from omegaconf import OmegaConf

    from dtl_cli.tracking import Tracking

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "status.txt").write_text("done\n")
    (tmp_path / "a-file").write_text("")
    config = OmegaConf.create(
        {
            "logger": {"mlflow": True, "tracking_uri": str(tmp_path / "a-file" / "mlruns")},
            "paths": {"output": str(tmp_path)},
            "hydra": {"runtime": {"output_dir": str(run_dir)}},
        }
    )
    Tracking().on_job_end(config)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("dtl: warning: logger=mlflow: the run was not sent to file://")
    assert f"its folder {run_dir} keeps everything" in line
    assert (run_dir / "status.txt").read_text() == "done\n"
