"""Benchmark the store on a real task: cold pretrain per entry against a bare floor, a model
sweep's word2vec trainings, another test file, and the store's size after a learning curve.

    python scripts/bench_store.py --data ../shared/data/imdb-waimai \\
        --seed-dict SEED.txt --test-dict TEST.txt [--rounds 2] [--workers 1,auto]

Parts (`--parts`, default all), each with `--extra` overrides (e.g. embedding.epochs=1 on a
loaded machine):
- cold: `dtl pretrain` into a fresh store, wall and CPU seconds of each entry (entry.json),
  next to the floor: the same tokenisers over every core (a bare process pool, tokens in
  memory) plus bare gensim Word2Vec with the same settings over the same tokens, the faster
  of iterable and corpus_file input (both tried in round 1). dtl and the floor alternate,
  round after round, for each `--workers` value (this machine's speed drifts).
- testfile: `dtl run` (k = 0) on the cold store, then again with another target test file (a
  copy of the test split's first half): which entries the second run built.
- curve: `dtl run evaluation.k=[0,10,50,200,1000] evaluation.repeats=3` on the cold store,
  then the store's size per kind of entry.
- sweep: `dtl pretrain -m model=dan,cnn,bilstm embedding.workers=auto` into a store holding
  only the cold store's corpus entries: how many word2vec trainings (embeddings entries
  built) and the wall time.

Scratch goes to `--work` (default /tmp/dtl-bench-store), wiped per part.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

DTL = str(Path(sys.executable).with_name("dtl"))
ENTRY_ORDER = ("corpus", "embeddings", "classifier")


def dev_overrides(args: argparse.Namespace) -> list[str]:
    d = Path(args.data)
    return [
        "dataset=csv",
        f"dataset.source.train.path={d / 'en_train.csv.gz'}",
        "dataset.source.train.format=csv",
        f"dataset.source.unlabelled=[{d / 'en_unlabelled.txt.gz'}]",
        f"dataset.target.train.path={d / 'zh_train.csv'}",
        f"dataset.target.test.path={d / 'zh_test.csv'}",
        f"dataset.target.unlabelled=[{d / 'zh_unlabelled.txt'}]",
        f"dataset.dictionary.seed={args.seed_dict or d / 'en-zh.0-5000.txt'}",
        f"dataset.dictionary.test={args.test_dict or d / 'en-zh.5000-6500.txt'}",
        "device=cpu",
    ]


def dtl(verb_args: list[str], work: Path, store: Path) -> tuple[float, list[dict]]:
    """Run dtl; (wall seconds, the run.json records it wrote)."""
    outputs = work / f"outputs-{os.getpid()}"  # this invocation's runs only
    env = {**os.environ, "DTL_STORE": str(store), "DTL_OUTPUT": str(outputs)}
    before = set(outputs.rglob("run.json")) if outputs.exists() else set()
    started = time.perf_counter()
    result = subprocess.run([DTL, *verb_args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"dtl {' '.join(verb_args)} failed:\n{result.stdout[-2000:]}\n{result.stderr}")
    records = sorted(set(outputs.rglob("run.json")) - before)
    return seconds, [json.loads(path.read_text()) for path in records]


def entry_seconds(store: Path, record: dict) -> dict[str, tuple[float, float]]:
    """name -> (wall, CPU) build seconds of the entries a run built (from their entry.json)."""
    out = {}
    for stage in record["stages"].values():
        for name, used in (stage.get("entries") or {}).items():
            if not used["cached"]:
                info = json.loads((store / used["kind"] / used["key"] / "entry.json").read_text())
                out[name] = (info["seconds"], info.get("cpu_seconds", float("nan")))
    return out


def _cpu() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# ---------------------------------------------------------------------------------- floor

_TOKENIZE = None


def _start(name: str, lowercase: bool) -> None:
    global _TOKENIZE
    from dtl_cli.text.tokenize import make_tokenizer

    _TOKENIZE = make_tokenizer(name, lowercase=lowercase)


def _tok(text: str) -> list[str]:
    return _TOKENIZE(text)


def _texts(data: Path, side: str) -> list[str]:
    import pandas as pd

    if side == "source":
        labelled = pd.read_csv(data / "en_train.csv.gz")["text"].astype(str).tolist()
        with gzip.open(data / "en_unlabelled.txt.gz", "rt", encoding="utf-8") as handle:
            return labelled + [line.strip() for line in handle if line.strip()]
    labelled = pd.read_csv(data / "zh_train.csv")["text"].astype(str).tolist()
    test = pd.read_csv(data / "zh_test.csv")["text"].astype(str).tolist()
    with open(data / "zh_unlabelled.txt", encoding="utf-8") as handle:
        unlabelled = [line.strip() for line in handle if line.strip()]
    return labelled + unlabelled + test  # the test split is tokenised too (for scoring)


def floor(data: Path, workers: str, modes: list[str], work: Path, epochs: int) -> dict:
    """(wall, CPU) seconds of the bare floor: tokenising both sides over every core, then
    word2vec."""
    from gensim.models import Word2Vec

    cores = len(os.sched_getaffinity(0))
    result: dict = {}
    for side, tokenizer in (("source", "nltk"), ("target", "jieba")):
        started, cpu = time.perf_counter(), _cpu()
        texts = _texts(data, side)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(cores, initializer=_start, initargs=(tokenizer, True)) as pool:
            tokens = [t for t in pool.imap(_tok, texts, chunksize=500) if t]
        result[f"tokenize[{side}]"] = (time.perf_counter() - started, _cpu() - cpu)
        settings = dict(vector_size=50, window=5, min_count=2, sg=1, negative=5, seed=0)
        settings.update(epochs=epochs, workers=cores if workers == "auto" else int(workers))
        times = {}
        for mode in modes:
            if mode == "corpus_file":  # the file is given, not timed
                path = work / f"floor-{side}.txt"
                with open(path, "w", encoding="utf-8") as out:
                    out.writelines(" ".join(t) + "\n" for t in tokens)
            started, cpu = time.perf_counter(), _cpu()
            if mode == "iterable":
                Word2Vec(tokens, **settings)
            else:
                Word2Vec(corpus_file=str(path), **settings)
            times[mode] = (time.perf_counter() - started, _cpu() - cpu)
        best = min(times, key=lambda mode: times[mode][1])  # less CPU: wall is noise here
        result[f"word2vec[{side}]"] = times[best]
        result[f"word2vec[{side}] input"] = best
        result[f"word2vec[{side}] modes"] = times
    return result


# ---------------------------------------------------------------------------------- parts


def cold(args, base: list[str], work: Path) -> None:
    print("\n## cold pretrain: dtl entries vs the bare floor (wall / CPU seconds)")
    best_modes: dict[str, list[str]] = {}
    for round_ in range(args.rounds):
        for workers in args.workers.split(","):
            store = work / f"cold-{workers}"
            shutil.rmtree(store, ignore_errors=True)
            run = ["pretrain", *base, f"embedding.workers={workers}"]
            wall, (record,) = dtl(run, work, store)
            seconds = entry_seconds(store, record)
            modes = best_modes.get(workers, ["iterable", "corpus_file"])
            command = [sys.executable, __file__, "--floor", args.data, "--floor-workers", workers]
            command += ["--floor-modes", ",".join(modes), "--work", str(work)]
            command += ["--epochs", str(args.epochs)]
            child = subprocess.run(command, capture_output=True, text=True)
            if child.returncode != 0:
                sys.exit(f"floor failed:\n{child.stderr}")
            bare = json.loads(child.stdout.strip().splitlines()[-1])
            best_modes[workers] = [bare["word2vec[source] input"]]
            _print_round(round_, workers, seconds, wall, bare)
            sys.stdout.flush()


def _cell(pair) -> str:
    return f"{pair[0]:7.1f} /{pair[1]:6.1f}"


def _ratio(dtl_pair, floor_pair) -> str:
    return f"{dtl_pair[0] / floor_pair[0]:6.2f} /{dtl_pair[1] / floor_pair[1]:5.2f}"


def _add(*pairs):
    return (sum(p[0] for p in pairs), sum(p[1] for p in pairs))


def _print_round(round_: int, workers: str, seconds: dict, wall: float, bare: dict) -> None:
    corpus = _add(*(v for k, v in seconds.items() if k.startswith("corpus")))
    tok = _add(bare["tokenize[source]"], bare["tokenize[target]"])
    print(f"round {round_ + 1}, embedding.workers={workers}: dtl pretrain wall {wall:.1f} s")
    print(f"  {'entry':<22}{'dtl wall / CPU':>16}{'floor wall / CPU':>18}{'ratio':>14}")
    print(f"  {'corpus (3 parts)':<22}{_cell(corpus):>16}{_cell(tok):>18}{_ratio(corpus, tok):>14}")
    emb = {
        side: tuple(seconds.get(f"embeddings[{side}]", (0.0, 0.0))) for side in ("source", "target")
    }
    for side in ("source", "target"):
        w2v = bare[f"word2vec[{side}]"]
        label = f"embeddings[{side}]"
        print(
            f"  {label:<22}{_cell(emb[side]):>16}{_cell(w2v):>18}{_ratio(emb[side], w2v):>14}"
            f"  (floor input: {bare[f'word2vec[{side}] input']})"
        )
    total = _add(corpus, *emb.values())
    floor_total = _add(tok, bare["word2vec[source]"], bare["word2vec[target]"])
    label = "corpus + embeddings"
    print(
        f"  {label:<22}{_cell(total):>16}{_cell(floor_total):>18}{_ratio(total, floor_total):>14}"
    )
    if "classifier" in seconds:
        print(f"  {'classifier':<22}{_cell(seconds['classifier']):>16}")
    modes = {m: [round(x, 1) for x in v] for m, v in bare["word2vec[source] modes"].items()}
    print(f"  floor word2vec[source] inputs tried (wall, CPU): {modes}")


def testfile(args, base: list[str], work: Path) -> None:
    print("\n## another target test file (dtl run, k = 0, on the cold store)")
    store = work / f"cold-{args.workers.split(',')[0]}"
    wall, _ = dtl(["run", *base], work, store)
    lines = (Path(args.data) / "zh_test.csv").read_text(encoding="utf-8").splitlines()
    other = work / "zh_test_half.csv"
    other.write_text("\n".join(lines[: 1 + len(lines) // 2]) + "\n", encoding="utf-8")
    base2 = [o for o in base if not o.startswith("dataset.target.test.path=")]
    wall2, (record,) = dtl(["run", *base2, f"dataset.target.test.path={other}"], work, store)
    built = [
        name
        for stage in record["stages"].values()
        for name, used in (stage.get("entries") or {}).items()
        if not used["cached"]
    ]
    print(f"first run {wall:.1f} s; with {other.name}: {wall2:.1f} s, entries built: {built}")


def curve(args, base: list[str], work: Path) -> None:
    print("\n## store size after a 5-point, 3-repeat curve (on the cold store)")
    from dtl_cli.store import Store
    from dtl_cli.store_cli import iter_entries

    store = work / f"cold-{args.workers.split(',')[0]}"
    curve_args = ["evaluation.k=[0,10,50,200,1000]", "evaluation.repeats=3"]
    wall, _ = dtl(["run", *base, *curve_args], work, store)
    kinds: dict[str, list[int]] = {}
    for entry in iter_entries(Store(store)):
        kinds.setdefault(entry.kind, []).append(entry.bytes)
    print(f"wall {wall:.1f} s")
    print(f"  {'kind':<12}{'entries':>8}{'MB':>10}{'max KB / entry':>16}")
    for kind, sizes in kinds.items():
        print(f"  {kind:<12}{len(sizes):>8}{sum(sizes) / 2**20:>10.2f}{max(sizes) / 1024:>16.1f}")
    total = sum(sum(s) for s in kinds.values())
    print(f"  total {total / 2**20:.1f} MB")


def sweep(args, base: list[str], work: Path) -> None:
    print("\n## sweep: dtl pretrain -m model=dan,cnn,bilstm embedding.workers=auto")
    store = work / "sweep"
    shutil.rmtree(store, ignore_errors=True)
    cold_store = work / f"cold-{args.workers.split(',')[0]}"
    if (cold_store / "corpus").is_dir():  # tokenised already: the sweep trains from there
        shutil.copytree(cold_store / "corpus", store / "corpus")
    extra = [f"model.epochs={args.sweep_epochs}"] if args.sweep_epochs else []
    sweep_args = ["-m", "model=dan,cnn,bilstm", "embedding.workers=auto"]
    wall, records = dtl(["pretrain", *sweep_args, *base, *extra], work, store)
    built = [
        name
        for record in records
        for name, used in record["stages"]["pretrain"]["entries"].items()
        if name.startswith("embeddings") and not used["cached"]
    ]
    seconds = {name: s for record in records for name, s in entry_seconds(store, record).items()}
    print(
        f"{len(records)} jobs, wall {wall:.1f} s; word2vec trainings: {len(built)} ({built})"
        + (f"; model.epochs={args.sweep_epochs}" if extra else "")
    )
    for name, pair in seconds.items():
        print(f"  {name:<22}{_cell(pair):>16}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=False)
    p.add_argument("--seed-dict")
    p.add_argument("--test-dict")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--workers", default="1,auto")
    p.add_argument("--epochs", type=int, default=5, help="embedding.epochs for dtl and floor")
    p.add_argument("--parts", default="cold,testfile,curve,sweep")
    p.add_argument("--sweep-epochs", type=int, default=None, help="model.epochs in the sweep")
    p.add_argument("--work", default="/tmp/dtl-bench-store")
    p.add_argument("--floor", help=argparse.SUPPRESS)  # internal: run the floor on this data
    p.add_argument("--floor-workers", help=argparse.SUPPRESS)
    p.add_argument("--floor-modes", help=argparse.SUPPRESS)
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.floor:
        modes = args.floor_modes.split(",")
        result = floor(Path(args.floor), args.floor_workers, modes, work, args.epochs)
        print(json.dumps(result))
        return
    if not args.data:
        p.error("--data DIR is required")
    print(
        f"machine: {platform.platform()}, {len(os.sched_getaffinity(0))} cores, "
        f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    base = [*dev_overrides(args), f"embedding.epochs={args.epochs}"]
    parts = {"cold": cold, "testfile": testfile, "curve": curve, "sweep": sweep}
    for name in args.parts.split(","):
        parts[name](args, base, work)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
