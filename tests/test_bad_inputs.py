"""Every bad input and fault ends in one `dtl:` line naming the file, line or key, exit status
2 (130/143 for Ctrl-C/SIGTERM), no traceback, and no new complete store entry.

Most cases run `dtl_cli.cli.main` in this process; they fail before any stage (no TensorFlow)
unless the case says otherwise. A few run the installed `dtl` with real signals and limits.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, dtl_env, dtl_executable

from dtl_cli import cli


class Files:
    """Tiny input files made in a test's tmp folder."""

    def __init__(self, root: Path):
        self.root = root

    def text(self, name: str, body: str | bytes) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")
        return str(path)

    def folder(self, name: str) -> str:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def gz(self, name: str, body: str, cut: bool = False) -> str:
        data = gzip.compress(body.encode("utf-8"))
        return self.text(name, data[: len(data) // 2] if cut else data)

    def vec(self, name: str, dim: int, header: str | None = None, bad: str = "") -> str:
        rows = [f"w{i} " + " ".join(f"{(i + j) % 7 / 7:.3f}" for j in range(dim)) for i in range(4)]
        return self.text(name, f"{header or f'4 {dim}'}\n" + "\n".join(rows) + f"\n{bad}")

    def csv(self, name: str, rows: list[str], header: str = "text,label") -> str:
        return self.text(name, "\n".join([header, *rows]) + "\n")


@dataclass
class Case:
    id: str
    args: Callable[[Files], list[str]] | list[str]
    expect: list[str]
    status: int = 2
    env: dict[str, str] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)  # must not be in the line
    verb: str = "run"


def _set(key: str, value: str) -> str:
    return f"{key}={value}"


def _pretrained(f: Files, source_dim: int = 50, target_dim: int = 50, **extra) -> list[str]:
    return [
        "embedding=pretrained",
        f"embedding.source_vectors={f.vec('en.vec', source_dim, **extra)}",
        f"embedding.target_vectors={f.vec('zh.vec', target_dim)}",
    ]


SCHEMA = [
    Case("dropout", ["model.dropout=1.5"], ["model.dropout=1.5 must be in [0, 1)"]),
    Case("batch-size", ["model.batch_size=0"], ["model.batch_size=0 must be >= 1"]),
    Case("model-name", ["model.name=transformer"], ["model.name=transformer", "dan, cnn, bilstm"]),
    Case("epochs-negative", ["model.epochs=-1"], ["model.epochs=-1 must be >= 1"]),
    Case("epochs-text", ["model.epochs=abc"], ["model.epochs=abc"]),
    Case("learning-rate", ["model.learning_rate=0"], ["model.learning_rate=0.0 must be > 0"]),
    Case("validation-split", ["model.validation_split=1"], ["model.validation_split"]),
    Case("hidden-units", ["model.hidden=[64,0]"], ["model.hidden[1]=0 must be >= 1"]),
    Case("optimizer", ["model.optimizer=adamw"], ["model.optimizer=adamw", "adam, sgd, rmsprop"]),
    Case("class-weight", ["model.class_weight=auto"], ["model.class_weight=auto", "balanced"]),
    Case("strategy", ["model.finetune.strategy=all"], ["model.finetune.strategy=all", "gradual"]),
    Case("finetune-epochs", ["model.finetune.epochs=0"], ["model.finetune.epochs=0"]),
    Case(
        "finetune-rate",
        ["model.finetune.learning_rates.full=-1"],
        ["model.finetune.learning_rates.full=-1.0 must be > 0"],
    ),
    Case("kernel-sizes", ["model=cnn", "model.kernel_sizes=[0,3]"], ["model.kernel_sizes[0]=0"]),
    Case("lstm-units", ["model=bilstm", "model.lstm_units=0"], ["model.lstm_units=0"]),
    Case("model-name-vs-option", ["model=cnn", "model.name=dan"], ["instead: model=dan"]),
    Case("model-option", ["model=transformer"], ["model/transformer", "bilstm, cnn, dan"]),
    Case("cnn-key-on-dan", ["model.filters=8"], ["model.filters is not a key of model"]),
    Case("embedding-dim", ["embedding.dim=0"], ["embedding.dim=0 must be >= 1"]),
    Case("embedding-method", ["embedding.method=glove"], ["embedding.method=glove", "word2vec"]),
    Case("embedding-window", ["embedding.window=0"], ["embedding.window=0"]),
    Case("embedding-min-count", ["embedding.min_count=0"], ["embedding.min_count=0"]),
    Case("embedding-workers", ["embedding.workers=0"], ["embedding.workers=0"]),
    Case("embedding-normalize", ["embedding.normalize=[unit,l2]"], ["embedding.normalize"]),
    Case(
        "fasttext-n-grams",
        ["embedding=fasttext", "embedding.min_n=5", "embedding.max_n=2"],
        ["embedding.max_n=2 must be >= embedding.min_n=5"],
    ),
    Case(
        "adversarial-on-cnn",
        ["model=cnn", "model.finetune.adapt.adversarial_weight=0.5"],
        ["model.finetune.adapt.adversarial_weight > 0 needs model.name=dan"],
    ),
    Case(
        "learning-rate-key",
        ["+model.finetune.learning_rates.gradul=0.1"],
        [
            "learning_rates.gradul is not a key",
            "did you mean model.finetune.learning_rates.gradual?",
        ],
    ),
    Case("max-vocab", ["embedding.max_vocab=0"], ["embedding.max_vocab=0 must be >= 1 or null"]),
    Case("mapping-method", ["mapping.method=cca"], ["mapping.method=cca", "self_learning"]),
    Case("direction", ["mapping.direction=both"], ["mapping.direction=both", "target_to_source"]),
    Case("mapping-seed", ["mapping.seed=random"], ["mapping.seed=random", "numerals"]),
    Case("seed-pairs", ["mapping.seed_pairs=0"], ["mapping.seed_pairs=0 must be >= 1 or null"]),
    Case("keep-prob", ["mapping=self_learning", "mapping.keep_prob=0"], ["mapping.keep_prob"]),
    Case("cutoff", ["mapping=self_learning", "mapping.cutoff=0"], ["mapping.cutoff=0"]),
    Case("ridge", ["mapping=linear", "mapping.ridge=-1"], ["mapping.ridge=-1.0 must be >= 0"]),
    Case("dewhiten", ["mapping.src_dewhiten=both"], ["mapping.src_dewhiten=both", "src, trg"]),
    Case("whiten-on-linear", ["mapping=linear", "mapping.whiten=true"], ["(LinearMapping)"]),
    Case("k-negative", ["evaluation.k=-3"], ["evaluation.k=-3 must be a whole number >= 0"]),
    Case("k-word", ["evaluation.k=few"], ["evaluation.k=few", "'all'"]),
    Case("k-in-list", ["evaluation.k=[0,10,-1]"], ["evaluation.k[2]=-1"]),
    Case("k-fraction", ["evaluation.k=2.5"], ["evaluation.k=2.5"]),
    Case("k-twice", ["evaluation.k=[10,0,10]"], ["evaluation.k=[10, 0, 10] lists 10 twice"]),
    Case("gpus-twice", ["device.gpus=[1,1]"], ["device.gpus=[1, 1] lists 1 twice"]),
    Case("repeats", ["evaluation.repeats=0"], ["evaluation.repeats=0 must be >= 1"]),
    Case("csls-pool", ["evaluation.bli.csls_pool=0"], ["evaluation.bli.csls_pool=0"]),
    Case("precision-at", ["evaluation.bli.precision_at=[0]"], ["precision_at[0]=0"]),
    Case("device-kind", ["device.kind=tpu"], ["device.kind=tpu", "auto, cpu, gpu"]),
    Case("device-fallback", ["device.fallback=maybe"], ["device.fallback=maybe", "cpu, error"]),
    Case("device-gpus", ["device.gpus=[-1]"], ["device.gpus[0]=-1 must be >= 0"]),
    Case("seed", ["seed=-1"], ["seed=-1 must be >= 0"]),
    Case("tokenizer", ["dataset.source.tokenizer=spacy"], ["dataset.source.tokenizer=spacy"]),
    Case("format", ["dataset.target.train.format=xlsx"], ["dataset.target.train.format=xlsx"]),
    Case(
        "plus-typo",
        ["+model.epohcs=3"],
        ["model.epohcs is not a key of model (DanModel); did you mean model.epochs?"],
    ),
    Case("typo", ["model.epohcs=3"], ["did you mean model.epochs?"], absent=["+", "append"]),
    Case("root-typo", ["seedd=1"], ["seedd is not a key of the config"]),
    Case("missing-values", ["dataset=csv"], ["dataset.dictionary.seed has no value"]),
]

HYDRA = [
    Case("m-after-override", ["mapping=linear", "-m", "model.dropout=2"], ["model.dropout=2.0"]),
    Case(
        "duplicate-key", ["model.epochs=3", "model.epochs=4"], ["Multiple values for model.epochs"]
    ),
    Case("duplicate-group", ["mapping=linear", "mapping=none"], ["Multiple values for mapping"]),
    Case("launcher-unknown", ["hydra/launcher=ray"], ["hydra/launcher=ray", "pip install"]),
    Case("sweeper-unknown", ["hydra/sweeper=nevergrad"], ["hydra-nevergrad-sweeper"]),
    Case("sweep-bad-cell", ["-m", "model.dropout=0.1,7"], ["model.dropout=7.0", "in the sweep"]),
    Case(
        "sweep-k-above-the-pool",
        ["-m", "evaluation.k=0,100000"],
        ["evaluation.k=100000 but the target training pool has only 800", "no job was started"],
    ),
    Case("sweep-and-cfg", ["-m", "seed=0,1", "--cfg", "job"], ["-m runs a sweep"]),
    Case("unknown-flag", ["--bogus"], ["unrecognized arguments: --bogus"]),
    Case(
        "tilde-path",
        ["dataset.source.train.path=~/en.csv"],
        ["could not parse the override dataset.source.train.path=~/en.csv", "give the full path"],
    ),
    Case(
        "unclosed-list",
        ["--cfg", "job", "model.hidden=[1,2"],
        ["model.hidden=[1,2", "close the list"],
    ),
    Case(
        "store-env-empty",
        [],
        ["paths.store is empty (DTL_STORE is set but empty)"],
        env={"DTL_STORE": ""},
    ),
    Case("unknown-verb", [], ["unknown verb 'trian'"], verb="trian"),
    Case(
        "m-before-verb",
        ["pretrain", "seed=0,1"],
        ["the verb comes first: dtl pretrain -m"],
        verb="-m",
    ),
    Case(
        "run-dir-under-a-file",
        ["hydra.run.dir=/etc/hostname/x"],
        ["hydra.run.dir=/etc/hostname/x: /etc/hostname is a file, not a folder"],
    ),
    Case(
        "sweep-dir-unwritable",
        ["-m", "seed=0,1", "hydra.sweep.dir=/proc/dtl/x"],
        ["hydra.sweep.dir=/proc/dtl/x: cannot write there"],
    ),
]

PATHS = [
    Case(
        "missing-train",
        lambda f: [f"dataset.source.train.path={f.root}/nope.csv"],
        ["dataset.source.train.path=", "nope.csv: no such file"],
    ),
    Case(
        "unlabelled-folder",
        lambda f: [f"dataset.target.unlabelled=[{f.folder('texts')}]"],
        ["dataset.target.unlabelled[0]=", "is a folder, not a file"],
    ),
    Case(
        "folder-as-csv",
        lambda f: [
            f"dataset.target.test.path={f.folder('test')}",
            "dataset.target.test.format=csv",
        ],
        ["test: is a folder but format is 'csv'", "[dataset.target.test]"],
    ),
    Case(
        "dir-without-txt",
        lambda f: [f"dataset.target.test.path={Path(f.text('d/pos/a.md', 'hi')).parent.parent}"],
        [
            "d: its label folders hold no .txt file (1 other files, e.g. a.md)",
            "[dataset.target.test]",
        ],
    ),
    Case(
        "unknown-suffix",
        lambda f: [f"dataset.source.train.path={f.text('en.xml', '<x/>')}"],
        ["en.xml: cannot tell the format from suffix '.xml'", "[dataset.source.train]"],
    ),
    Case(
        "missing-dictionary",
        lambda f: [f"dataset.dictionary.seed={f.root}/none.txt"],
        ["dataset.dictionary.seed=", "none.txt: no such file"],
    ),
    Case(
        "dictionary-folder",
        lambda f: [f"dataset.dictionary.test={f.folder('dicts')}"],
        ["dataset.dictionary.test=", "is a folder, not a file"],
    ),
    Case(
        "dictionary-bad-line",
        lambda f: [_set("dataset.dictionary.seed", f.text("d.txt", "cat 猫\nthree fields here\n"))],
        ["d.txt:2: expected 2 fields", "[dataset.dictionary.seed]"],
    ),
    Case(
        "dictionary-not-utf8",
        lambda f: [_set("dataset.dictionary.test", f.text("t.txt", b"cat \xff\n"))],
        ["t.txt:1: not UTF-8 (byte 0xff", "[dataset.dictionary.test]"],
    ),
    Case(
        "tsv-as-csv",
        lambda f: [_set("dataset.target.train.path", f.csv("zh.csv", ["好\tpos"], "text\tlabel"))],
        ["zh.csv: no column 'text'", "set dataset.target.train.format=tsv"],
    ),
    Case(
        "missing-column",
        lambda f: [f"dataset.source.train.path={f.csv('en.csv', ['x,1'], 'body,label')}"],
        ["en.csv: no column 'text'", "set dataset.source.train.text_column"],
    ),
    Case(
        "empty-file",
        lambda f: [f"dataset.target.test.path={f.text('zh_test.csv', '')}"],
        ["zh_test.csv: empty file", "[dataset.target.test]"],
    ),
    Case(
        "header-not-utf8",
        lambda f: [_set("dataset.source.train.path", f.text("en.csv", b"te\xe9xt,label\nx,1\n"))],
        ["en.csv:1: not UTF-8", "[dataset.source.train]"],
    ),
    Case(
        "vector-dims",
        lambda f: _pretrained(f, 50, 30),
        ["embedding.source_vectors has 50 dimensions but embedding.target_vectors 30"],
    ),
    Case(
        "vector-header",
        lambda f: _pretrained(f, header="fifty words"),
        ["en.vec:1: bad header", "[embedding.source_vectors]"],
    ),
    Case(
        "vectors-binary-garbage",
        lambda f: [
            *_pretrained(f)[::2],
            f"embedding.source_vectors={f.text('en.bin', BINARY)}",
        ],
        ["en.bin:1: no '<count> <dim>' header line", "[embedding.source_vectors]"],
    ),
    Case(
        "vectors-missing",
        lambda f: [*_pretrained(f)[:2], f"embedding.target_vectors={f.root}/x.vec"],
        ["embedding.target_vectors=", "x.vec: no such file"],
    ),
    Case(
        "vectors-unset",
        ["embedding=pretrained"],
        ["embedding.source_vectors has no value"],
    ),
    Case(
        "store-under-a-file",
        [],
        ["paths.store=/etc/passwd/x: /etc/passwd is a file, not a folder; set DTL_STORE"],
        env={"DTL_STORE": "/etc/passwd/x"},
    ),
    Case(
        "output-under-a-file",
        [],
        ["paths.output=/etc/hostname/runs: /etc/hostname is a file", "DTL_OUTPUT"],
        env={"DTL_OUTPUT": "/etc/hostname/runs"},
    ),
    Case(
        "tracking-under-a-file",
        ["logger=mlflow", "logger.tracking_uri=file:///etc/hostname/mlruns"],
        ["logger.tracking_uri=/etc/hostname/mlruns: /etc/hostname is a file, not a folder"],
    ),
    Case(
        "overlap-leaves-nothing",
        lambda f: [
            f"dataset.dictionary.test={TINY / 'dict_seed.txt'}",
            "evaluation.bli.drop_seed_overlap=true",
        ],
        ["every test pair has a source word of the seed", "[dataset.dictionary.test]"],
    ),
]

LINES = "some text to compress\n" * 9000
BINARY = bytes(range(128, 256)) * 4

# Read before any stage too: the labelled files' labels, the unlabelled files' gzip ends.
LABELS = [
    Case(
        "k-above-the-pool",
        ["evaluation.k=900"],
        ["evaluation.k=900 but the target training pool has only 800 examples", "zh_train.csv"],
    ),
    Case(
        "k-one", ["evaluation.k=[0,1,10]"], ["evaluation.k=1: one example has one label", "4 gives"]
    ),
    Case(
        "k-above-the-pool-minus-dev",
        ["evaluation.k=[0,700]", "evaluation.dev_fraction=0.2"],
        ["evaluation.k=700", "only 640 examples", "160 of them held out as dev"],
    ),
    Case(
        "unknown-target-label",
        lambda f: [_set("dataset.target.train.path", f.csv("zh.csv", ["好,sports", "雨,weather"]))],
        ["zh.csv: label 'weather' (row 2) never occurs in the source", "[dataset.target.train]"],
    ),
    Case(
        "unknown-test-label",
        lambda f: [_set("dataset.target.test.path", f.csv("t.csv", ["好,Sports"]))],
        ["t.csv: label 'Sports' (row 1)", "[dataset.target.test]"],
    ),
    Case(
        "label-column-is-text-column",
        ["dataset.source.train.label_column=text"],
        ["dataset.source.train.text_column and dataset.source.train.label_column are both"],
    ),
    Case(
        "labels-are-texts",  # the columns swapped: one line still, the labels listed short
        ["dataset.source.train.label_column=text", "dataset.source.train.text_column=label"],
        ["zh_train.csv: label 'science' (row 1) never occurs", "(2000 in all)"],
    ),
    Case(
        "source-one-class",
        lambda f: [_set("dataset.source.train.path", f.csv("en.csv", ["a,x", "b,x"]))],
        ["en.csv: only one label ('x')", "[dataset.source.train]"],
    ),
    Case(
        "empty-label-cell",
        lambda f: [_set("dataset.target.train.path", f.csv("zh.csv", ["好,sports", "雨,"]))],
        ["zh.csv: line 3 has an empty label", "[dataset.target.train]"],
    ),
    Case(
        "repeated-column",
        lambda f: [
            _set("dataset.target.test.path", f.csv("t.csv", ["a,b,sports"], "text,text,label"))
        ],
        ["t.csv:1: column 'text' appears twice in the header", "[dataset.target.test]"],
    ),
    Case(
        "truncated-gz-unlabelled",
        lambda f: [f"dataset.source.unlabelled=[{f.gz('u.txt.gz', LINES, cut=True)}]"],
        ["u.txt.gz: the gzip data is cut short", "[dataset.source.unlabelled[0]]"],
    ),
]

# The tools beside the verbs.
TOOLS = [
    Case(
        "store-missing",
        ["--store", "/nonexistent/s", "ls"],
        ["/nonexistent/s is not a store folder; check --store"],
        verb="store",
    ),
    Case(
        "store-a-file",
        ["--store", "/etc/hostname", "verify"],
        ["/etc/hostname is a file, not a store folder"],
        verb="store",
    ),
    Case(
        "store-from-env",
        ["gc", "--older-than", "1d"],
        ["is not a store folder; check DTL_STORE"],
        verb="store",
    ),
    Case(
        "report-a-file",
        ["/etc/hostname"],
        ["/etc/hostname is a file; give the run or sweep folder"],
        verb="report",
    ),
    Case(
        "predict-no-run",
        ["/nonexistent/run"],
        ["/nonexistent/run: no such run folder"],
        verb="predict",
    ),
]

CASES = SCHEMA + HYDRA + PATHS + LABELS + TOOLS


def _complete_entries(store: Path) -> set[Path]:
    return set(store.glob("*/*/entry.json"))


def _check_stderr(err: str, case: Case) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("dtl:")]
    assert len(lines) == 1, err
    for text in case.expect:
        assert text in lines[0], lines[0]
    for text in case.absent:
        assert text not in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """DTL_STORE/DTL_OUTPUT in tmp_path, sys.argv restored; returns (Files, store)."""
    store = tmp_path / "store"
    monkeypatch.setenv("DTL_STORE", str(store))
    monkeypatch.setenv("DTL_OUTPUT", str(tmp_path / "outputs"))
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    return Files(tmp_path / "in"), store


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_before_any_work(case, isolated, capsys, monkeypatch):
    files, store = isolated
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    args = case.args(files) if callable(case.args) else case.args
    status = cli.main([case.verb, *args])
    assert status == case.status
    err = capsys.readouterr().err
    _check_stderr(err, case)
    assert len(err.strip().splitlines()) == 1, err  # nothing else either (no bare log line)
    assert not store.exists() or not _complete_entries(store)


