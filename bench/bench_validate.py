"""Benchmark `harness data validate` / `split` against reading the same file with json.loads.

Usage: python bench/bench_validate.py [--lines 100000]

Prints the time of each step as a ratio to a reference measured in the same run (a plain loop
of ``json.loads`` over the file's lines), plus the peak Python memory of validation compared
with the file size (the file is streamed, so the peak stays far below the size).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import tracemalloc
from pathlib import Path


def make_file(path: Path, lines: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    areas = ["billing", "technical", "account", "shipping"]
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(lines):
            words = " ".join(rng.choice(["please", "help", "my", "invoice", "login", "order", "refund", "error"])
                             for _ in range(rng.randint(5, 40)))
            row = {"id": f"ex-{i}", "messages": [
                {"role": "system", "content": "You are a helpful support agent."},
                {"role": "user", "content": f"{words} #{i}"},
                {"role": "assistant", "content": f"Here is how to fix it: {words[::-1]}"}],
                "metadata": {"product_area": rng.choice(areas)}}
            handle.write(json.dumps(row) + "\n")


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()

    from harness.data.report import profile_file
    from harness.data.split_io import split_file
    from harness.data.validate import validate_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.jsonl"
        make_file(path, args.lines)
        size = path.stat().st_size

        def reference() -> None:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    json.loads(line)

        ref = timed(reference)
        results = {
            "validate": timed(lambda: validate_file(path)),
            "report": timed(lambda: profile_file(path)),
            "split": timed(lambda: split_file(path, Path(tmp) / "out", validate=False)),
            "validate+split": timed(lambda: split_file(path, Path(tmp) / "out2")),
        }
        print(f"{args.lines:,} lines, {size / 1e6:.1f} MB; reference json.loads loop: {ref:.2f}s "
              f"({args.lines / ref:,.0f} lines/s)")
        for name, seconds in results.items():
            print(f"{name:>15}: {seconds:6.2f}s  = {seconds / ref:5.1f} x reference  ({args.lines / seconds:,.0f} lines/s)")

        tracemalloc.start()
        validate_file(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"validate peak Python memory: {peak / 1e6:.1f} MB = {peak / size:.2f} x file size "
              "(dedup keeps a 96-bit hash and a line number per distinct example)")


if __name__ == "__main__":
    main()
