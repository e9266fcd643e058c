"""Benchmark: LoRA training throughput (tokens/s) per device, with ratios against CPU measured in the same run.

Trains the demo's LoRA recipe (all linear layers, r=16, batch 8, the bundled ``extract`` set) for a
few steps on each arm, every arm in its own process so that each starts cold and the CPU arm never
sees the GPU (``CUDA_VISIBLE_DEVICES=``). The figure is the median of the per-step tokens/s that the
trainer logs (non-padding tokens; the first step, which pays for allocator and kernel warm-up, is
dropped). Arms: ``cpu`` (fp32), and where a CUDA GPU is present ``cuda-bf16`` and ``cuda-fp32``.

The figure counts every non-padding input token, so the shared-prompt-prefix optimisation (on by
default; ``--no-shared-prefix`` turns it off) shows up as more tokens/s.

Usage: python bench/bench_train.py [--base-model smollm2-135m-instruct | PATH] [--steps 12]
       [--cpu-steps 4] [--arms cpu,cuda-bf16,cuda-fp32] [--no-shared-prefix] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _worker(arm: str, base_model: str, steps: int, shared_prefix: bool) -> dict:
    """Train in this process and return the arm's measurements."""
    import torch

    from trainers.api import train
    from trainers.config import config_from_dict

    if arm.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32: TF32 would be a third precision
        torch.backends.cudnn.allow_tf32 = False
    import evalsets

    files = evalsets.split_files("extract")
    config = config_from_dict({
        "name": f"bench-{arm}", "method": "lora", "base_model": base_model,
        "train_file": str(files["train"]), "val_file": str(files["val"]),
        "batch_size": 8, "effective_batch_size": 8, "max_steps": steps, "eval_steps": steps,
        "max_train_examples": 8 * steps, "max_val_examples": 8, "lr": 1e-3, "warmup_steps": 0,
        "precision": "bf16" if arm == "cuda-bf16" else "fp32", "early_stopping_patience": None,
        "save_total_limit": 1, "progress": False, "seed": 0, "shared_prefix": shared_prefix,
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"},
    })
    with tempfile.TemporaryDirectory(prefix="bench-train-") as folder:
        record = train(config, folder, say=lambda _m: None)
        rows = [json.loads(line) for line in Path(record.curves_path).read_text().splitlines() if line.strip()]
    per_step = [row["tokens_per_s"] for row in rows if "tokens_per_s" in row][1:]
    return {"arm": arm, "device": record.extra["device"], "precision": record.extra["precision"],
            "steps": record.steps, "tokens_per_s": round(statistics.median(per_step), 1) if per_step else None,
            "wall_time_s": record.wall_time_s, "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if arm.startswith("cuda") else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", default="smollm2-135m-instruct", help="alias, local folder or hub id")
    parser.add_argument("--steps", type=int, default=12, help="training steps on a GPU arm")
    parser.add_argument("--cpu-steps", type=int, default=4, help="training steps on the CPU arm")
    parser.add_argument("--arms", default=None, help="comma-separated: cpu, cuda-bf16, cuda-fp32")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--no-shared-prefix", action="store_true",
                        help="compute the shared prompt prefix once per row (the plain Trainer path)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(_worker(args.worker, args.base_model, args.steps, not args.no_shared_prefix)))
        return

    import torch

    arms = args.arms.split(",") if args.arms else ["cpu"] + (["cuda-bf16", "cuda-fp32"] if torch.cuda.is_available()
                                                              else [])
    results = []
    for arm in arms:
        env = dict(os.environ)
        if arm == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        steps = args.cpu_steps if arm == "cpu" else args.steps
        command = [sys.executable, __file__, "--worker", arm, "--base-model", args.base_model, "--steps", str(steps)]
        proc = subprocess.run(command + (["--no-shared-prefix"] if args.no_shared_prefix else []), env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{arm}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    cpu = next((r["tokens_per_s"] for r in results if r["arm"] == "cpu"), None)
    print(f"LoRA r=16 all-linear, batch 8, base {args.base_model}, shared prefix "
          f"{'off' if args.no_shared_prefix else 'on'}")
    print(f"{'arm':<10} {'precision':<9} {'threads':>7} {'tokens/s':>10} {'vs cpu':>8}  device")
    for r in results:
        ratio = f"{r['tokens_per_s'] / cpu:.1f}x" if cpu and r["tokens_per_s"] else "-"
        print(f"{r['arm']:<10} {r['precision']:<9} {r['threads']:>7} {r['tokens_per_s'] or 0:>10.0f} {ratio:>8}  "
              f"{r['gpu'] or 'cpu'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