def test_config_errors_need_neither_tensorflow_nor_a_run_folder(tmp_path):
    """The schema, path and Hydra checks run before TensorFlow's import and Hydra's folders."""
    code = (
        "import sys\n"
        "from dtl_cli.cli import main\n"
        f"status = main(['run', 'model.dropout=1.5', 'dataset.target.unlabelled=[{tmp_path}]'])\n"
        "print('STATUS', status, 'tensorflow' in sys.modules)\n"
    )
    env = {**os.environ, "DTL_STORE": str(tmp_path / "s"), "DTL_OUTPUT": str(tmp_path / "o")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert "STATUS 2 False" in result.stdout, result.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "s").exists()


# In-process Hydra runs leave Python's logging alone: Hydra's set-up would close every handler
# ever made, among them absl's (TensorFlow's, from an earlier test), which closes the capture
# stream it was given.
QUIET = ["hydra/hydra_logging=none", "hydra.job_logging.root=null"]


def _stop_in_a_stage(error: BaseException):
    """A pipeline that starts building a store entry, then meets `error` half-way."""

    def run_pipeline(verb, cfg, run_dir, devices):
        from dtl_cli.store import Store

        def build(tmp: Path):
            (tmp / "half.npz").write_bytes(b"half")
            raise error

        Store(cfg.paths.store).get_or_build("map", "0123456789abcdef", build)

    return run_pipeline


