"""The predictor behind `dtl predict`/`dtl export` on a tiny Keras model, the document
reader and the run-folder checks (no pipeline run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dtl_cli import exported
from dtl_cli.documents import read_documents
from dtl_cli.errors import DataError
from dtl_cli.runs import UseError, read_run


def _classifier(max_len: int = 4) -> exported.TextClassifier:
    """Two classes over three words: 'good' -> pos, 'bad' -> neg (set by hand)."""
    import keras

    from dtl_cli.models.classifier import Architecture, build_classifier

    matrix = np.array([[0, 0], [0, 0], [1, 0], [0, 1], [0.5, 0.5]], dtype=np.float32)
    model = build_classifier(Architecture(name="dan", hidden=()), matrix, 2)
    model.get_layer("classes").set_weights([np.array([[4.0, -4.0], [-4.0, 4.0]]), np.zeros(2)])
    assert isinstance(model, keras.Model)
    return exported.TextClassifier(
        model, ["good", "bad", "fine"], ["pos", "neg"], "whitespace", True, max_len
    )


def test_encode_counts_unknown_tokens_and_cuts_to_max_len():
    clf = _classifier(max_len=3)
    encoded = clf.encode(["good bad", "Good xyz xyz", "", "good good good good"])
    assert encoded.ids.tolist() == [[2, 3, 0], [2, 1, 1], [1, 0, 0], [2, 2, 2]]
    assert encoded.tokens.tolist() == [2, 3, 0, 3]
    assert encoded.oov_share.tolist() == pytest.approx([0.0, 2 / 3, 0.0, 0.0])


def test_predict_and_the_saved_folder_give_the_same_answers(tmp_path):
    clf = _classifier()
    texts = ["good good", "bad", "fine good", "unknown"]
    probabilities = clf.predict_proba(texts)
    assert probabilities.shape == (4, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert clf.predict(texts)[:2] == ["pos", "neg"]
    clf.about = {"run": "somewhere", "k": 10, "repeat": 0}
    clf.save(tmp_path / "p")
    settings = json.loads((tmp_path / "p" / "predictor.json").read_text())
    assert settings["tokenizer"] == "whitespace" and settings["classes"] == ["pos", "neg"]
    assert (tmp_path / "p" / "vocab.txt").read_text().splitlines() == ["good", "bad", "fine"]
    loaded = exported.load(tmp_path / "p")
    assert np.allclose(loaded.predict_proba(texts), probabilities, atol=1e-6)
    assert loaded.about["k"] == 10
    with pytest.raises(FileNotFoundError, match="no model.keras"):
        exported.load(tmp_path)


def test_read_documents_by_format(tmp_path):
    text = tmp_path / "docs.txt"
    text.write_text("one\n\nthree\n", encoding="utf-8")
    assert read_documents(str(text)) == ["one", "", "three"]  # row i is line i
    table = tmp_path / "docs.tsv"
    table.write_text("id\tbody\n1\tfirst\n2\tsecond\n", encoding="utf-8")
    assert read_documents(str(table), "body") == ["first", "second"]
    with pytest.raises(DataError, match="no column 'text'"):
        read_documents(str(table))
    lines = tmp_path / "docs.jsonl"
    lines.write_text('{"text": "a"}\n\n{"text": "b"}\n', encoding="utf-8")
    assert read_documents(str(lines)) == ["a", "b"]
    lines.write_text('{"text": "a"}\n[1]\n', encoding="utf-8")
    with pytest.raises(DataError, match="docs.jsonl:2"):
        read_documents(str(lines))
    with pytest.raises(DataError, match="no such file"):
        read_documents(str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    with pytest.raises(DataError, match="bad.txt:2: not UTF-8"):
        read_documents(str(bad))


def _run_folder(tmp_path, shots: list[str], verb: str = "run"):
    folder = tmp_path / "run"
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("model: {max_len: 8}\npaths: {store: x}\n")
    finetune = {"shots": {name: {"entry": "e"} for name in shots}} if shots else {}
    record = {"verb": verb, "store": str(tmp_path / "store"), "stages": {"finetune": finetune}}
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def test_run_folder_choice_of_k_and_repeat(tmp_path):
    run = read_run(_run_folder(tmp_path, ["k=0/repeat=0", "k=10/repeat=0", "k=10/repeat=1"]))
    assert run.cfg.paths.store == str(tmp_path / "store")  # the store the run used
    assert run.choose(None, None) == (10, 0)
    assert run.choose("0", None) == (0, 0)
    assert run.choose("10", 1) == (10, 1)
    with pytest.raises(UseError, match="k = 0, 10 only"):
        run.choose("50", None)
    with pytest.raises(UseError, match="has repeats 0, 1"):
        run.choose("10", 2)
    everything = read_run(_run_folder(tmp_path / "b", ["k=10/repeat=0", "k=all/repeat=0"]))
    assert everything.choose(None, None) == ("all", 0)


def test_run_folder_without_a_model_is_refused(tmp_path):
    with pytest.raises(UseError, match="`dtl map` run has no fine-tuned model"):
        read_run(_run_folder(tmp_path, [], verb="map"))
    with pytest.raises(UseError, match="no such run folder"):
        read_run(tmp_path / "nowhere")
    with pytest.raises(UseError, match="not a finished dtl run"):
        read_run(tmp_path)
