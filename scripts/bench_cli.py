"""Benchmark: `dtl --help` wall time, and `dtl run` on the tiny corpus per stage.

Prints a table; run with `make bench`. Each `dtl run` uses a fresh store in a temporary folder
(cold), then runs again on the same store (cached).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DTL = str(Path(sys.executable).with_name("dtl"))


def wall(args: list[str], env: dict, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stderr}")
    return time.perf_counter() - started, result


def main() -> None:
    env = dict(os.environ)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    help_times = [wall([DTL, "--help"], env, Path.cwd())[0] for _ in range(5)]
    print(f"dtl --help: median {statistics.median(help_times) * 1000:.0f} ms over 5 runs")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env.update(DTL_STORE=str(work / "store"), DTL_OUTPUT=str(work / "outputs"))
        for label in ("cold store", "cached"):
            seconds, _ = wall([DTL, "run"], env, work)
            record = json.loads(sorted(work.glob("outputs/run/*/*/run.json"))[-1].read_text())
            stages = record["stages"]
            parts = ", ".join(f"{name} {s['seconds']:.1f} s" for name, s in stages.items())
            peak = max(s["peak_memory_mb"] for s in stages.values())
            print(f"dtl run ({label}): {seconds:.1f} s wall; {parts}; peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
