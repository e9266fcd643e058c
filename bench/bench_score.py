"""``harness score --metrics rouge1,rouge2,rougeL`` against a plain rouge-score loop, whole processes.

Run: ``python bench/bench_score.py [--repeats 3] [--pairs 20000]``. Each arm is a fresh Python process
(start-up and imports included), timed from outside, the arms alternating; the medians give the
ratio. Cases: ``--pairs`` one-sentence pairs (target >= 5x), ``--pairs`` 50-word pairs (>= 5x) and 200
one-sentence pairs (>= 1x: no pool start-up or heavy import for small work). Both arms write their
per-example F-measures; every value must be identical. Also prints CPU seconds (user + system), a
steadier measure than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_rouge import make_texts  # noqa: E402

TYPES = ("rouge1", "rouge2", "rougeL")
# what a user would write: rouge-score's scorer with stemming (the settings harness reproduces)
LOOP = """
import json, sys
from rouge_score import rouge_scorer
scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
with open(sys.argv[1], encoding="utf-8") as f:
    rows = [json.loads(line) for line in f if line.strip()]
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for row in rows:
        s = scorer.score(row["reference"], row["prediction"])
        out.write(json.dumps({"id": row["id"], **{k: v.fmeasure for k, v in s.items()}}) + "\\n")
"""


def write_pairs(path: Path, pairs: int, words: int, seed: int) -> None:
    """Write a predictions file of ``pairs`` lines of about ``words`` words."""
    refs, preds = make_texts(pairs, words, seed)
    with open(path, "w", encoding="utf-8") as handle:
        for i, (ref, pred) in enumerate(zip(refs, preds, strict=True)):
            handle.write(json.dumps({"id": f"ex{i}", "prediction": pred, "reference": ref}) + "\n")


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``command``; returns (wall seconds, CPU seconds of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def read_scores(path: Path) -> dict[str, dict[str, float]]:
    """``{id: {type: F}}`` from a JSONL file of per-example scores."""
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return {row["id"]: {t: row[t] for t in TYPES} for row in rows}


def run_case(name: str, pairs: int, words: int, target: float, repeats: int, work: Path) -> bool:
    """Time both arms on one case, print the line, return whether scores match and the target is met."""
    data = work / f"{name}.jsonl"
    write_pairs(data, pairs, words, seed=pairs + words)
    harness_cmd = [sys.executable, "-m", "harness", "score", str(data), "--metrics", ",".join(TYPES),
                   "--out", str(work / f"{name}-harness"), "--force"]
    loop_cmd = [sys.executable, "-c", LOOP, str(data), str(work / f"{name}-loop.jsonl")]
    times: dict[str, list[tuple[float, float]]] = {"harness": [], "loop": []}
    for i in range(repeats):
        order = [("harness", harness_cmd), ("loop", loop_cmd)]
        for arm, command in order if i % 2 == 0 else order[::-1]:
            times[arm].append(timed(command, work))
    mine = read_scores(work / f"{name}-harness" / "scores.jsonl")
    reference = read_scores(work / f"{name}-loop.jsonl")
    differ = sum(mine.get(k, {}).get(t) != v[t] for k, v in reference.items() for t in TYPES)
    wall = {arm: statistics.median(w for w, _ in runs) for arm, runs in times.items()}
    cpu = {arm: statistics.median(c for _, c in runs) for arm, runs in times.items()}
    ratio = wall["loop"] / wall["harness"]
    print(f"{name:18s} {pairs:6d} pairs  loop {wall['loop']:6.2f} s  harness {wall['harness']:6.2f} s  "
          f"ratio {ratio:5.1f}x (target >= {target:g}x)  CPU loop {cpu['loop']:6.2f} s harness "
          f"{cpu['harness']:5.2f} s ratio {cpu['loop'] / cpu['harness']:5.1f}x  "
          f"identical: {'yes' if differ == 0 and len(mine) == len(reference) == pairs else f'NO ({differ})'}",
          flush=True)
    return differ == 0 and len(mine) == pairs and ratio >= target


def main() -> None:
    """Run the three cases and print one line each; exit 1 when scores differ or a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=20000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"median of {args.repeats} runs per arm, alternating; ROUGE types {', '.join(TYPES)}, stemming on; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_pairs(work / "warm.jsonl", 50, 12, seed=1)  # compile .pyc files and warm the disk cache
        for command in ([sys.executable, "-m", "harness", "score", str(work / "warm.jsonl"), "--metrics", "rougeL"],
                        [sys.executable, "-c", LOOP, str(work / "warm.jsonl"), str(work / "warm-loop.jsonl")]):
            subprocess.run(command, cwd=work, check=True, stdout=subprocess.DEVNULL)
        results = [run_case("one sentence", args.pairs, 12, 5.0, args.repeats, work),
                   run_case("50 words", args.pairs, 50, 5.0, args.repeats, work),
                   run_case("200 one-sentence", 200, 12, 1.0, args.repeats, work)]
    if not all(results):
        sys.exit(1)


if __name__ == "__main__":
    main()
