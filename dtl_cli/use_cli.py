"""`dtl predict` and `dtl export`: use what a run produced.

    dtl predict RUN [INPUT] [--out FILE] [--k K] [--repeat R] [--text-column C] [--format F]
    dtl export RUN --out DIR [--k K] [--repeat R]

Arguments, the run folder and the input are checked before TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from dtl_cli.errors import DtlError
from dtl_cli.runs import Run, UseError, read_run

PROGRESS_FROM = 2000  # documents: below this, no progress lines


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UseError(f"{message} (see `{self.prog} --help`)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="a run folder of `dtl run` or `dtl transfer`")
    p.add_argument("--k", default=None, help="which k's model (default: the largest)")
    p.add_argument("--repeat", type=int, default=None, help="which repeat (default: 0)")


def predict_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="dtl predict",
        description="Classify new target-language documents with a run's fine-tuned model: "
        "a label and class probabilities per document, as CSV or JSONL.",
    )
    _common(p)
    p.add_argument(
        "input",
        nargs="?",
        default="-",
        metavar="INPUT",
        help="a .txt file (one document per line), .csv/.tsv/.jsonl with a text column "
        "(.gz allowed), or - for standard input (the default)",
    )
    p.add_argument("--out", default=None, help="output file (.csv or .jsonl; default stdout)")
    p.add_argument("--text-column", default="text", help="column or field of the text")
    p.add_argument("--format", choices=("csv", "jsonl"), default=None, help="output format")
    return p


def export_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="dtl export",
        description="Write a run's classifier as a self-contained predictor (model.keras, "
        "vocab.txt, predictor.json; load it with dtl_cli.exported.load), the mapped vector "
        "spaces as word2vec text and the induced dictionary as `src tgt` pairs.",
    )
    _common(p)
    p.add_argument("--out", required=True, help="folder to write (created; must be empty)")
    return p


def _output_format(out: str | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    if out and Path(out).suffix.lower() in (".jsonl", ".json"):
        return "jsonl"
    return "csv"


def predict_main(argv: list[str]) -> int:
    try:
        args = predict_parser().parse_args(argv)
        run = read_run(args.run)
        k, repeat = run.choose(args.k, args.repeat)
        if args.out and not Path(args.out).resolve().parent.is_dir():
            raise UseError(f"--out {args.out}: its folder does not exist")
        from dtl_cli.documents import read_documents

        texts = read_documents(args.input, args.text_column)
        classifier = load_classifier(run, k, repeat)
        probabilities, encoded = _classify(classifier, texts)
        fmt = _output_format(args.out, args.format)
        _write(args.out, fmt, classifier.classes, probabilities, encoded.oov_share)
    except DtlError as err:
        print(f"dtl: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return int(done.code or 0)
    tokens = int(encoded.tokens.sum())
    share = encoded.unknown.sum() / tokens if tokens else 0.0
    print(
        f"dtl predict: {len(texts)} document(s), k={k} repeat={repeat}; "
        f"{share:.1%} of {tokens} tokens not in the vocabulary"
        + (f"; wrote {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    return 0


def _classify(classifier, texts: list[str]):
    encoded = classifier.encode(texts)
    if len(texts) < PROGRESS_FROM:
        return classifier.predict_encoded(encoded), encoded
    batch = 256
    steps = -(-len(texts) // batch)
    done = {"n": 0, "step": 0}

    def report(n: int) -> None:
        done["n"] += n
        done["step"] += 1
        if done["step"] % max(1, steps // 10) == 0 or done["n"] == len(texts):
            print(f"  classified {done['n']}/{len(texts)}", file=sys.stderr)

    return classifier.predict_encoded(encoded, batch, report), encoded


def _write(out: str | None, fmt: str, classes, probabilities: np.ndarray, oov: np.ndarray):
    """The predictions as CSV or JSONL, to `out` (whole or not at all) or standard output."""
    labels = probabilities.argmax(axis=1)
    buffer = io.StringIO()
    if fmt == "jsonl":
        for i, row in enumerate(probabilities):
            record = {
                "row": i + 1,
                "label": classes[labels[i]],
                "probabilities": {c: round(float(p), 6) for c, p in zip(classes, row, strict=True)},
                "oov_share": round(float(oov[i]), 4),
            }
            buffer.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["row", "label", *(f"p_{c}" for c in classes), "oov_share"])
        for i, row in enumerate(probabilities):
            probs = [f"{float(p):.6f}" for p in row]
            writer.writerow([i + 1, classes[labels[i]], *probs, f"{float(oov[i]):.4f}"])
    if out is None:
        sys.stdout.write(buffer.getvalue())
        return
    partial = Path(f"{out}.partial")
    partial.write_text(buffer.getvalue(), encoding="utf-8")
    partial.replace(out)


def export_main(argv: list[str]) -> int:
    try:
        args = export_parser().parse_args(argv)
        run = read_run(args.run)
        k, repeat = run.choose(args.k, args.repeat)
        out = Path(args.out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UseError(f"--out {out}: exists and is not an empty folder; choose a new one")
        written = export_run(run, k, repeat, out)
    except DtlError as err:
        print(f"dtl: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as done:
        return int(done.code or 0)
    print(f"dtl export: k={k} repeat={repeat} -> {out}: {', '.join(written)}", file=sys.stderr)
    return 0


def load_classifier(run: Run, k, repeat: int):
    """The run's fine-tuned model for (k, repeat) as an exported.TextClassifier (on the CPU:
    the same numbers wherever it runs)."""
    from dtl_cli.device import init_tensorflow, plan_devices

    init_tensorflow(plan_devices("cpu", [], "cpu", True, False), seed=0, deterministic=True)
    from dtl_cli.use_store import read_classifier

    return read_classifier(run, k, repeat)


def export_run(run: Run, k, repeat: int, out: Path) -> list[str]:
    from dtl_cli.use_store import export_spaces

    classifier = load_classifier(run, k, repeat)
    classifier.save(out)
    written = sorted(p.name for p in out.iterdir())
    written += export_spaces(run, out)
    _write_readme(out, classifier)
    return [*written, "README.md"]


def _write_readme(out: Path, classifier) -> None:
    about = classifier.about
    (out / "README.md").write_text(
        f"""# dtl predictor: {", ".join(classifier.classes)}

Exported by `dtl export` from {about.get("run")} (k={about.get("k")}, repeat={about.get("repeat")}).

```python
from dtl_cli import exported            # pip install dtl (TensorFlow, jieba come with it)
clf = exported.load("{out.name}")
clf.predict(["..."])                    # labels
clf.predict_proba(["..."])              # [n, N_CLASSES] probabilities, columns clf.classes
```

- `model.keras`: Keras model, token ids [n, length] int32 -> class probabilities.
- `vocab.txt`: the word of token id i + 2 on line i (0: padding, 1: unknown word).
- `predictor.json`: tokenizer `{classifier.tokenizer}`, lowercase {classifier.lowercase},
  max_len {classifier.max_len}, classes.
- `vectors-en.txt`, `vectors-zh.txt`: word2vec text (`count dim` header), the source space
  mapped into the target space (W x + b) and the target space, as MUSE's `--export txt`.
- `dictionary.txt`: induced translations, `source target` a line (MUSE/VecMap format).
""".replace("N_CLASSES", str(len(classifier.classes))),
        encoding="utf-8",
    )
