"""LoRA on the tiny model: validation loss falls, the adapter saves in peft format, merge matches."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest

from harness.store.models import find_model
from tests.trainers.conftest import has_cuda
from trainers.api import train

TRAIN_SECONDS: dict[str, float] = {}  # wall time of each fixture's train() call, measured around it


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_model_dir, extract_files):
    from harness.workspace import Workspace
    from trainers.config import config_from_dict

    workspace = Workspace.open(tmp_path_factory.mktemp("ws"))
    config = config_from_dict({
        "name": "lora-tiny", "base_model": str(tiny_model_dir), "method": "lora",
        "train_file": str(extract_files["train"]), "val_file": str(extract_files["val"]),
        "batch_size": 8, "effective_batch_size": 16, "max_steps": 16, "eval_steps": 4, "warmup_steps": 0,
        "lr": 3e-3, "max_length": 128, "progress": False,
        "lora": {"r": 8, "alpha": 16, "target_modules": "all-linear"}})
    started = time.perf_counter()
    record = train(config, workspace, say=lambda _m: None)
    TRAIN_SECONDS["lora-tiny"] = time.perf_counter() - started
    return workspace, record


def test_lora_training_reduces_validation_loss(lora_run):
    _, record = lora_run
    rows = [json.loads(line) for line in Path(record.curves_path).read_text().splitlines()]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    assert len(val) == 4
    assert record.best_val_loss < val[0] - 0.3  # clearly learned something on held-out examples
    train_rows = [r for r in rows if "train_loss" in r]
    assert len(train_rows) == 16
    assert {"lr", "grad_norm", "tokens_per_s", "peak_memory_mb"} <= set(train_rows[-1])
    speeds = [r["tokens_per_s"] for r in train_rows]  # every step reports its throughput
    assert min(speeds) > 0
    assert record.extra["mean_tokens_per_s"] == round(sum(speeds) / len(speeds), 1)
    assert record.extra["median_tokens_per_s"] == round(statistics.median(speeds), 1)
    if record.extra["device"] == "cpu":  # peak resident set size in MB: the process's own, never above it
        import resource

        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
        assert 50 < max(r["peak_memory_mb"] for r in rows) <= rss_mb + 0.1


def test_record_and_folder_carry_the_lineage(lora_run):
    workspace, record = lora_run
    stored = find_model(workspace.engine, "lora-tiny")
    assert stored == record
    assert stored.method == "lora" and stored.adapter is True and stored.steps == 16
    assert 0 < stored.trainable_params < stored.total_params
    folder = Path(stored.path)
    assert stored.adapter_size_bytes == (folder / "adapter_model.safetensors").stat().st_size
    assert 4 * stored.trainable_params <= stored.adapter_size_bytes  # fp32 weights of every trainable parameter
    import hashlib

    import peft
    import transformers

    assert stored.dataset_hashes == {key: hashlib.sha256(Path(stored.config[key]).read_bytes()).hexdigest()
                                     for key in ("train_file", "val_file")}
    assert (stored.package_versions["peft"], stored.package_versions["transformers"]) == (
        peft.__version__, transformers.__version__)
    assert stored.config["lora"]["r"] == 8 and stored.config["lr"] == 3e-3
    rows = [json.loads(line) for line in Path(stored.curves_path).read_text().splitlines()]
    train_losses = [r["train_loss"] for r in rows if "train_loss" in r]
    val_losses = [r["val_loss"] for r in rows if "val_loss" in r]
    assert stored.final_train_loss == train_losses[-1] and stored.final_val_loss == val_losses[-1]
    assert stored.best_val_loss == min(val_losses)
    # training spans the logged steps and fits inside the train() call around it
    assert rows[-1]["time"] - rows[0]["time"] - 0.01 <= stored.wall_time_s <= TRAIN_SECONDS["lora-tiny"] + 0.01
    for name in ("adapter_config.json", "adapter_model.safetensors", "train_config.json", "lineage.json",
                 "metrics.jsonl", "tokenizer.json"):
        assert (folder / name).exists(), name
    saved = json.loads((folder / "train_config.json").read_text())
    assert list(saved) == sorted(saved) and saved["name"] == "lora-tiny"
    assert find_model(workspace.engine, "nope") is None


def test_merged_logits_match_the_adapter_model(lora_run, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from harness.models.loading import load_for_generation, merge_adapter

    _, record = lora_run
    adapter_model, tokenizer = load_for_generation(record.path)
    merged_dir = merge_adapter(record.path, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    batch = tokenizer(["Extract name and city as JSON: Ada lives in Rome."], return_tensors="pt")
    with torch.no_grad():
        expected = adapter_model(**batch).logits
        got = merged(**batch).logits
    assert (expected - got).abs().max().item() < 1e-4
    base = AutoModelForCausalLM.from_pretrained(record.base_model_path).eval()
    with torch.no_grad():
        assert (base(**batch).logits - expected).abs().max().item() > 1e-3  # the adapter did change it


def test_merge_refuses_a_quantized_base(lora_run, tmp_path):
    import shutil

    from harness.errors import HarnessError
    from harness.models.loading import merge_adapter

    _, record = lora_run
    fake_base = tmp_path / "quantized-base"
    shutil.copytree(record.base_model_path, fake_base)
    config = json.loads((fake_base / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (fake_base / "config.json").write_text(json.dumps(config))
    with pytest.raises(HarnessError, match="quantized \\(bitsandbytes\\)") as info:
        merge_adapter(record.path, tmp_path / "out", base=str(fake_base))
    assert "full-precision" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_retraining_a_registered_name_needs_force(lora_run):
    from harness.errors import HarnessError
    from trainers.config import config_from_dict

    workspace, record = lora_run
    config = config_from_dict(record.config)
    with pytest.raises(HarnessError, match="already registered"):
        train(config, workspace, say=lambda _m: None)


@pytest.mark.gpu
@pytest.mark.skipif(not has_cuda(), reason="needs a CUDA GPU (bf16 LoRA)")
def test_lora_trains_in_bf16_on_a_gpu(tmp_path, tiny_model_dir, extract_files):
    from harness.models.loading import load_for_generation
    from trainers.config import config_from_dict

    config = config_from_dict({
        "name": "lora-gpu", "base_model": str(tiny_model_dir), "method": "lora",
        "train_file": str(extract_files["train"]), "val_file": str(extract_files["val"]),
        "batch_size": 8, "max_steps": 16, "eval_steps": 4, "warmup_steps": 0, "lr": 3e-3,
        "max_length": 128, "progress": False, "lora": {"r": 8, "alpha": 16, "target_modules": "all-linear"}})
    record = train(config, tmp_path, say=lambda _m: None)
    assert record.extra["device"] == "cuda" and record.extra["precision"] == "bf16"
    rows = [json.loads(line) for line in Path(record.curves_path).read_text().splitlines()]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    assert record.best_val_loss < val[0] - 0.3
    import torch

    # CUDA max allocated in MB: at least the bf16 weights, at most this process's peak so far
    peak = max(r["peak_memory_mb"] for r in rows)
    assert record.total_params * 2 / 2**20 <= peak <= torch.cuda.max_memory_allocated() / 2**20 + 0.1
    model, tokenizer = load_for_generation(record.path)
    base, _ = load_for_generation(record.base_model_path)
    batch = tokenizer(["Extract name and city as JSON: Ada lives in Rome."], return_tensors="pt")
    with torch.no_grad():  # the trained adapter loads back and changes the base model's outputs
        assert (model(**batch).logits.float() - base(**batch).logits.float()).abs().max().item() > 1e-3


def test_top_layers_adapts_only_the_last_layers_and_stops_gradients_below(make_config, tiny_model_dir):
    import torch
    from transformers import AutoTokenizer

    from harness.errors import ConfigError
    from trainers.lora import prepare_model

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = prepare_model(str(tiny_model_dir), make_config(lora={"top_layers": 1}), tokenizer)
    depth = model.config.num_hidden_layers
    adapted = {name.split(".layers.")[1].split(".")[0] for name, _ in model.named_parameters() if "lora_A" in name}
    assert adapted == {str(depth - 1)}
    kinds = {name.split(".")[-4] for name, _ in model.named_parameters() if "lora_A" in name}
    assert {"q_proj", "v_proj", "gate_proj", "down_proj"} <= kinds  # "all-linear" still means every projection
    ids = torch.tensor([tokenizer("hello there")["input_ids"]])
    out = model(input_ids=ids, labels=ids, output_hidden_states=True)
    # hidden_states[i] feeds layer i: nothing below the adapted layer is part of the backward graph.
    assert not any(h.requires_grad for h in out.hidden_states[:depth])
    assert out.hidden_states[depth].requires_grad
    out.loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if p.requires_grad)
    with pytest.raises(ConfigError, match="lora.top_layers"):
        prepare_model(str(tiny_model_dir), make_config(lora={"top_layers": depth + 1}), tokenizer)


def test_loraplus_trains_b_at_ratio_times_the_learning_rate(make_config, tiny_model_dir, tmp_path):
    import torch

    from trainers.data import as_features, load_examples, render_dataset
    from trainers.loading import load_tokenizer
    from trainers.loop import run_trainer
    from trainers.lora import prepare_model

    config = make_config(max_steps=3, eval_steps=3, lr=1e-3, lora={"plus_ratio": 16})
    tokenizer = load_tokenizer(str(tiny_model_dir))
    model = prepare_model(str(tiny_model_dir), config, tokenizer)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    features = as_features(render_dataset(tokenizer, load_examples(config.train_file), max_length=128)[0])
    trainer, outcome = run_trainer(model, tokenizer, features, features[:8], config, tmp_path)
    assert outcome.global_step == 3
    names = {id(p): n for n, p in model.named_parameters()}
    initial = {}
    for group in (g for g in trainer.optimizer.param_groups if g["params"]):  # peft keeps empty groups
        kinds = {"B" if "lora_B" in names[id(p)] else "A" for p in group["params"]}
        assert len(kinds) == 1, kinds  # A and B never share a group
        initial.setdefault(kinds.pop(), set()).add(group["initial_lr"])
    assert initial["A"] == {1e-3} and len(initial["B"]) == 1 and initial["B"].pop() == pytest.approx(1.6e-2)
    assert all(not torch.equal(before[n], p.detach()) for n, p in model.named_parameters() if p.requires_grad)
