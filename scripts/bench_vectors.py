"""Benchmark: loading a large word2vec text file (`.vec`), and its binary copy in the store.

Generates a synthetic `.vec` file (default 200,000 words x 300 dims, about 500 MB, values
with 4 decimals like fastText's; one word in 20 is a capitalised twin of the word before it,
so lower-casing has duplicates to drop), kept under --cache-dir and reused by later runs.
Then times, each in a fresh process so peak RSS is per case:

  cold            load_vectors(path)
  max_vocab       load_vectors(path, max_vocab=50000)
  lowercase       load_vectors(path, lowercase=True)
  store (build)   first pretrained load through the store: parse + save the binary copy
  store (reuse)   second load: reads the binary copy (.npy + words), no text parsing

Memory, per case: "before" is the resident set once the case's imports are done (the store
cases import dtl's stages, TensorFlow with them); "peak" the highest resident set while the
case itself runs (the kernel's high-water mark reset after the imports, through
/proc/self/clear_refs); "added" = peak - before, what loading the vectors costs. Where the
mark cannot be reset (not Linux), peak is the process's whole high-water mark, imports
included, and the table says so.

Usage: python scripts/bench_vectors.py [--words 200000] [--dim 300] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS_PER_BLOCK = 5000


def generate(path: Path, n_words: int, dim: int, seed: int = 0) -> None:
    """Write a synthetic .vec file (to a temporary name, renamed when complete)."""
    rng = np.random.default_rng(seed)
    words = [f"W{i - 1}" if i % 20 == 19 else f"w{i}" for i in range(n_words)]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        out.write(f"{n_words} {dim}\n")
        for start in range(0, n_words, ROWS_PER_BLOCK):
            block = rng.normal(scale=0.1, size=(min(ROWS_PER_BLOCK, n_words - start), dim))
            buffer = io.StringIO()
            np.savetxt(buffer, block, fmt="%.4f", delimiter=" ")
            rows = buffer.getvalue().splitlines()
            names = words[start : start + len(rows)]
            out.write("".join(f"{w} {r}\n" for w, r in zip(names, rows, strict=True)))
    os.replace(tmp, path)


def _status_mib(field: str) -> float | None:
    """A VmRSS/VmHWM line of /proc/self/status in MiB (None where there is none)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak-RSS mark (Linux >= 4.0); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return _status_mib("VmHWM") is not None


def one_case(case: str, path: str, store_dir: str) -> dict:
    """Run one case in this process; return seconds, words and RSS in MiB: before (after the
    imports), peak (while the case runs) and whether the peak excludes the imports."""
    from dtl_cli.embed.io import load_vectors

    if case.startswith("store"):  # imported before the clock starts: TensorFlow comes along
        from dtl_cli.hydra_app import compose_config
        from dtl_cli.stages import entries, pretrain
        from dtl_cli.store import Store

        vectors = [f"embedding.{side}_vectors={path}" for side in ("source", "target")]
        cfg = compose_config(["embedding=pretrained", *vectors])
    before = _status_mib("VmRSS")
    own_peak = _reset_peak()
    started = time.perf_counter()
    if case == "cold":
        words, vectors = load_vectors(path)
    elif case == "max_vocab":
        words, vectors = load_vectors(path, max_vocab=50000)
    elif case == "lowercase":
        words, vectors = load_vectors(path, lowercase=True)
    else:  # "store-build" / "store-reuse": the helper the pretrain stage uses
        store = Store(store_dir)
        _, cached = pretrain.embeddings_entry(cfg, store, "source")
        words, vectors = entries.read_raw_embeddings(cfg, store, "source")
        if cached != (case == "store-reuse"):
            sys.exit(f"{case}: expected cached={case == 'store-reuse'}, got {cached}")
    seconds = time.perf_counter() - started
    if own_peak:
        peak = _status_mib("VmHWM")
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "words": len(words),
        "dim": vectors.shape[1],
        "before_mb": before,
        "peak_mb": peak,
        "own_peak": own_peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--cache-dir", default="/tmp/dtl-bench-vectors")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(one_case(args.case, args.file, args.store)))
        return

    print(
        f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"synthetic-{args.words}x{args.dim}.vec"
    if not path.is_file():
        started = time.perf_counter()
        generate(path, args.words, args.dim)
        print(f"generated {path} in {time.perf_counter() - started:.1f} s")
    print(f"file: {path} ({path.stat().st_size / 2**20:.0f} MiB)")

    cases = ["cold", "max_vocab", "lowercase", "store-build", "store-reuse"]
    print(f"{'case':<14}{'seconds':>9}{'words':>9}   RSS MiB: before    peak   added")
    whole = False
    with tempfile.TemporaryDirectory() as store_dir:
        for case in cases:
            command = [sys.executable, __file__, "--case", case, "--file", str(path)]
            result = subprocess.run(
                command + ["--store", store_dir], capture_output=True, text=True
            )
            if result.returncode != 0:
                sys.exit(f"case {case} failed:\n{result.stderr}")
            r = json.loads(result.stdout.strip().splitlines()[-1])
            before = r["before_mb"] or 0.0
            added = f"{r['peak_mb'] - before:>8.0f}" if r["own_peak"] else f"{'-':>8}"
            whole = whole or not r["own_peak"]
            print(
                f"{case:<14}{r['seconds']:>9.2f}{r['words']:>9}{'':>11}{before:>7.0f}"
                f"{r['peak_mb']:>8.0f}{added}"
            )
    if whole:
        print("peak: the whole process's high-water mark, imports included (no clear_refs here)")


if __name__ == "__main__":
    main()
