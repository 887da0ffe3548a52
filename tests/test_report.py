"""`dtl report` on hand-made run folders: collection, status, grouping, files, errors."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from rich.console import Console

from dtl_cli import report
from dtl_cli.cli import main as cli_main


def make_run(
    folder: Path,
    overrides: list[str],
    status: str | None = "done",
    accuracy: float | None = 0.5,
    record: dict | None = None,
    choices: dict | None = None,
    config: dict | None = None,
) -> Path:
    """A run folder as dtl leaves it: .hydra/, status.txt, metrics.json, run.json."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / ".hydra" / "hydra.yaml").write_text(
        yaml.safe_dump({"hydra": {"runtime": {"choices": choices or {"mapping": "procrustes"}}}})
    )
    (folder / ".hydra" / "config.yaml").write_text(
        yaml.safe_dump(config or {"seed": 0, "evaluation": {"k": 0}})
    )
    if status is not None:
        (folder / "status.txt").write_text(status + "\n")
    if accuracy is not None:
        metrics = {
            "k": 0,
            "transfer": {"accuracy": accuracy, "macro_f1": accuracy - 0.1, "labels": ["a"]},
            "baseline": {"kind": "majority", "accuracy": 0.25, "macro_f1": 0.1},
            "gain": {"accuracy": accuracy - 0.25, "macro_f1": accuracy - 0.2},
            "bli": {"coverage": 1.0, "nn": {"p@1": 0.4, "p@5": 0.7}, "csls": {"p@1": 0.6}},
        }
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if record is not None:
        (folder / "run.json").write_text(json.dumps(record))
    return folder


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """mapping x evaluation.k x seed = 2 x 2 x 2 runs; one more run failed, one unfinished."""
    root = tmp_path / "multirun" / "run" / "2024-05-01" / "12-00-00-000001"
    accuracy = {("linear", 0): 0.5, ("linear", 20): 0.7, ("procrustes", 0): 0.8}
    accuracy[("procrustes", 20)] = 0.9
    job = 0
    for mapping in ("linear", "procrustes"):
        for k in (0, 20):
            for seed in (0, 1):
                make_run(
                    root / str(job),
                    [f"mapping={mapping}", f"evaluation.k={k}", f"seed={seed}"],
                    accuracy=accuracy[(mapping, k)] + 0.02 * seed,
                    record={
                        "host": "box",
                        "git_commit": "abc123",
                        "stages": {"pretrain": {"seconds": 12.0}, "map": {"seconds": 0.5}},
                    },
                )
                job += 1
    make_run(
        root / str(job),
        ["mapping=linear", "evaluation.k=100000", "seed=0"],
        status="failed: evaluation.k=100000 but the target training split has only 400",
        accuracy=None,
    )
    make_run(root / str(job + 1), ["mapping=none", "evaluation.k=0", "seed=0"], None, None)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


def test_parse_override_reads_scalars_and_skips_hydra_keys():
    assert report.parse_override("evaluation.k=20") == ("evaluation.k", 20)
    assert report.parse_override("model.dropout=0.5") == ("model.dropout", 0.5)
    assert report.parse_override("mapping=linear") == ("mapping", "linear")
    assert report.parse_override("+repeat=1") == ("repeat", 1)
    assert report.parse_override("device.gpus=[0,1]") == ("device.gpus", "[0,1]")
    assert report.parse_override("model.max_len=null") == ("model.max_len", "null")
    assert report.parse_override("hydra.launcher.n_jobs=2") is None
    assert report.parse_override("hydra/launcher=joblib") is None


def test_find_runs_in_job_number_order_skipping_hidden_folders(sweep, tmp_path):
    make_run(tmp_path / "multirun" / ".dtl" / "store" / "x", ["mapping=linear"])
    runs = report.find_runs([tmp_path / "multirun"])
    assert [r.name for r in runs] == [str(i) for i in range(10)]
    assert report.find_runs([sweep / "3"]) == [sweep / "3"]


def test_collect_reads_status_overrides_and_metrics(sweep):
    runs = report.collect([sweep])
    assert len(runs) == 10
    assert runs["status"].value_counts().to_dict() == {"done": 8, "failed": 1, "in progress": 1}
    failed = runs[runs["status"] == "failed"].iloc[0]
    assert failed["error"].startswith("evaluation.k=100000 but")
    assert failed["evaluation.k"] == 100000
    done = runs[runs["status"] == "done"]
    assert set(done["mapping"]) == {"linear", "procrustes"}
    assert done["bli.nn.p@1"].eq(0.4).all() and done["bli.nn.p@5"].eq(0.7).all()
    assert done["seconds.pretrain"].eq(12.0).all() and done["host"].eq("box").all()
    assert report.swept_keys(runs) == ["mapping", "evaluation.k"]


