"""End to end: sweeps (basic and joblib launchers), a failed cell of a grid, and `dtl report`."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from conftest import REPO, copy_store, run_dtl

pytestmark = pytest.mark.e2e


def _sweep_dirs(root: Path, verb: str) -> list[Path]:
    return sorted((root / "outputs" / "multirun" / verb).glob("*/*"))


def _jobs(sweep: Path) -> list[Path]:
    return sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def _table_rows(stdout: str) -> list[list[str]]:
    """Body rows of the first rich table printed (not a terminal: box-drawing characters)."""
    rows = []
    for line in stdout.split("└")[0].splitlines():
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


@pytest.fixture(scope="module")
def grid(tmp_path_factory, tiny_entries):
    """`dtl run -m mapping=linear,procrustes evaluation.k=0,20` over a copy of the tiny store."""
    root = tmp_path_factory.mktemp("sweeps")
    store = copy_store(tiny_entries, root / "store")
    result = run_dtl(["run", "-m", "mapping=linear,procrustes", "evaluation.k=0,20"], root, store)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    (sweep,) = _sweep_dirs(root, "run")
    return root, store, sweep


def test_grid_sweep_runs_four_jobs_and_records_them(grid):
    _, store, sweep = grid
    jobs = _jobs(sweep)
    assert len(jobs) == 4
    assert all((job / "status.txt").read_text() == "done\n" for job in jobs)
    assert len(list((store / "classifier").glob("[0-9a-f]*"))) == 1
    assert len(list((store / "embeddings").glob("[0-9a-f]*"))) == 2
    record = json.loads((jobs[1] / "run.json").read_text())
    assert record["overrides"] == ["mapping=linear", "evaluation.k=20"]
    assert record["host"]
    # the tests run from the project's checkout: the commit is recorded
    assert record["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", record["git_commit"])


def test_report_over_the_grid(grid):
    root, store, sweep = grid
    result = run_dtl(["report", str(sweep), "--timings"], root, store)
    assert result.returncode == 0, result.stderr
    rows = _table_rows(result.stdout)
    assert [row[:3] for row in rows] == [
        ["linear", "0", "1"],
        ["linear", "20", "1"],
        ["procrustes", "0", "1"],
        ["procrustes", "20", "1"],
    ]
    accuracy = {(row[0], row[1]): float(row[3]) for row in rows}
    assert accuracy[("procrustes", "0")] > 0.55  # zero-shot transfer, chance is 0.25
    assert "timings" in result.stdout and "pretrain" in result.stdout

    with open(sweep / "report.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 4
    assert {"mapping", "evaluation.k", "runs", "transfer.accuracy", "bli.csls.p@1"} <= set(table[0])
    first_table = (sweep / "report.md").read_text().split("\n\n")[1].splitlines()
    assert len(first_table) == 2 + 4  # header, alignment, one row per configuration
    plot = sweep / "transfer.accuracy_vs_evaluation.k.png"
    assert plot.stat().st_size > 1000

    bars = run_dtl(["report", str(sweep), "--group", "mapping", "--out", "by_mapping"], root, store)
    assert bars.returncode == 0, bars.stderr
    assert [row[:2] for row in _table_rows(bars.stdout)] == [["linear", "2"], ["procrustes", "2"]]
    assert (root / "by_mapping" / "transfer.accuracy.png").stat().st_size > 1000


def test_joblib_sweep_computes_the_shared_pretrain_entry_once(tmp_path):
    store = tmp_path / "store"
    result = run_dtl(  # pretrain only: its entries are what the two jobs share
        [
            "pretrain",
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "mapping=linear,procrustes",
        ],
        tmp_path,
        store,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    (sweep,) = _sweep_dirs(tmp_path, "pretrain")
    jobs = _jobs(sweep)
    assert [(job / "status.txt").read_text() for job in jobs] == ["done\n", "done\n"]
    assert len(list((store / "classifier").glob("[0-9a-f]*"))) == 1
    assert not list(store.glob("*/.tmp-*"))
    records = [json.loads((job / "run.json").read_text()) for job in jobs]
    keys = {r["stages"]["pretrain"]["key"] for r in records}
    assert len(keys) == 1
    # each entry: one job built it; the other waited on the entry's lock, then reused it
    built = [r["stages"]["pretrain"]["entries"] for r in records]
    assert built[0].keys() == built[1].keys()
    for name in built[0]:
        assert sorted(b[name]["cached"] for b in built) == [False, True], name
    assert {r["overrides"][0] for r in records} == {"mapping=linear", "mapping=procrustes"}


def test_unknown_option_in_a_grid_stops_the_sweep_before_any_job(grid, tmp_path):
    _, store, _ = grid
    result = run_dtl(["run", "-m", "mapping=linear,bogus", "evaluation.k=0,20"], tmp_path, store)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dtl: error: In 'config': Could not find 'mapping/bogus'; choose one of: "
        + ", ".join(sorted(p.stem for p in (REPO / "configs" / "mapping").glob("*.yaml")))
        + " (in the sweep; no job was started)"
    ]
    assert not (tmp_path / "outputs").exists()  # no sweep folder, no job


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_failed_job_in_a_grid_is_recorded_and_reported(grid, tmp_path, launcher):
    _, store, _ = grid
    # No numeral is in both tiny vocabularies: that job fails in its map stage, once the
    # checks before any job have passed.
    args = ["run", "-m", "mapping.seed=dictionary,numerals"]
    if launcher == "joblib":
        args += ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    result = run_dtl(args, tmp_path, store)
    assert result.returncode == 2
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("dtl: error: 1 sweep job(s) failed: job 1: mapping.seed=numerals")
    (sweep,) = _sweep_dirs(tmp_path, "run")
    jobs = _jobs(sweep)
    assert (jobs[0] / "status.txt").read_text() == "done\n"
    assert (jobs[0] / "metrics.json").is_file()
    assert (jobs[1] / "status.txt").read_text().startswith("failed: mapping.seed=numerals")

    report = run_dtl(["report", str(sweep)], tmp_path, store)
    assert report.returncode == 0, report.stderr
    rows = _table_rows(report.stdout)
    assert [row[:2] for row in rows] == [["dictionary", "1"], ["numerals", "0 of 1"]]
    failed = report.stdout.split("failed (1):")[1]
    assert "no numeral is spelled the same in both vocabularies" in failed
