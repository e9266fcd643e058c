"""Benchmark: building the tiny offline model from nothing (target: under 60 s on 2 busy CPU cores).

Builds the model through ``cached_tiny_model()`` in a fresh, empty cache folder (the first run of a
new checkout: ``harness demo --fast`` or a test session), timing the pretraining apart from the rest
(tokenizer, corpus, model init, save). The reference is the former recipe (issue 16: 300 steps of
16 texts padded to the longest, up to 192 tokens, on torch's default threads), measured in the same
run on a few of its steps and extrapolated: its build = the new build's non-pretraining time +
300 x its step time. The timings depend on what else shares the cores; run it as it is meant to be
used, with other work on the machine.

Usage: python bench/bench_tiny.py [--reference-steps 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OLD_STEPS, OLD_BATCH, OLD_MAX_LENGTH, OLD_LR = 300, 16, 192, 3e-3
TARGET_S = 60.0


def _old_step_seconds(model_dir: Path, steps: int) -> float:
    """Seconds per step of the former pretraining loop (after one warm-up step) on a fresh copy of the model."""
    import random

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.models.tiny import default_corpus

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "right"
    model = AutoModelForCausalLM.from_pretrained(model_dir).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=OLD_LR, weight_decay=0.0)
    corpus, generator = default_corpus(), random.Random(0)

    def step() -> None:
        batch = tokenizer(generator.sample(corpus, OLD_BATCH), return_tensors="pt", padding=True,
                          truncation=True, max_length=OLD_MAX_LENGTH)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        model(**batch, labels=labels).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-steps", type=int, default=4, help="Timed steps of the former recipe.")
    args = parser.parse_args()

    started = time.perf_counter()
    import harness.models.tiny as tiny

    pretrain_seconds: list[float] = []
    pretrain = tiny._pretrain

    def timed_pretrain(*a, **k) -> None:
        begun = time.perf_counter()
        pretrain(*a, **k)
        pretrain_seconds.append(time.perf_counter() - begun)

    tiny._pretrain = timed_pretrain
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HARNESS_CACHE"] = cache
        built = tiny.cached_tiny_model()  # imports torch/transformers too, as a fresh process would
        build_s = time.perf_counter() - started
        tiny._pretrain = pretrain
        old_step_s = _old_step_seconds(built, args.reference_steps)
    load = os.getloadavg()[0]
    other_s = build_s - pretrain_seconds[0]
    old_build_s = other_s + OLD_STEPS * old_step_s
    print(f"cores: {os.cpu_count()}, load average (1 min) at the end: {load:.1f}")
    print(f"new build:    {build_s:6.1f}s  (pretraining {pretrain_seconds[0]:.1f}s, imports/tokenizer/save {other_s:.1f}s)")
    print(f"former build: {old_build_s:6.1f}s  (estimated: {OLD_STEPS} x {old_step_s:.3f}s/step from "
          f"{args.reference_steps} steps, + the same {other_s:.1f}s)")
    print(f"speed-up: {old_build_s / build_s:.1f}x; build under {TARGET_S:.0f}s -> "
          f"{'PASS' if build_s < TARGET_S else 'FAIL'}")


if __name__ == "__main__":
    main()