def test_summary_is_mean_and_std_over_seeds_sorted_by_key(sweep):
    runs = report.collect([sweep])
    summary = report.summarize(runs, ["mapping", "evaluation.k"], ["transfer.accuracy"])
    assert list(zip(summary["mapping"], summary["evaluation.k"], strict=True)) == [
        ("linear", 0),
        ("linear", 20),
        ("linear", 100000),
        ("none", 0),
        ("procrustes", 0),
        ("procrustes", 20),
    ]
    row = summary.iloc[5]
    assert row["transfer.accuracy"] == pytest.approx(0.91)
    assert row["transfer.accuracy.std"] == pytest.approx(math.sqrt(2 * 0.01**2))
    assert (row["runs"], row["done"]) == (2, 2)
    assert summary.iloc[2]["done"] == 0 and math.isnan(summary.iloc[2]["transfer.accuracy"])
    assert report.best_rows(summary, "transfer.accuracy") == {5}


def test_report_writes_csv_markdown_and_plots(sweep, tmp_path):
    out = tmp_path / "out"
    console = Console(record=True, width=200, force_terminal=False)
    result = report.report([str(sweep)], out=str(out), timings=True, console=console)
    text = console.export_text()
    assert "procrustes" in text and "0.910 ± 0.014" in text
    assert "failed (1)" in text and "evaluation.k=100000 but the target" in text
    assert "in progress (1)" in text and "mapping=none" in text
    assert "timings" in text and "abc123" in text and "box" in text

    csv = pd.read_csv(out / "report.csv")
    assert len(csv) == 6
    assert {"mapping", "evaluation.k", "runs", "transfer.accuracy", "bli.csls.p@1.std"} <= set(
        csv.columns
    )
    assert len(pd.read_csv(out / "runs.csv")) == 10

    markdown = (out / "report.md").read_text()
    table = markdown.split("\n\n")[1].splitlines()
    assert len(table) == 2 + 6  # header, alignment, one row per configuration
    assert "| procrustes | 20 | 2 | **0.910 ± 0.014** |" in markdown
    assert "## Failed runs (1)" in markdown and "## Timings" in markdown

    png = out / "transfer.accuracy_vs_evaluation.k.png"
    assert png in result["files"] and png.stat().st_size > 1000


def test_categorical_sweep_gets_a_bar_chart(tmp_path):
    for job, (mapping, seed) in enumerate([("linear", 0), ("linear", 1), ("procrustes", 0)]):
        make_run(tmp_path / str(job), [f"mapping={mapping}", f"seed={seed}"], accuracy=0.6)
    quiet = Console(file=io.StringIO())
    result = report.report([str(tmp_path)], metric="csls", console=quiet)
    assert result["group"] == ["mapping"]
    assert (tmp_path / "bli.csls.pat1.png").stat().st_size > 1000


def test_key_missing_from_some_runs_comes_from_their_saved_config(tmp_path):
    make_run(tmp_path / "a" / "0", ["mapping=linear"], config={"evaluation": {"k": 0}})
    make_run(tmp_path / "b" / "0", ["evaluation.k=20"], choices={"mapping": "procrustes"})
    runs = report.collect([tmp_path])
    assert list(runs["mapping"]) == ["linear", "procrustes"]
    assert list(runs["evaluation.k"]) == [0, 20]


def test_corrupt_metrics_in_one_run_of_many_marks_it_failed(sweep):
    (sweep / "2" / "metrics.json").write_text("{not json")
    runs = report.collect([sweep])
    row = runs[runs["run"] == str(sweep / "2")].iloc[0]
    assert row["status"] == "failed" and row["error"].startswith("corrupt metrics.json")
    assert (runs["status"] == "done").sum() == 7