FAULTS = [
    Case("ctrl-c", [], ["dtl: interrupted; nothing half-written was kept"], status=130),
    Case("sigterm", [], ["dtl: interrupted; nothing half-written was kept"], status=143),
    Case("file-size", [], ["cannot write in the store", "file-size limit reached", "ulimit -f"]),
    Case("disk-full", [], ["cannot write /data/x.npy: no space left on the device"]),
    Case("permission", [], ["cannot write /data/y: permission denied", "DTL_STORE"]),
]
FAULT_ERRORS = {
    "ctrl-c": KeyboardInterrupt(),
    "sigterm": None,  # built in the test (faults.Interrupted)
    "file-size": OSError(27, "File too large"),
    "disk-full": OSError(28, "No space left on device", "/data/x.npy"),
    "permission": PermissionError(13, "Permission denied", "/data/y"),
}


@pytest.mark.parametrize("case", FAULTS, ids=[c.id for c in FAULTS])
def test_a_fault_in_a_stage_leaves_a_record_and_no_half_entry(case, isolated, capsys, monkeypatch):
    from dtl_cli import faults, hydra_app, pipeline

    files, store = isolated
    error = FAULT_ERRORS[case.id] or faults.Interrupted(signal.SIGTERM)
    monkeypatch.setattr(hydra_app, "_devices", lambda cfg, narrow: ["/CPU:0"])
    monkeypatch.setattr(pipeline, "run_pipeline", _stop_in_a_stage(error))
    assert cli.main(["map", *QUIET]) == case.status
    _check_stderr(capsys.readouterr().err, case)
    (status,) = (files.root.parent / "outputs").glob("map/*/*/status.txt")
    expected = "interrupted" if case.status != 2 else "failed: cannot write"
    assert status.read_text().startswith(expected)
    assert not list(store.glob("map/*"))  # neither an entry nor its temporary folder


