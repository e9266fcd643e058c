"""Chat rendering with the assistant-only loss mask, overlength policies and the collator."""

from __future__ import annotations

import pytest

from harness.errors import DataError
from trainers.data import IGNORE_INDEX, PaddingCollator, render_conversation, render_dataset

CONVERSATION = [
    {"role": "system", "content": "Reply with JSON."},
    {"role": "user", "content": "Ada lives in Paris."},
    {"role": "assistant", "content": '{"name": "Ada"}'},
    {"role": "user", "content": "And Bob?"},
    {"role": "assistant", "content": '{"name": "Bob"}'},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _learned_text(tokenizer, rendered) -> str:
    return tokenizer.decode([t for t, label in zip(rendered.input_ids, rendered.labels, strict=True)
                             if label != IGNORE_INDEX])


def test_loss_mask_covers_assistant_turns_and_their_end_tokens_only(tokenizer):
    rendered = render_conversation(tokenizer, CONVERSATION, example_id="c1")
    assert len(rendered.input_ids) == len(rendered.labels)
    learned = _learned_text(tokenizer, rendered)
    assert learned == '{"name": "Ada"}<|im_end|>\n{"name": "Bob"}<|im_end|>\n'
    assert "Paris" not in learned and "user" not in learned and "Reply" not in learned
    eos_positions = [i for i, t in enumerate(rendered.input_ids) if t == tokenizer.eos_token_id]
    masked_eos = [i for i in eos_positions if rendered.labels[i] == tokenizer.eos_token_id]
    assert len(masked_eos) == 2  # one per assistant turn; the user/system EOS tokens stay unlearned
    assert len(eos_positions) == 5


def test_template_that_drops_eos_from_assistant_turns_is_caught(tokenizer):
    tokenizer = type(tokenizer).from_pretrained(tokenizer.name_or_path)
    tokenizer.chat_template = (
        "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
        "{% if message['role'] != 'assistant' %}<|im_end|>{% endif %}\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    with pytest.raises(DataError, match="EOS token .* not|no end-of-turn/EOS token") as info:
        render_conversation(tokenizer, CONVERSATION, example_id="bad-1")
    assert "bad-1" in str(info.value) and "never learn to stop" in str(info.value)


def test_example_without_assistant_turn_is_an_error(tokenizer):
    with pytest.raises(DataError, match="no assistant message"):
        render_conversation(tokenizer, CONVERSATION[:2], example_id="x")


def _examples(n_long: int, n_short: int) -> list[dict]:
    long = "word " * 300
    rows = [{"id": f"long{i}", "messages": [{"role": "user", "content": long},
                                             {"role": "assistant", "content": "ok"}]} for i in range(n_long)]
    rows += [{"id": f"short{i}", "messages": [{"role": "user", "content": "hi"},
                                               {"role": "assistant", "content": "ok " + long}]}
             for i in range(n_short)]
    return rows + [{"id": "tiny", "messages": [{"role": "user", "content": "hi"},
                                               {"role": "assistant", "content": "yes"}]}]


def test_overlength_drop_counts_dropped_examples(tokenizer):
    kept, report = render_dataset(tokenizer, _examples(2, 1), max_length=64, overlength="drop")
    assert [e.id for e in kept] == ["tiny"]
    assert report.dropped_overlength == 3 and report.kept == 1 and report.total == 4
    assert set(report.dropped_ids) == {"long0", "long1", "short0"}


def test_overlength_truncate_keeps_examples_with_assistant_tokens_left(tokenizer):
    kept, report = render_dataset(tokenizer, _examples(2, 1), max_length=64, overlength="truncate")
    # The long user turns leave no assistant token within 64 tokens: dropped and counted as such.
    assert sorted(e.id for e in kept) == ["short0", "tiny"]
    assert report.truncated == 3 and report.dropped_no_assistant_after_truncation == 2
    rows = {row["id"]: row for row in _examples(2, 1)}
    for e in kept:  # truncation keeps the first 64 tokens of the full rendering, labels included
        full = render_conversation(tokenizer, rows[e.id]["messages"], example_id=e.id)
        assert (e.input_ids, e.labels) == (full.input_ids[:64], full.labels[:64]) and e.assistant_tokens > 0
    assert len(next(e for e in kept if e.id == "short0").input_ids) == 64  # cut at max_length


def test_overlength_error_names_the_example(tokenizer):
    with pytest.raises(DataError, match="long0.*max_length=64"):
        render_dataset(tokenizer, _examples(1, 0), max_length=64, overlength="error")


def test_collator_pads_right_with_ignored_labels():
    batch = PaddingCollator(pad_id=0)([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]},
                                       {"input_ids": [8], "labels": [8]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_smollm2_style_template_with_default_system_prompt(tokenizer):
    """SmolLM2's template injects a system prompt when none is given; the mask must still be exact."""
    tokenizer = type(tokenizer).from_pretrained(tokenizer.name_or_path)
    tokenizer.chat_template = (
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are a helpful AI assistant<|im_end|>\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    rendered = render_conversation(tokenizer, CONVERSATION[1:3], example_id="s")
    assert _learned_text(tokenizer, rendered) == '{"name": "Ada"}<|im_end|>\n'


def test_mix_in_makes_general_examples_the_requested_fraction():
    from trainers.data import mix_in

    train = [{"id": f"t{i}"} for i in range(85)]
    general = [{"id": f"g{i}"} for i in range(10)]
    mixed, added = mix_in(train, general, 0.15, seed=0)
    assert added == 15 and len(mixed) == 100
    assert sum(1 for row in mixed if row["id"].startswith("g")) == 15
    assert mix_in(train, general, 0.15, seed=0)[0] == mixed  # deterministic for a seed
    assert mix_in(train, general, 0.0, seed=0) == (train, 0)


def test_load_splits_holds_out_validation_and_mixes_in_general(make_config, extract_files, tmp_path):
    import json

    from trainers.api import load_splits

    general = tmp_path / "general.jsonl"
    general.write_text("".join(json.dumps({"id": f"g{i}", "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n" for i in range(5)))
    config = make_config(val_file=None, val_fraction=0.25, mix={"fraction": 0.2, "file": str(general)})
    train, val, info = load_splits(config)
    assert len(val) == 24 and info["mix_in_added"] == 18 and len(train) == 72 + 18
    assert not {r["id"] for r in val} & {r["id"] for r in train}