def _errors(capsys, argv: list[str]) -> str:
    assert cli_main(["report", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dtl: error: "), captured.err
    return lines[0]


def test_bad_input_is_one_error_line_naming_the_folder(tmp_path, capsys):
    assert "at least one run or sweep folder" in _errors(capsys, [])
    assert "no such folder" in _errors(capsys, [str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    assert "empty folder" in _errors(capsys, [str(tmp_path / "empty")])
    (tmp_path / "other" / "x").mkdir(parents=True)
    (tmp_path / "other" / "x" / "notes.txt").write_text("hi")
    assert f"no dtl runs under {tmp_path / 'other'}" in _errors(capsys, [str(tmp_path / "other")])
    run = make_run(tmp_path / "bad", ["mapping=linear"])
    (run / "metrics.json").write_text('{"transfer": ')
    assert str(run / "metrics.json") in _errors(capsys, [str(run)])
    make_run(tmp_path / "one", ["mapping=linear"])
    assert "unknown metric 'acc'" in _errors(capsys, [str(tmp_path / "one"), "--metric", "acc"])
    assert "--group 'map'" in _errors(capsys, [str(tmp_path / "one"), "--group", "map"])
    assert "unrecognized arguments: --bogus" in _errors(capsys, ["--bogus"])


def test_dtl_report_imports_neither_tensorflow_nor_hydra(sweep):
    code = (
        "import sys\n"
        "from dtl_cli.cli import main\n"
        f"assert main(['report', {str(sweep)!r}]) == 0\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'hydra', 'gensim') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_transfer_sweep_without_metrics_json_reports_bli_from_run_json(tmp_path):
    for job, (mapping, p1) in enumerate([("linear", 0.4), ("procrustes", 0.8)]):
        bli = {"coverage": 1.0, "nn": {"p@1": p1}, "csls": {"p@1": p1 + 0.1}}
        make_run(
            tmp_path / str(job),
            [f"mapping={mapping}"],
            accuracy=None,
            record={"stages": {"map": {"bli": bli, "seconds": 0.1}}},
        )
    console = Console(record=True, width=200)
    result = report.report([str(tmp_path)], console=console)
    text = console.export_text()
    assert "showing bli.nn.p@1" in text and "accuracy" not in text.split("mean ±")[0]
    assert list(result["summary"]["bli.nn.p@1"]) == [0.4, 0.8]
    assert (tmp_path / "bli.nn.pat1.png").is_file()


def _curve_point(k: int, transfer: float, baseline: float) -> dict:
    return {
        "k": k,
        "repeats": 3,
        "transfer": {"accuracy": transfer, "macro_f1": transfer - 0.1, "accuracy_std": 0.01},
        "baseline": {"accuracy": baseline, "macro_f1": baseline - 0.1},
        "gain": {"accuracy": transfer - baseline, "macro_f1": transfer - baseline},
    }


def test_learning_curve_runs_get_a_row_per_configuration_and_k(tmp_path):
    """Two mappings x two seeds, each run a curve over k = 0, 10, 50; one plain k = 0 run."""
    accuracy = {"linear": (0.6, 0.7, 0.8), "procrustes": (0.8, 0.85, 0.9)}
    for job, (mapping, seed) in enumerate(
        [("linear", 0), ("linear", 1), ("procrustes", 0), ("procrustes", 1)]
    ):
        run = make_run(tmp_path / "sweep" / str(job), [f"mapping={mapping}", f"seed={seed}"])
        metrics = json.loads((run / "metrics.json").read_text())
        curve = [
            _curve_point(k, a + 0.02 * seed, b)
            for k, a, b in zip((0, 10, 50), accuracy[mapping], (0.3, 0.75, 0.85), strict=True)
        ]
        metrics.update(k=[0, 10, 50], curve=curve, transfer=curve[-1]["transfer"])
        (run / "metrics.json").write_text(json.dumps(metrics))
    runs = report.collect([tmp_path / "sweep"])
    assert len(runs) == 12 and runs["run"].nunique() == 4
    assert report.swept_keys(runs) == ["mapping", "k"]
    console = Console(record=True, width=200)
    result = report.report([str(tmp_path / "sweep")], console=console)
    summary = result["summary"]
    assert result["group"] == ["mapping", "k"]
    assert list(zip(summary["mapping"], summary["k"], strict=True)) == [
        ("linear", 0),
        ("linear", 10),
        ("linear", 50),
        ("procrustes", 0),
        ("procrustes", 10),
        ("procrustes", 50),
    ]
    row = summary.iloc[4]  # procrustes, k = 10: mean over the two seeds' curve points
    assert row["transfer.accuracy"] == pytest.approx(0.86)
    assert row["baseline.accuracy"] == pytest.approx(0.75)
    assert row["gain.accuracy"] == pytest.approx(0.11)
    text = console.export_text()
    assert "4 run(s), 2 configuration(s) x 3 k — 4 done" in text
    png = tmp_path / "sweep" / "learning_curves.png"
    assert png in result["files"] and png.stat().st_size > 1000
    # --group without k still keeps the k rows apart
    grouped = report.report([str(tmp_path / "sweep")], group=["mapping"], console=console)
    assert grouped["group"] == ["mapping", "k"] and len(grouped["summary"]) == 6


def test_a_plain_run_beside_curves_gets_its_single_k(tmp_path):
    run = make_run(tmp_path / "0", ["mapping=linear"])
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.update(k=[0, 20], curve=[_curve_point(0, 0.6, 0.3), _curve_point(20, 0.7, 0.8)])
    (run / "metrics.json").write_text(json.dumps(metrics))
    make_run(tmp_path / "1", ["mapping=procrustes"], accuracy=0.9)  # k = 0 only
    runs = report.collect([tmp_path])
    assert sorted(zip(runs["mapping"], runs["k"], strict=True)) == [
        ("linear", 0),
        ("linear", 20),
        ("procrustes", 0),
    ]
    plain = runs[runs["mapping"] == "procrustes"].iloc[0]
    assert plain["transfer.accuracy"] == 0.9
