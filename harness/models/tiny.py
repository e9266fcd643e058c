"""A tiny Llama-architecture chat model built offline, for tests and benchmarks.

``build_tiny_model(dir)`` trains a byte-level BPE tokenizer with ``tokenizers``, wraps it with a
ChatML chat template, creates a 2-layer Llama from a config and gives it a short causal-LM
pretraining on chat-formatted text (so that LoRA has something to adapt). The folder loads back
with ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained(dir)`` like any hub model.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

TINY_VERSION = 1  # bump when the recipe changes, so cached models are rebuilt

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"]

_FALLBACK_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Please reset my password, I cannot log in to my account.",
    'Extract the fields as JSON: {"name": "Ada", "city": "London"}',
    "Billing question: why was I charged twice this month?",
    "Water boils at 100 degrees Celsius at sea level.",
]


def default_corpus(limit: int = 4000) -> list[str]:
    """Chat-formatted texts from the bundled eval sets' training splits (fallback: a few sentences)."""
    root = _evalsets_root()
    texts: list[str] = []
    for path in sorted(root.glob("*/train.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    messages = json.loads(line)["messages"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
                texts.append(render_chatml(messages))
    random.Random(0).shuffle(texts)
    return texts[:limit] or list(_FALLBACK_TEXTS)


def render_chatml(messages: Sequence[dict]) -> str:
    """Render messages the way :data:`CHAT_TEMPLATE` does (used for the pretraining corpus)."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def build_tiny_model(
    out_dir: str | os.PathLike[str],
    *,
    texts: Iterable[str] | None = None,
    vocab_size: int = 1024,
    hidden_size: int = 128,
    layers: int = 2,
    heads: int = 4,
    max_positions: int = 1024,
    pretrain_steps: int = 300,
    seed: int = 0,
) -> Path:
    """Build, pretrain briefly and save a tiny chat model in ``out_dir``; returns the folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = list(texts) if texts is not None else default_corpus()
    torch.manual_seed(seed)
    random.seed(seed)

    raw = Tokenizer(models.BPE(unk_token=None))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(
        corpus,
        trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        pad_token="<|pad|>",
        eos_token="<|im_end|>",
        bos_token=None,
        unk_token=None,
        model_max_length=max_positions,
        padding_side="left",
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 3,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    if pretrain_steps > 0:
        _pretrain(model, tokenizer, corpus, steps=pretrain_steps, seed=seed)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _pretrain(model, tokenizer, corpus: list[str], *, steps: int, seed: int, batch_size: int = 16,
              max_length: int = 192, lr: float = 3e-3) -> None:
    """A plain causal-LM loop: enough to give the tiny model the shape of chat text."""
    import torch

    generator = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 20) * max(0.05, 1 - step / steps))
    model.train()
    tokenizer.padding_side = "right"
    for _ in range(steps):
        batch = tokenizer(generator.sample(corpus, min(batch_size, len(corpus))), return_tensors="pt",
                          padding=True, truncation=True, max_length=max_length)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    tokenizer.padding_side = "left"
    model.eval()


def cache_root() -> Path:
    """Per-user cache folder for built models (``$HARNESS_CACHE`` or ``~/.cache/harness``)."""
    return Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")


def cached_tiny_model(**kwargs) -> Path:
    """Build the tiny model once per recipe and corpus, and return its cached folder.

    With the default corpus the cache key names which bundled sets fed it, not their exact text:
    regenerating the eval sets (as their generator is tuned) must not make every test session
    rebuild the model. Bump :data:`TINY_VERSION` to force a rebuild.
    """
    texts = kwargs.pop("texts", None)
    corpus = list(texts) if texts else default_corpus()
    corpus_key: object = corpus if texts else ["default", *_default_corpus_sources()]
    key = hashlib.sha256(json.dumps([TINY_VERSION, sorted(kwargs.items()), corpus_key]).encode()).hexdigest()[:12]
    target = cache_root() / f"tiny-{key}"
    if _is_built(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time per recipe: concurrent test sessions wait for it instead of each spending
    # minutes of a shared CPU on the same model (an OS file lock, released if the builder dies).
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # not on POSIX: fall back to racing, the rename below keeps one result
            pass
        if _is_built(target):
            return target
        import shutil

        # Holding the lock, any other staging folder is a dead builder's leftover (killed mid-build).
        for stale in target.parent.glob(target.name + ".building-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = target.with_name(target.name + f".building-{os.getpid()}")
        try:
            build_tiny_model(staging, texts=corpus, **kwargs)
        except BaseException:  # a failed or interrupted build leaves nothing behind
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first: keep theirs
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _evalsets_root() -> Path:
    import evalsets

    return evalsets.ROOT


def _default_corpus_sources() -> list[str]:
    root = _evalsets_root()
    return sorted(p.parent.name for p in root.glob("*/train.jsonl"))


def _is_built(target: Path) -> bool:
    return (target / "config.json").exists() and (target / "tokenizer.json").exists()
