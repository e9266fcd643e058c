"""Build a fabricated run folder that follows the run-folder contract (for compare tests)."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = ("refund order account billing password shipping delay invoice update card reset email "
         "support ticket device login charge plan upgrade cancel").split()


def _sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _degrade(rng: random.Random, text: str, keep: float) -> str:
    words = text.split()
    return " ".join(w if rng.random() < keep else rng.choice(WORDS) for w in words)


def make_run(workspace: Path, run_id: str = "20261128-163000-support-v1-ab12", n_test: int = 80, n_general: int = 60,
             seed: int = 0, metrics: tuple[str, ...] = ("exact_match", "rougeL"), write_scores: bool = False) -> Path:
    """Write a run with base-zero-shot, base-few-shot (prompted) and lora-r16 (a workspace model).

    On ``test`` lora-r16 is clearly better than both baselines; on ``general`` all three are alike.
    """
    rng = random.Random(seed)
    run = workspace / "runs" / run_id
    (workspace / "models" / "lora-r16").mkdir(parents=True, exist_ok=True)
    quality = {"base-zero-shot": {"test": (0.2, 0.5), "general": (0.5, 0.8)},
               "base-few-shot": {"test": (0.35, 0.6), "general": (0.5, 0.8)},
               "lora-r16": {"test": (0.75, 0.9), "general": (0.5, 0.8)}}
    suite = {"name": "support-v1", "datasets": {"test": "test.jsonl", "general": "../general/test.jsonl"},
             "candidates": [{"name": "base-zero-shot", "model": "smollm2-135m-instruct", "adapter": None},
                            {"name": "base-few-shot", "model": "smollm2-135m-instruct", "adapter": None,
                             "prompt": {"few_shot": 5}},
                            {"name": "lora-r16", "model": "lora-r16", "adapter": None}],
             "metrics": list(metrics)}
    run.mkdir(parents=True, exist_ok=True)
    (run / "suite.json").write_text(json.dumps(suite), encoding="utf-8")
    (run / "manifest.json").write_text(json.dumps({"run_id": run_id, "status": "finished"}), encoding="utf-8")
    references = {ds: [_sentence(rng) for _ in range(n)] for ds, n in (("test", n_test), ("general", n_general))}
    areas = ("billing", "shipping", "account")
    for cand, per_ds in quality.items():
        for ds, (p_exact, keep) in per_ds.items():
            rows = []
            for i, ref in enumerate(references[ds]):
                pred = ref if rng.random() < p_exact else _degrade(rng, ref, keep)
                rows.append({"id": f"{ds}-{i}", "prediction": pred, "reference": ref,
                             "metadata": {"product_area": areas[i % 3]}, "latency_s": 0.1, "prompt_tokens": 10,
                             "completion_tokens": 12, "cost": 0.0})
            folder = run / "predictions" / cand
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{ds}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            if write_scores:
                from harness.metrics import Example, score_examples

                examples = [Example(r["id"], r["prediction"], r["reference"]) for r in rows]
                outputs = score_examples(examples, list(metrics))
                scores_dir = run / "scores" / cand
                scores_dir.mkdir(parents=True, exist_ok=True)
                lines = [{"id": r["id"], **{m: outputs[m].per_example[k] for m in metrics}} for k, r in enumerate(rows)]
                (scores_dir / f"{ds}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return run
