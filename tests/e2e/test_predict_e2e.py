"""End to end: `dtl predict` and `dtl export` on a tiny-corpus run, and the exported loader."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from conftest import copy_store, run_dtl

pytestmark = pytest.mark.e2e

TEXTS = ["球队 赢得 冠军 比赛", "公司 股票 市场 利润", "", "完全 没有 见过 的 词 xyzzy"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_entries):
    """A `dtl run` with models at k = 0 and k = 10, and a `dtl map` run (no model), over a
    copy of the tiny store."""
    root = tmp_path_factory.mktemp("predict")
    store = copy_store(tiny_entries, root / "store")
    for args in (["run", "evaluation.k=[0,10]", "model.finetune.epochs=3"], ["map"]):
        result = run_dtl(args, root, store)
        assert result.returncode == 0, result.stdout + result.stderr
    run = next((root / "outputs" / "run").glob("*/*"))
    mapped = next((root / "outputs" / "map").glob("*/*"))
    (root / "docs.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return root, store, run, mapped


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _dtl(args: list[str], capsys) -> tuple[int, str, str]:
    """`dtl ARGS` in this process (TensorFlow imported once for the module's tests)."""
    from dtl_cli.cli import main

    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_writes_a_label_and_probabilities_per_line(trained, capsys):
    root, store, run, _ = trained
    code, out, err = _dtl(["predict", str(run), str(root / "docs.txt")], capsys)
    assert code == 0, err
    rows = _rows(out)
    labels = ["arts", "business", "science", "sports"]
    assert len(rows) == len(TEXTS) and [r["row"] for r in rows] == ["1", "2", "3", "4"]
    for row in rows:
        probs = [float(row[f"p_{c}"]) for c in labels]
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        assert row["label"] == labels[probs.index(max(probs))]
    assert rows[0]["label"] == "sports" and rows[1]["label"] == "business"
    assert float(rows[2]["oov_share"]) == 0.0 and float(rows[3]["oov_share"]) > 0.0
    assert "k=10 repeat=0" in err and "not in the vocabulary" in err


def test_predict_reads_jsonl_and_stdin_and_picks_k(trained, capsys, monkeypatch):
    root, store, run, _ = trained
    docs = root / "docs.jsonl"
    docs.write_text("".join(json.dumps({"body": t}) + "\n" for t in TEXTS), encoding="utf-8")
    out = root / "pred.jsonl"
    args = ["predict", str(run), str(docs), "--text-column", "body", "--out", str(out), "--k", "0"]
    code, _, err = _dtl(args, capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 4 and set(records[0]["probabilities"]) == {
        "arts",
        "business",
        "science",
        "sports",
    }
    assert "k=0" in err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((TEXTS[0] + "\n").encode())))
    code, out, err = _dtl(["predict", str(run)], capsys)
    assert code == 0, err
    assert len(_rows(out)) == 1


def test_bad_input_fails_before_tensorflow_with_one_line(trained):
    root, store, run, mapped = trained
    cases = {
        (str(mapped), str(root / "docs.txt")): "has no fine-tuned model",
        (str(run), str(root / "nope.txt")): "nope.txt: no such file",
        (str(root / "nowhere"), "-"): "no such run folder",
        (str(run), str(root / "docs.txt"), "--k", "7"): "k = 0, 10 only",
    }
    for args, message in cases.items():
        result = run_dtl(["predict", *args], root, store)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dtl: error:") and message in lines[0]


def test_export_loads_without_the_store_and_predicts_the_same(trained, tmp_path, capsys):
    root, store, run, _ = trained
    out = tmp_path / "predictor"
    code, _, err = _dtl(["export", str(run), "--out", str(out)], capsys)
    assert code == 0, err
    expected = _rows(_dtl(["predict", str(run), str(root / "docs.txt")], capsys)[1])
    code = (
        "import json, sys\n"
        "from dtl_cli import exported\n"
        f"clf = exported.load({str(out)!r})\n"
        f"texts = {TEXTS!r}\n"
        "print(json.dumps({'labels': clf.predict(texts), "
        "'probs': clf.predict_proba(texts).tolist(), 'classes': clf.classes}))\n"
    )
    away = store.with_name("store.away")
    store.rename(away)  # the exported folder must stand alone
    try:
        loaded = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path
        )
    finally:
        away.rename(store)
    assert loaded.returncode == 0, loaded.stderr
    got = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert got["labels"] == [row["label"] for row in expected]
    for row, probs in zip(expected, got["probs"], strict=True):
        assert [float(row[f"p_{c}"]) for c in got["classes"]] == pytest.approx(probs, abs=1e-6)


def test_export_writes_muse_vectors_and_a_two_column_dictionary(trained, tmp_path, capsys):
    root, store, run, _ = trained
    out = tmp_path / "spaces"
    assert _dtl(["export", str(run), "--out", str(out)], capsys)[0] == 0
    from dtl_cli.embed.io import load_vectors

    en_words, en = load_vectors(out / "vectors-en.txt")
    zh_words, zh = load_vectors(out / "vectors-zh.txt")
    header = (out / "vectors-en.txt").read_text(encoding="utf-8").split("\n", 1)[0]
    assert header == f"{len(en_words)} {en.shape[1]}" and en.shape[1] == zh.shape[1]
    pairs = (out / "dictionary.txt").read_text(encoding="utf-8").splitlines()
    assert pairs and all(len(line.split(" ")) == 2 for line in pairs)
    assert set(p.split(" ")[0] for p in pairs) <= set(en_words)
    assert set(p.split(" ")[1] for p in pairs) <= set(zh_words)
    # dtl's own dictionary reader takes it as a seed dictionary
    result = run_dtl(["map", f"dataset.dictionary.seed={out / 'dictionary.txt'}"], root, store)
    assert result.returncode == 0, result.stderr
    assert "dropped" in result.stdout
    code, _, err = _dtl(["export", str(run), "--out", str(out)], capsys)
    assert code == 2 and "not an empty folder" in err
