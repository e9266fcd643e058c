"""Benchmark: ``harness eval`` (transformers backend) against lm-eval 0.4.13's ``hf`` model, whole processes.

The same SmolLM2-135M-Instruct folder, the first N (60) prompts of ``evalsets/extract/test.jsonl``,
zero-shot and 3-shot (the few-shot turns harness draws from ``train.jsonl`` with seed 0), rendered
by the model's chat template (the prompt strings lm-eval gets are rendered here with the same
``apply_chat_template`` call harness makes), greedy, 96 new tokens, CPU float32.

- harness: ``harness eval SUITE --limit N --batch-size B --json`` in a fresh workspace each time
  (so nothing comes from the generation cache), whole process wall time.
- lm-eval: a script run by the interpreter of lm-eval's own venv (created on first use under
  ``$HARNESS_CACHE/lm-eval-venv``: ``pip install torch==2.13.0 lm-eval[hf]==0.4.13
  transformers==<harness's version>``) that builds ``HFLM(pretrained=FOLDER, batch_size=B)`` and
  calls its ``generate_until`` on the pre-rendered prompts (``until: []``, so it stops at EOS only),
  whole process wall time. This is lm-eval's leanest path: the ``lm_eval`` command would add its
  task indexing and loading on top, so the ratio printed here is a conservative one.

Each tool runs at its own batch size (defaults: harness ``auto``, lm-eval 60, its best in issue
16's measurements: one length-sorted batch); runs alternate (lm-eval, harness, then harness,
lm-eval, ...) and the best of each tool's rounds is compared. Every answer must be identical.
Prints wall times and the throughput ratio lm-eval time / harness time (target >= 1.5x).

Usage: python bench/bench_lm_eval.py [--limit 60] [--shots 0,3] [--rounds 1]
                                     [--harness-batch auto] [--lm-eval-batch 60]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LM_EVAL_VERSION = "0.4.13"
TORCH_VERSION = "2.13.0"
MAX_NEW_TOKENS = 96
EXTRACT = ROOT / "evalsets" / "extract"

LM_EVAL_SCRIPT = r'''
import json, sys
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

prompts_file, model_dir, batch, max_new, out_file = sys.argv[1:6]
prompts = [json.loads(line)["prompt"] for line in open(prompts_file, encoding="utf-8")]
lm = HFLM(pretrained=model_dir, batch_size=int(batch), device="cpu", dtype="float32")
kwargs = {"until": [], "max_gen_toks": int(max_new), "do_sample": False, "temperature": 0.0}
requests = [Instance(request_type="generate_until", doc={}, arguments=(p, dict(kwargs)), idx=i)
            for i, p in enumerate(prompts)]
answers = lm.generate_until(requests, disable_tqdm=True)
json.dump(answers, open(out_file, "w", encoding="utf-8"))
'''


def cache_root() -> Path:
    """The per-user harness cache folder (``$HARNESS_CACHE`` or ``~/.cache/harness``)."""
    return Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")


def ensure_lm_eval_venv(timeout_s: float = 1200) -> Path:
    """Return the python of lm-eval's own venv, creating it (once, under a lock) when missing."""
    import transformers

    py = f"py{sys.version_info.major}.{sys.version_info.minor}"
    target = cache_root() / "lm-eval-venv" / f"lm-eval-{LM_EVAL_VERSION}-torch{TORCH_VERSION}-{py}"
    python, marker = target / "bin" / "python", target / ".ready"
    if marker.exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return python
        print(f"creating lm-eval's venv in {target} (a few minutes, once)", flush=True)
        shutil.rmtree(target, ignore_errors=True)
        steps = [[sys.executable, "-m", "venv", str(target)],
                 [str(python), "-m", "pip", "install", "--quiet", f"torch=={TORCH_VERSION}",
                  f"lm-eval[hf]=={LM_EVAL_VERSION}", f"transformers=={transformers.__version__}"],
                 [str(python), "-c", "import lm_eval.models.huggingface"]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=timeout_s)
            if done.returncode != 0:
                shutil.rmtree(target, ignore_errors=True)
                sys.exit(f"creating lm-eval's venv failed at {' '.join(step[:5])}:\n{done.stderr[-1500:]}")
        marker.write_text(LM_EVAL_VERSION)
    return python


def conversations(limit: int, shots: int) -> list[list[dict[str, str]]]:
    """The messages harness builds for the first ``limit`` test examples with ``shots`` few-shot turns."""
    from harness.runs.prompts import build_messages, draw_few_shot, load_dataset

    turns = draw_few_shot(EXTRACT / "train.jsonl", shots, 0) if shots else []
    return [build_messages(item, system=None, shots=turns) for item in load_dataset(EXTRACT / "test.jsonl",
                                                                                    limit=limit)]