def test_a_bug_keeps_its_traceback_but_still_leaves_failed_in_status(isolated, monkeypatch):
    from dtl_cli import hydra_app, pipeline

    files, _ = isolated
    monkeypatch.setattr(hydra_app, "_devices", lambda cfg, narrow: ["/CPU:0"])
    monkeypatch.setattr(pipeline, "run_pipeline", _stop_in_a_stage(RuntimeError("boom\nmore")))
    assert cli.main(["map", *QUIET]) == 1
    (status,) = (files.root.parent / "outputs").glob("map/*/*/status.txt")
    assert status.read_text() == "failed: RuntimeError: boom more\n"


def test_submitit_owning_sigterm_keeps_its_handler(monkeypatch):
    """Under submitit, SIGTERM is submitit's (it ignores it and pre-empts with USR2)."""
    from dtl_cli import faults

    def bypass(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, bypass)
    try:
        with faults.signals_as_exceptions():
            assert signal.getsignal(signal.SIGTERM) is bypass
        with pytest.raises(SystemExit), faults.recorded(Path("/nonexistent"), where="x"):
            raise SystemExit(-1)  # submitit's exit after its USR2 checkpoint
    finally:
        signal.signal(signal.SIGTERM, previous)
    with faults.signals_as_exceptions():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_submitit_exit_is_recorded_as_interrupted(tmp_path):
    from dtl_cli import faults

    with pytest.raises(SystemExit), faults.recorded(tmp_path, where="x"):
        raise SystemExit(-1)
    assert (tmp_path / "status.txt").read_text() == "interrupted\n"


