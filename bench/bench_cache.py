"""Benchmark: a fully cached re-run of a suite vs the first run (target: under 5% of the time).

Builds an eval set of 64 extraction prompts and a suite with two tiny-model candidates
(zero-shot and 3-shot), runs it once (generates everything), then again in the same workspace
(every generation is a cache hit: no model is loaded, only lookups, scoring and the run folder).

Usage: python bench/bench_cache.py [--examples 64] [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()

    from harness.models.tiny import cached_tiny_model
    from harness.runs.runner import run_suite
    from harness.runs.suite import load_suite
    from harness.workspace import Workspace
    from tests.harness.backends._support import write_eval_set, write_suite

    tiny = cached_tiny_model()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_eval_set(root, n_train=32, n_test=args.examples)
        suite = load_suite(write_suite(root, (
            f"name: bench-cache\ndatasets: {{test: test.jsonl}}\ngeneration: {{max_new_tokens: {args.max_new_tokens}}}\n"
            f"candidates:\n  - {{name: zero, model: {tiny}}}\n"
            f"  - {{name: few, model: {tiny}, prompt: {{few_shot: 3, from: train.jsonl}}}}\n"
            "metrics: [exact_match, json_valid, json_schema]\n")))
        ws = Workspace.open(root / "ws")
        started = time.perf_counter()
        first = run_suite(suite, ws, show_progress=False)
        t_first = time.perf_counter() - started
        started = time.perf_counter()
        second = run_suite(suite, ws, show_progress=False)
        t_second = time.perf_counter() - started
        ws.close()
    print(f"first run:  {t_first:6.2f}s  generated {sum(first.generated.values())}, cached {sum(first.cached.values())}")
    print(f"cached run: {t_second:6.2f}s  generated {sum(second.generated.values())}, cached {sum(second.cached.values())}")
    ratio = t_second / t_first
    print(f"cached / first: {ratio:.1%} (target < 5%) -> {'PASS' if ratio < 0.05 else 'FAIL'}")
    same = first.summary["candidates"] == second.summary["candidates"]
    print(f"identical summaries: {same}")


if __name__ == "__main__":
    main()
