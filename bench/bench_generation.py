"""Benchmark: batched generation (transformers backend) vs one-by-one ``model.generate``.

Tiny model, 256 chat prompts of mixed lengths, greedy, on CPU. Prints the throughput ratio
(target: batched >= 4x) and whether the greedy outputs are identical. Greedy batches run through
continuous batching (:mod:`harness.backends.continuous`: rows leave when done, the shared system
prompt is prefilled once); per-row masks and position ids make every row mathematically equal to an
unpadded one; the only possible source of a difference is floating-point summation order (other
matmul shapes), which can flip an argmax when two logits tie to ~1e-6. Any such prompt is printed.
For the comparison with lm-eval on SmolLM2 see ``bench/bench_lm_eval.py``.

Usage: python bench/bench_generation.py [--prompts 256] [--max-new-tokens 32] [--batch-size 32] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def prompts(n: int, seed: int = 0) -> list[tuple[dict[str, str], ...]]:
    """n conversations whose lengths vary from a few to ~150 tokens."""
    rng = random.Random(seed)
    words = ["order", "late", "refund", "please", "my", "package", "arrived", "broken", "help", "thanks",
             "account", "password", "reset", "cannot", "login", "today", "again", "invoice", "charged", "twice"]
    out = []
    for _ in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.choice([3, 8, 20, 40, 80])))
        out.append(({"role": "system", "content": "You are a support assistant."}, {"role": "user", "content": text}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for both arms")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from harness.backends.base import BackendSpec, GenerationRequest, GenerationSettings
    from harness.backends.transformers_backend import TransformersBackend
    from harness.models.tiny import cached_tiny_model

    model_dir = cached_tiny_model()
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    backend = TransformersBackend(BackendSpec(model=str(model_dir), settings=settings,
                                              options={"batch_size": args.batch_size, "device": "cpu"}))
    requests = [GenerationRequest(id=str(i), messages=m) for i, m in enumerate(prompts(args.prompts))]
    ids = backend.encode(requests)
    lengths = sorted(len(x) for x in ids)
    print(f"model {model_dir.name}, {len(requests)} prompts, prompt tokens min/median/max "
          f"{lengths[0]}/{lengths[len(lengths) // 2]}/{lengths[-1]}, max_new_tokens {args.max_new_tokens}, "
          f"threads {torch.get_num_threads()}")
    backend.generate(requests[:4])  # warm-up (first-call allocations)

    started = time.perf_counter()
    batched = backend.generate(requests)
    t_batched = time.perf_counter() - started

    model, tok = backend.model, backend.tokenizer
    single: list[str] = []
    started = time.perf_counter()
    with torch.inference_mode():
        for prompt in ids:
            out = model.generate(input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                                 max_new_tokens=args.max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                                 eos_token_id=tok.eos_token_id)
            row = out[0, len(prompt):].tolist()
            if tok.eos_token_id in row:
                row = row[:row.index(tok.eos_token_id)]
            single.append(tok.decode(row, skip_special_tokens=True))
    t_single = time.perf_counter() - started

    new_tokens = sum(g.completion_tokens or 0 for g in batched)
    print(f"one-by-one model.generate: {t_single:7.2f}s  {len(ids) / t_single:7.1f} prompts/s")
    print(f"batched backend (bs={args.batch_size}):   {t_batched:7.2f}s  {len(ids) / t_batched:7.1f} prompts/s "
          f"({new_tokens / t_batched:.0f} new tokens/s)")
    ratio = t_single / t_batched
    print(f"throughput ratio batched / one-by-one: {ratio:.1f}x (target >= 4x) -> {'PASS' if ratio >= 4 else 'FAIL'}")
    differing = [i for i, (g, s) in enumerate(zip(batched, single, strict=True)) if g.text != s]
    print(f"greedy outputs identical: {len(ids) - len(differing)}/{len(ids)}")
    for i in differing[:5]:
        print(f"  prompt {i} ({len(ids[i])} tokens) differs: batched {batched[i].text[:60]!r} vs single {single[i][:60]!r}")
    if differing:
        print("  (padding changes matmul shapes and thus float summation order; near-tied logits can flip)")


if __name__ == "__main__":
    main()
