"""Two CPU processes (gloo) through ``torchrun -m trainers``: the same entry point ``accelerate launch`` runs.

``accelerate launch --cpu --num_processes 2`` starts a single process unless an MPI multi-CPU setup is
configured, so the test launches with torch's own launcher (``python -m torch.distributed.run``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_two_process_gloo_run_trains_and_registers_once(tmp_path, tiny_model_dir, extract_files):
    config = tmp_path / "run.yaml"
    config.write_text(
        f"name: ddp-lora\nbase_model: {tiny_model_dir}\nmethod: lora\ntrain_file: {extract_files['train']}\n"
        f"val_file: {extract_files['val']}\nbatch_size: 4\neffective_batch_size: 8\nmax_steps: 4\n"
        "eval_steps: 2\nwarmup_steps: 0\nmax_length: 128\nprogress: false\n"
        "lora: {r: 4, alpha: 8, target_modules: all-linear}\n")
    workspace = tmp_path / "ws"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "trainers", str(config),
         "-w", str(workspace), "--json"],
        capture_output=True, text=True, env=env, timeout=600, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout[result.stdout.index("{"):])  # only the main process prints
    assert record["name"] == "ddp-lora" and record["steps"] == 4
    assert record["extra"]["processes"] == 2
    assert record["extra"]["gradient_accumulation_steps"] == 1  # 8 = 4 per process x 2 processes
    from harness.store.models import list_models
    from harness.workspace import Workspace

    assert [r.name for r in list_models(Workspace.open(workspace).engine)] == ["ddp-lora"]
    assert (Path(record["path"]) / "adapter_model.safetensors").exists()
