"""scripts/bench_transfer.py: finding a task's files and the table across seeds."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import REPO, TINY

spec = importlib.util.spec_from_file_location("bench_transfer", REPO / "scripts/bench_transfer.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def _task(tmp_path):
    task = tmp_path / "task"
    task.mkdir()
    for name in ("en_train.csv", "zh_train.csv", "zh_test.csv", "zh_unlabelled.txt"):
        (task / name).write_bytes((TINY / name).read_bytes())
    (task / "en-zh.0-5000.txt").write_text("a b\n")
    (task / "en-zh.5000-6500.txt").write_text("c d\n")
    return task


def test_data_overrides_find_every_file_of_a_task_folder(tmp_path):
    task = _task(tmp_path)
    (task / "en_train.csv").rename(task / "en_train.csv.gz")  # the format comes from the name
    overrides = bench.data_overrides(task, "en", "zh")
    assert f"dataset.source.train.path={task / 'en_train.csv.gz'}" in overrides
    assert "dataset.source.train.format=csv" in overrides
    assert "dataset.source.unlabelled=[]" in overrides  # none in the folder
    assert f"dataset.target.unlabelled=[{task / 'zh_unlabelled.txt'}]" in overrides
    assert f"dataset.dictionary.test={task / 'en-zh.5000-6500.txt'}" in overrides
    (task / "zh_test.csv").unlink()
    with pytest.raises(SystemExit, match="zh_test"):
        bench.data_overrides(task, "en", "zh")


def _job(folder, k, seed, acc, base, oracle=0.6):
    folder.mkdir(parents=True)
    metrics = {
        "k": k,
        "seed": seed,
        "transfer": {"accuracy": acc, "macro_f1": acc - 0.1},
        "baseline": {"accuracy": base, "macro_f1": base - 0.1},
        "gain": {"accuracy": acc - base, "macro_f1": acc - base},
        "oracle": {"majority_class": "neg", "majority_share": oracle},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_table_gives_mean_and_std_across_seeds_per_k(tmp_path):
    sweep = tmp_path / "sweep"
    for job, (k, seed, acc, base) in enumerate(
        [(0, 0, 0.70, 0.5), (10, 0, 0.80, 0.7), (0, 1, 0.74, 0.5), (10, 1, 0.84, 0.9)]
    ):
        _job(sweep / str(job), k, seed, acc, base)
    rows = bench.collect(sweep)
    assert list(rows) == [0, 10] and rows[10]["transfer_acc"] == [0.80, 0.84]
    cells = bench.table(rows)
    assert cells[0][:3] == ["k", "seeds", "transfer acc"]
    assert cells[1][:4] == ["0", "2", "0.720 ± 0.028", "0.500 ± 0.000 (source majority)"]
    assert cells[2][4] == "+0.020 ± 0.113"  # gains 0.10 and -0.06: sample std across seeds
    markdown = bench.markdown(cells).splitlines()
    assert markdown[0].startswith("| k | seeds |") and markdown[1].startswith("|---|")
    assert len(markdown) == 4


def test_collect_merges_several_sweeps(tmp_path, capsys):
    _job(tmp_path / "a" / "0", 0, 0, 0.70, 0.5)
    _job(tmp_path / "b" / "0", 0, 1, 0.74, 0.5)
    assert bench.collect(tmp_path / "a", tmp_path / "b")[0]["transfer_acc"] == [0.70, 0.74]
    bench.main(["--collect", str(tmp_path / "a"), str(tmp_path / "b")])
    assert "| 0 | 2 | 0.720 ± 0.028 |" in capsys.readouterr().out


def test_one_seed_shows_no_spread(tmp_path):
    _job(tmp_path / "a" / "0", 0, 0, 0.70, 0.5)
    assert bench.table(bench.collect(tmp_path / "a"))[1][2] == "0.700"