def write_inputs(work: Path, model_dir: str, limit: int, shots: int) -> tuple[Path, Path]:
    """The suite YAML for harness and the rendered-prompts JSONL for lm-eval; returns both paths."""
    import yaml
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prompts = work / f"prompts-{shots}shot.jsonl"
    with open(prompts, "w", encoding="utf-8") as out:
        for messages in conversations(limit, shots):
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            out.write(json.dumps({"prompt": text}) + "\n")
    candidate: dict = {"name": f"shots{shots}", "model": model_dir}
    if shots:
        candidate["prompt"] = {"few_shot": shots, "from": str(EXTRACT / "train.jsonl")}
    suite = {"name": f"bench-lm-eval-{shots}shot", "datasets": {"test": str(EXTRACT / "test.jsonl")},
             "generation": {"max_new_tokens": MAX_NEW_TOKENS, "temperature": 0.0, "seed": 0},
             "candidates": [candidate], "metrics": ["json_valid"]}
    suite_path = work / f"suite-{shots}shot.yaml"
    suite_path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return suite_path, prompts


def run_harness(work: Path, suite: Path, limit: int, batch: str, tag: str) -> tuple[float, list[str], dict]:
    """One ``harness eval`` process in a fresh workspace; returns (wall s, answers in order, timing)."""
    workspace = work / f"ws-{tag}"
    shutil.rmtree(workspace, ignore_errors=True)
    harness = Path(sys.executable).with_name("harness")
    command = [str(harness) if harness.exists() else sys.executable, *([] if harness.exists() else
               ["-m", "harness.cli"]), "eval", str(suite), "--limit", str(limit), "--batch-size", batch,
               "--workspace", str(workspace), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=work)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"harness eval failed (rc {done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    run_dir = Path(result["run_dir"])
    files = sorted((run_dir / "predictions").glob("*/test.jsonl"))
    answers = [json.loads(line)["prediction"] for line in files[0].read_text(encoding="utf-8").splitlines()]
    return wall, answers, result.get("timing", {})


def run_lm_eval(python: Path, work: Path, prompts: Path, model_dir: str, batch: int) -> tuple[float, list[str]]:
    """One lm-eval process (its venv); returns (wall s, answers in order)."""
    script = work / "lm_eval_generate.py"
    script.write_text(LM_EVAL_SCRIPT)
    out = work / "lm_eval_answers.json"
    started = time.perf_counter()
    done = subprocess.run([str(python), str(script), str(prompts), model_dir, str(batch), str(MAX_NEW_TOKENS),
                           str(out)], capture_output=True, text=True, cwd=work)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"lm-eval failed (rc {done.returncode}):\n{done.stderr[-3000:]}")
    return wall, json.loads(out.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60, help="test prompts (first N of extract/test.jsonl)")
    parser.add_argument("--shots", default="0,3", help="comma-separated few-shot counts")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per setting (best kept)")
    parser.add_argument("--harness-batch", default="auto", help="harness eval --batch-size")
    parser.add_argument("--lm-eval-batch", type=int, default=60, help="lm-eval HFLM batch_size")
    args = parser.parse_args()

    from harness.models.aliases import resolve_base_model

    python = ensure_lm_eval_venv()
    model_dir = resolve_base_model("smollm2-135m-instruct")
    print(f"model {model_dir}; {args.limit} extract prompts; greedy, {MAX_NEW_TOKENS} new tokens; "
          f"harness --batch-size {args.harness_batch}, lm-eval batch_size {args.lm_eval_batch}; "
          f"{os.cpu_count()} CPUs (a shared machine: timings are noisy)", flush=True)
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench-lm-eval-") as tmp:
        work = Path(tmp)
        for shots in [int(s) for s in args.shots.split(",") if s.strip()]:
            suite, prompts = write_inputs(work, model_dir, args.limit, shots)
            times: dict[str, list[float]] = {"harness": [], "lm-eval": []}
            answers: dict[str, list[str]] = {}
            for rnd in range(args.rounds):
                order = ["lm-eval", "harness"] if rnd % 2 == 0 else ["harness", "lm-eval"]
                for tool in order:
                    if tool == "harness":
                        wall, got, timing = run_harness(work, suite, args.limit, args.harness_batch, f"{shots}-{rnd}")
                        detail = f" (generation {timing.get('generation_s', float('nan')):.1f} s)" if timing else ""
                    else:
                        wall, got = run_lm_eval(python, work, prompts, model_dir, args.lm_eval_batch)
                        detail = ""
                    times[tool].append(wall)
                    answers[tool] = got
                    print(f"  {shots}-shot round {rnd + 1}: {tool:8s} {wall:7.1f} s{detail}", flush=True)
                same = sum(a == b for a, b in zip(answers["harness"], answers["lm-eval"], strict=True))
                print(f"  {shots}-shot round {rnd + 1}: identical answers {same}/{len(answers['harness'])}",
                      flush=True)
                for i, (a, b) in enumerate(zip(answers["harness"], answers["lm-eval"], strict=True)):
                    if a != b:
                        print(f"    prompt {i}: harness {a[:70]!r} vs lm-eval {b[:70]!r}")
                if same != len(answers["harness"]):
                    sys.exit(f"{shots}-shot: answers differ")
            best_h, best_l = min(times["harness"]), min(times["lm-eval"])
            ratio = best_l / best_h
            ratios.append(ratio)
            print(f"{shots}-shot: harness {best_h:.1f} s, lm-eval {best_l:.1f} s (best of {args.rounds}): "
                  f"throughput ratio harness/lm-eval {ratio:.2f}x (target >= 1.5x) -> "
                  f"{'PASS' if ratio >= 1.5 else 'FAIL'}", flush=True)
    print(f"min ratio {min(ratios):.2f}x -> {'PASS' if min(ratios) >= 1.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