def _start(args: list[str], tmp_path: Path, setup=None) -> subprocess.Popen:
    """dtl in a subprocess with SIGINT at its default, as in a terminal: a shell's
    background job (`cmd &`, as CI may run) inherits SIGINT ignored, and Python then keeps
    ignoring it, so Ctrl-C could not be tested. `setup` runs in the child before exec."""

    def child() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if setup is not None:
            setup()

    return subprocess.Popen(
        dtl_executable() + args,
        cwd=tmp_path,
        env=dtl_env(tmp_path / "store", tmp_path / "outputs", PYTHONUNBUFFERED=1),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=child,
    )


def _wait_for(process: subprocess.Popen, text: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        if text in line or time.monotonic() > deadline:
            return


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_real_signal_during_a_stage(tmp_path, signum, status):
    process = _start(["pretrain", "device=cpu"], tmp_path)
    _wait_for(process, "== pretrain")
    time.sleep(0.5)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == status, err
    _check_stderr(err, Case("signal", [], ["dtl: interrupted; nothing half-written was kept"]))
    (record,) = (tmp_path / "outputs").glob("pretrain/*/*/status.txt")
    assert record.read_text() == "interrupted\n"
    store = tmp_path / "store"
    assert not _complete_entries(store) and not list(store.glob("*/.tmp-*"))


def test_file_size_limit_is_one_line_naming_the_store(tmp_path):
    limit = 256 * 1024  # the run folder's small files fit; the token file does not

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    process = _start(["pretrain", "device=cpu"], tmp_path, setup=limited)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2, err
    _check_stderr(err, Case("fsize", [], ["cannot write", "file-size limit reached"]))
    (record,) = (tmp_path / "outputs").glob("pretrain/*/*/status.txt")
    assert record.read_text().startswith("failed: cannot write")
    assert not _complete_entries(tmp_path / "store")


# ------------------------------------------------------------------ damaged store entries


def _small_entries(cfg, store) -> dict:
    """kind -> (key, file to damage, reader) for small entries written by entries' writers."""
    from dtl_cli.stages import entries

    vectors = np.arange(12, dtype=np.float32).reshape(4, 3) + 1
    fitted = entries.Map(np.eye(3), np.zeros(3), np.eye(3), np.zeros(3), None, {"pairs": 1})
    writers = {
        "corpus": (
            entries.corpus_key(cfg, "source"),
            "tokens.txt",
            lambda tmp: entries.write_corpus(tmp, [["a", "b"], ["c"]], ["x", "y"]),
            lambda: entries.read_corpus(cfg, store, "source").documents(),
        ),
        "embeddings": (
            entries.embeddings_key(cfg, "source"),
            "vectors.npy",
            lambda tmp: entries.write_embeddings(tmp, ["a", "b", "c", "d"], vectors),
            lambda: entries.read_space(cfg, store, "source"),
        ),
        "map": (
            entries.map_key(cfg),
            "map.npz",
            lambda tmp: entries.write_map(tmp, fitted),
            lambda: entries.read_map(cfg, store),
        ),
        "bli": (
            entries.bli_key(cfg),
            "bli.json",
            lambda tmp: entries.write_bli(tmp, {"nn": {"p@1": 0.5}}, [("a", "b", 0.9)]),
            lambda: entries.read_bli(cfg, store),
        ),
    }
    for kind, (key, _, write, _) in writers.items():
        entries.build(store, kind, key, write)
    return {kind: (key, name, read) for kind, (key, name, _, read) in writers.items()}


@pytest.fixture(scope="module")
def tiny_cfg():
    from dtl_cli.hydra_app import compose_config

    return compose_config([])


def _garble(path: Path) -> None:
    """Same size, other bytes (not UTF-8, not a zip or .npy): only the checksum tells."""
    path.write_bytes(b"\xff" * path.stat().st_size)


@pytest.mark.parametrize("kind", ["corpus", "embeddings", "map", "bli"])
def test_a_damaged_complete_entry_is_named_by_its_reader(kind, tiny_cfg, tmp_path):
    from dtl_cli.store import DamagedEntry, Store

    store = Store(tmp_path)
    key, name, read = _small_entries(tiny_cfg, store)[kind]
    read()  # sound: reads
    _garble(store.path(kind, key) / name)
    assert store.has(kind, key)  # the sizes agree
    with pytest.raises(DamagedEntry) as caught:
        read()
    assert (caught.value.stage, caught.value.key, caught.value.files) == (kind, key, [name])
    assert f"store entry {kind}/{key} is damaged: {name} differs" in str(caught.value)


def test_the_pipeline_rebuilds_an_entry_a_later_stage_finds_damaged(
    tiny_cfg, tmp_path, monkeypatch, capsys
):
    """map's entry is damaged after it was reused; finetune's read finds it: the pipeline
    removes it, runs the stages again (map rebuilds it) and finishes."""
    from types import SimpleNamespace

    from dtl_cli import pipeline
    from dtl_cli.stages import entries
    from dtl_cli.store import Store

    cfg = tiny_cfg.copy()
    cfg.paths.store = str(tmp_path / "store")
    store = Store(cfg.paths.store)
    key, name, read = _small_entries(cfg, store)["map"]
    builds, reads = [], []

    def run_map(cfg, store, run_dir):
        fitted = entries.Map(np.eye(3), np.ones(3), np.eye(3), np.ones(3), None, {})
        _, cached = entries.build(store, "map", key, lambda tmp: entries.write_map(tmp, fitted))
        builds.append(cached)
        if len(builds) == 1:
            _garble(store.path("map", key) / name)
        return {}

    def run_finetune(cfg, store, run_dir):
        reads.append(read().b.tolist())
        return {}

    stages = {
        "pretrain": SimpleNamespace(is_cached=lambda c, s: True, run=lambda c, s, d: {}),
        "map": SimpleNamespace(is_cached=lambda c, s: s.has("map", key), run=run_map),
        "finetune": SimpleNamespace(is_cached=lambda c, s: False, run=run_finetune),
    }
    monkeypatch.setattr(pipeline.importlib, "import_module", lambda n: stages[n.split(".")[-1]])
    pipeline.run_pipeline("finetune", cfg, tmp_path, ["/CPU:0"])
    assert builds == [True, False] and reads == [[1.0, 1.0, 1.0]]
    out = capsys.readouterr().out
    assert f"store entry map/{key} is damaged: map.npz differs from the checksum" in out
    assert out.count("== map: not in the store yet") == 1
    assert (tmp_path / "run.json").is_file() and store.verify("map", key) == []


# ------------------------------------------------------------------ read once, said once


WARNINGS = [
    Case(
        "small-test-split",
        lambda f: [_set("dataset.target.test.path", f.csv("zh_test.csv", ["好,sports"] * 12))],
        [
            "zh_test.csv: the test split has only 12 documents (dataset.target.test): one "
            "document moves accuracy by 8 points; use 20 or more"
        ],
    ),
    Case(
        "test-is-train",
        [f"dataset.target.test.path={TINY / 'zh_train.csv'}"],
        ["dataset.target.test is the same file as dataset.target.train", "not held out"],
    ),
    Case(
        "empty-unlabelled",
        lambda f: [f"dataset.target.unlabelled=[{f.text('zh.txt', '')}]"],
        ["zh.txt: empty file; it adds no text (dataset.target.unlabelled[0])"],
    ),
    Case(
        "test-file-as-unlabelled",
        [f"dataset.target.unlabelled=[{TINY / 'zh_test.csv'}]"],
        ["dataset.target.unlabelled[0] is the target test file", "not held out"],
    ),
    Case(
        "table-as-unlabelled",
        [f"dataset.source.unlabelled=[{TINY / 'en_train.csv'}]"],
        ["dataset.source.unlabelled[0] is read as plain text", "label column become text"],
    ),
]


@pytest.mark.parametrize("case", WARNINGS, ids=[c.id for c in WARNINGS])
def test_suspicious_input_is_one_warning_and_the_run_goes_on(case, isolated, capsys, monkeypatch):
    from dtl_cli import hydra_app, pipeline

    files, _ = isolated
    ran = []
    monkeypatch.setattr(hydra_app, "_devices", lambda cfg, narrow: ["/CPU:0"])
    monkeypatch.setattr(pipeline, "run_pipeline", lambda *args: ran.append(args) or {})
    args = case.args(files) if callable(case.args) else case.args
    assert cli.main(["pretrain", *QUIET, *args]) == 0
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()  # said once: the pre-check leaves it to the job
    assert line.startswith("dtl: warning: ")
    assert all(text in line for text in case.expect), line
    assert len(ran) == 1


def test_labels_come_from_the_corpus_entries_when_stored(tiny_cfg, tmp_path, monkeypatch):
    """A stored corpus entry's labels.json answers; the labelled file is not read again."""
    from dtl_cli import preflight
    from dtl_cli.errors import ConfigError
    from dtl_cli.stages import entries
    from dtl_cli.store import Store

    cfg = tiny_cfg.copy()
    cfg.paths.store = str(tmp_path / "store")
    store = Store(cfg.paths.store)
    parts = {"source": ["a", "b"], "target": ["a"] * 3, "target_test": ["b"] * 20}
    for part, labels in parts.items():

        def write(tmp, labels=labels):
            return entries.write_corpus(tmp, [["w"]] * len(labels), labels)

        entries.build(store, "corpus", entries.corpus_key(cfg, part), write)

    def no_reading(*args):
        raise AssertionError("read the labelled file")

    monkeypatch.setattr(preflight, "_file_labels", no_reading)
    cfg.evaluation.k = 3
    preflight._check_labels(cfg)
    cfg.evaluation.k = [0, 4]
    with pytest.raises(ConfigError, match="evaluation.k=4 but the target training pool has only 3"):
        preflight._check_labels(cfg)


def test_info_says_what_pre_flight_would_reject(tiny_cfg, tmp_path):
    from dtl_cli.info import check_inputs

    cfg = tiny_cfg.copy()
    cfg.paths.store = str(tmp_path / "store")
    assert check_inputs(cfg) == ([], None)
    cfg.evaluation.k = 900
    cfg.dataset.target.test.path = str(Files(tmp_path).csv("t.csv", ["好,sports"] * 3))
    said, problem = check_inputs(cfg)
    (line,) = said
    assert line.endswith(
        "t.csv: the test split has only 3 documents (dataset.target.test): one "
        "document moves accuracy by 33 points; use 20 or more for numbers worth "
        "comparing"
    )
    assert problem.startswith("evaluation.k=900 but the target training pool has only 800")


def test_an_intact_entry_that_does_not_load_is_one_line_naming_it(isolated, capsys, monkeypatch):
    """Its checksum matches (so rebuilding it would not help): exit 2, one line naming the
    entry, the file and `dtl store verify --remove`, and the run's status.txt says so."""
    from dtl_cli import hydra_app, pipeline
    from dtl_cli.stages import entries
    from dtl_cli.store import Store, file_record

    files, _ = isolated

    def run_pipeline(verb, cfg, run_dir, devices):
        store = Store(cfg.paths.store)
        key, name, read = _small_entries(cfg, store)["map"]
        folder = store.path("map", key)
        _garble(folder / name)
        info = store.entry_info("map", key)
        info["files"][name] = file_record(folder / name)
        (folder / "entry.json").write_text(json.dumps(info))
        entries.read_map(cfg, store)

    monkeypatch.setattr(hydra_app, "_devices", lambda cfg, narrow: ["/CPU:0"])
    monkeypatch.setattr(pipeline, "run_pipeline", run_pipeline)
    assert cli.main(["map", *QUIET]) == 2
    line = _check_stderr(capsys.readouterr().err, Case("x", [], ["map.npz does not load"]))
    assert "although it matches the checksum" in line and "dtl store verify --remove" in line
    (status,) = (files.root.parent / "outputs").glob("map/*/*/status.txt")
    assert status.read_text().startswith("failed: store entry map/")


def test_hydra_job_chdir_keeps_relative_paths_where_they_were_given(tiny_cfg, tmp_path):
    """hydra.job.chdir=true moves the job into its run folder: relative data paths and the
    store are read from where dtl was started (the store must not land in each run folder)."""
    from dtl_cli.hydra_app import absolute_paths

    cfg = tiny_cfg.copy()
    cfg.dataset.target.test.path = "data/zh_test.csv"
    cfg.dataset.target.unlabelled = ["a.txt", "/abs/b.txt"]
    cfg.paths.store, cfg.paths.output = ".dtl/store", "outputs"
    absolute_paths(cfg, tmp_path)
    assert cfg.dataset.target.test.path == str(tmp_path / "data/zh_test.csv")
    assert list(cfg.dataset.target.unlabelled) == [str(tmp_path / "a.txt"), "/abs/b.txt"]
    assert cfg.paths.store == str(tmp_path / ".dtl/store")
    assert cfg.paths.output == str(tmp_path / "outputs")
    assert cfg.dataset.source.train.path == tiny_cfg.dataset.source.train.path  # absolute


def test_predict_from_a_run_of_an_older_dtl_says_so(tiny_cfg, tmp_path):
    """The run's recorded model entry is not the one today's keys name: one line saying the
    run was made by an older dtl and how to rebuild it (not "run the verb first")."""
    from dtl_cli.errors import DataError
    from dtl_cli.runs import Run
    from dtl_cli.use_store import read_classifier

    cfg = tiny_cfg.copy()
    cfg.paths.store = str(tmp_path / "store")
    (tmp_path / "store" / "finetune" / "0123456789abcdef").mkdir(parents=True)
    used = {"finetune[0,0]": {"kind": "finetune", "key": "0123456789abcdef", "cached": False}}
    run = Run(tmp_path / "run", cfg, {"stages": {"finetune": {"entries": used}}}, [(0, 0)])
    with pytest.raises(DataError, match=r"finetune/0123456789abcdef, which is still in the store"):
        read_classifier(run, 0, 0)


def test_a_label_column_of_mostly_distinct_values_is_a_warning(tiny_cfg, tmp_path):
    from dtl_cli import preflight
    from dtl_cli.errors import DtlWarning

    cfg = tiny_cfg.copy()
    cfg.paths.store = str(tmp_path / "store")
    rows = [f"doc {i},id{i}" for i in range(120)] + ["x,science", "y,sports"]
    cfg.dataset.source.train.path = Files(tmp_path).csv("en.csv", rows)
    cfg.dataset.target.train.path = Files(tmp_path).csv("zh.csv", ["好,science"] * 30)
    cfg.dataset.target.test.path = Files(tmp_path).csv("zh_test.csv", ["好,sports"] * 30)
    with pytest.warns(DtlWarning, match=r"en.csv: 122 distinct labels in 122 documents; is "):
        preflight._check_labels(cfg)


def test_a_library_value_error_from_a_config_value_names_the_keys():
    from dtl_cli.errors import ConfigError, DataError
    from dtl_cli.stages.common import config_values

    expected = r"^ridge must be >= 0, got -1 \[mapping\.\*\]; check"
    with pytest.raises(ConfigError, match=expected) as e, config_values("mapping.*"):
        raise ValueError("ridge must be >= 0,\n got -1")
    assert isinstance(e.value.__cause__, ValueError)  # kept for whoever debugs it
    with pytest.raises(DataError), config_values("mapping.*"):  # dtl's own errors pass
        raise DataError("x.txt:3: bad line")
    with pytest.raises(KeyError), config_values("mapping.*"):  # and bugs keep their traceback
        raise KeyError("p@1")


def test_bli_scores_p_at_1_whatever_precision_at_lists(tiny_cfg, tmp_path, capsys):
    """Every summary shows P@1: `evaluation.bli.precision_at=[5]` was a KeyError once the
    map had been fitted. The real map stage, on small vectors of the dictionaries' words."""
    from dtl_cli.align.bli import read_dictionary
    from dtl_cli.stages import entries
    from dtl_cli.stages import map as map_stage
    from dtl_cli.store import Store

    cfg = tiny_cfg.copy()
    cfg.paths.store = str(tmp_path / "store")
    cfg.evaluation.bli.precision_at = [5]
    store = Store(cfg.paths.store)
    pairs = read_dictionary(TINY / "dict_seed.txt") + read_dictionary(TINY / "dict_test.txt")
    rng = np.random.default_rng(0)
    for side, words in (("source", [s for s, _ in pairs]), ("target", [t for _, t in pairs])):
        words = list(dict.fromkeys(words))
        vectors = rng.standard_normal((len(words), 8)).astype(np.float32)
        key = entries.embeddings_key(cfg, side)
        entries.build(
            store,
            "embeddings",
            key,
            lambda t, w=words, v=vectors: entries.write_embeddings(t, w, v),
        )
    map_stage.run(cfg, store, tmp_path)
    bli = entries.read_bli(cfg, store)
    assert set(bli["nn"]) >= {"p@1", "p@5"} and set(bli["csls"]) >= {"p@1", "p@5"}
    assert "p@1=" in capsys.readouterr().out
