"""The shared Trainer loop: early stopping, resume from checkpoint, the overfitting warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainers.api import train


def _rows(record) -> list[dict]:
    return [json.loads(line) for line in Path(record.curves_path).read_text().splitlines()]


def test_early_stopping_triggers_after_patience(make_config, tmp_path):
    # A vanishing learning rate leaves validation loss flat: no evaluation improves on the first by
    # more than the threshold, so training stops after exactly `patience` further evaluations.
    config = make_config(name="flat", lr=1e-9, max_steps=40, eval_steps=2, early_stopping_patience=2,
                         early_stopping_threshold=0.01)
    record = train(config, tmp_path, say=lambda _m: None)
    val = [r["val_loss"] for r in _rows(record) if "val_loss" in r]
    assert record.extra["stopped_early"] is True
    assert len(val) == 3 and record.steps == 6
    assert max(val) - min(val) < 0.01
    assert record.best_val_loss == min(val)


def test_training_runs_to_max_steps_without_patience(make_config, tmp_path):
    record = train(make_config(name="nostop", lr=1e-9, max_steps=6, eval_steps=2, early_stopping_patience=None),
                   tmp_path, say=lambda _m: None)
    assert record.extra["stopped_early"] is False and record.steps == 6


def test_resume_continues_from_the_last_checkpoint(make_config, tmp_path):
    first = train(make_config(name="resumable", max_steps=4, eval_steps=2), tmp_path, say=lambda _m: None)
    checkpoints = sorted(p.name for p in (Path(first.path) / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-2", "checkpoint-4"]
    second = train(make_config(name="resumable", max_steps=8, eval_steps=2, resume=True), tmp_path,
                   overwrite=True, say=lambda _m: None)
    steps = [r["step"] for r in _rows(second) if "train_loss" in r]
    assert steps == list(range(1, 9))  # steps 1-4 from the first run, 5-8 after resuming (no restart at 1)
    assert second.steps == 8
    state = json.loads((Path(second.path) / "checkpoints" / "checkpoint-8" / "trainer_state.json").read_text())
    assert state["global_step"] == 8


def test_existing_unfinished_folder_needs_resume_or_force(make_config, tmp_path):
    import pytest

    from harness.errors import HarnessError

    (tmp_path / "models" / "half").mkdir(parents=True)
    (tmp_path / "models" / "half" / "metrics.jsonl").write_text("")
    with pytest.raises(HarnessError, match="unfinished run"):
        train(make_config(name="half"), tmp_path, say=lambda _m: None)


class _State:
    is_world_process_zero = True
    num_input_tokens_seen = 0
    epoch = 0.0
    global_step = 0


def _feed(logger, history: list[tuple[float, float]]) -> None:
    """Log one training loss then one validation loss per step, as the Trainer does, then end training."""
    state = _State()
    logger.on_train_begin(None, state, None)
    for step, (train_loss, val_loss) in enumerate(history, start=1):
        state.global_step = step
        logger.on_log(None, state, None, logs={"loss": train_loss})
        logger.on_log(None, state, None, logs={"eval_loss": val_loss})
    logger.on_train_end(None, state, None)


def test_overfitting_warning_when_val_rises_while_train_falls(tmp_path):
    from trainers.loop import make_metrics_logger

    warnings: list[str] = []
    logger = make_metrics_logger(tmp_path / "m.jsonl", append=False, warn=warnings.append)
    _feed(logger, [(2.0, 1.5), (1.5, 1.4), (1.0, 1.5), (0.8, 1.6)])
    assert len(warnings) == 1 and "1.4000 -> 1.6000" in warnings[0] and "since step 2" in warnings[0]
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [r.get("warning") for r in rows if "val_loss" in r] == [None, None, None, "overfitting"]
    assert logger.overfitting_warned is True


# (train loss, val loss) per evaluation; expected call of the one rule on the whole log
HISTORIES = {
    "single small rise": ([(2.0, 1.5), (1.5, 1.4), (1.0, 1.41)], False),
    "single large rise": ([(2.0, 1.5), (1.5, 1.4), (1.0, 1.9)], False),
    "two rises past tolerance": ([(2.0, 1.5), (1.5, 1.4), (1.0, 1.45), (0.8, 1.5)], True),
    "two tiny rises": ([(2.0, 1.5), (1.5, 1.4), (1.0, 1.401), (0.8, 1.402)], False),
    "rises while training loss rises": ([(1.0, 1.5), (1.2, 1.4), (1.4, 1.45), (1.6, 1.5)], False),
    "rises then a new best": ([(2.0, 1.5), (1.5, 1.4), (1.0, 1.45), (0.8, 1.5), (0.7, 1.3)], False),
}


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_loop_and_compare_make_the_same_overfitting_call(tmp_path, name):
    # The registry records the loop's overfitting_warned, harness compare reads metrics.jsonl with the
    # stats rule: fed the same history they must agree (they used to differ on a single small rise).
    from harness.stats.overfitting import overfitting_signal, read_training_log
    from trainers.loop import make_metrics_logger

    history, expected = HISTORIES[name]
    warnings: list[str] = []
    logger = make_metrics_logger(tmp_path / "metrics.jsonl", append=False, warn=warnings.append)
    _feed(logger, history)
    from_log = overfitting_signal(*read_training_log(tmp_path / "metrics.jsonl"))
    assert logger.overfitting_warned is from_log.flagged is expected
    if name == "single small rise":
        assert warnings == []
    if name == "rises then a new best":  # warned at the time, cleared by the later improvement
        assert len(warnings) == 1 and logger.overfitting_warned is False


def test_resumed_logger_judges_the_whole_log(tmp_path):
    from harness.stats.overfitting import overfitting_signal, read_training_log
    from trainers.loop import make_metrics_logger

    path = tmp_path / "metrics.jsonl"
    _feed(make_metrics_logger(path, append=False, warn=lambda _m: None), [(2.0, 1.5), (1.5, 1.4), (1.0, 1.45)])
    resumed = make_metrics_logger(path, append=True, warn=lambda _m: None)
    state = _State()
    resumed.on_train_begin(None, state, None)
    state.global_step = 4
    resumed.on_log(None, state, None, logs={"loss": 0.8})
    resumed.on_log(None, state, None, logs={"eval_loss": 1.5})
    resumed.on_train_end(None, state, None)
    assert resumed.overfitting_warned is True  # the rises before and after the restart count together
    assert overfitting_signal(*read_training_log(path)).flagged is True


def _trainer(model, tokenizer, make_config, folder):
    from trainers.loop import _assistant_trainer_class, training_arguments

    return _assistant_trainer_class()(model=model, args=training_arguments(make_config(), folder),
                                      processing_class=tokenizer, eval_dataset=[{}])


def _sliced_and_default_loss(model, tokenizer, batch, tmp_path, make_config, **kwargs):
    trainer = _trainer(model, tokenizer, make_config, tmp_path / "ck")
    trainer.shared_prefix = False
    sliced = trainer.compute_loss(model, dict(batch), **kwargs)
    sliced_flag = trainer.sliced_loss
    trainer.sliced_loss = False
    default = trainer.compute_loss(model, dict(batch), **kwargs)
    return sliced_flag, sliced, default


def _batch(tokenizer):
    from tests.trainers.conftest import extraction_examples
    from trainers.data import PaddingCollator, as_features, render_dataset

    rows = extraction_examples(5, seed=7)
    rows[0]["messages"][1]["content"] += " and a much longer answer so that lengths differ"
    rendered, _ = render_dataset(tokenizer, rows, max_length=256)
    return PaddingCollator(pad_id=tokenizer.pad_token_id)(as_features(rendered))


def test_sliced_and_shared_prefix_losses_equal_the_default_loss_and_gradients(tiny_model_dir, make_config, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    batch = _batch(tokenizer)
    assert (batch["labels"] == -100).any(dim=1).all()  # prompts and padding are masked out
    for kwargs in ({}, {"num_items_in_batch": torch.tensor(57)}):
        sliced_flag, sliced, default = _sliced_and_default_loss(model, tokenizer, batch, tmp_path, make_config,
                                                                **kwargs)
        assert sliced_flag is True
        torch.testing.assert_close(sliced, default, rtol=1e-5, atol=1e-6)
    from trainers.loop import _shared_prefix

    keep = (batch["labels"][:, 1:] != -100).any(dim=0).nonzero().flatten()
    assert _shared_prefix({k: v for k, v in batch.items() if k != "labels"}, keep) >= 8  # the chat template and instruction open every row
    params = [p for p in model.parameters() if p.requires_grad]
    losses, grads = [], []
    for use_slice, share in ((False, False), (True, False), (True, True)):
        model.zero_grad()
        trainer = _trainer(model, tokenizer, make_config, tmp_path / "g")
        trainer.sliced_loss, trainer.shared_prefix = use_slice, share
        loss = trainer.compute_loss(model, dict(batch))
        loss.backward()
        losses.append(loss.detach())
        grads.append([p.grad.clone() for p in params])
    for other_loss, other_grads in zip(losses[1:], grads[1:], strict=True):
        torch.testing.assert_close(other_loss, losses[0], rtol=1e-5, atol=1e-6)
        for a, b in zip(other_grads, grads[0], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_prompt_tuning_keeps_the_default_loss(tiny_model_dir, make_config, tmp_path):
    from peft import PromptTuningConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    sliced_flag, sliced, default = _sliced_and_default_loss(model, tokenizer, _batch(tokenizer), tmp_path,
                                                            make_config)
    assert sliced_flag is False
    assert float(sliced) == float(default)


def test_shared_prefix_falls_back_to_the_full_batch_without_a_cache():
    import torch

    from trainers.loop import _forward_with_shared_prefix

    calls = []

    class Output:
        cache = past_key_values = None  # e.g. a model that keeps no transformers Cache

    def model(**kwargs):
        calls.append(kwargs)
        return Output()

    inputs = {"input_ids": torch.zeros(3, 12, dtype=torch.long), "attention_mask": torch.ones(3, 12)}
    _forward_with_shared_prefix(model, inputs, 8, torch.tensor([9, 10]), cache_argument="cache")
    assert calls[0]["input_ids"].shape == (1, 8)  # the prefix pass
    assert calls[1]["input_ids"].shape == (3, 12) and not {"cache", "past_key_values"} & set(calls[1])
    assert calls[1]["logits_to_keep"].tolist() == [9, 10]
