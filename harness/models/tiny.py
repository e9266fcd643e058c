"""A tiny Llama-architecture chat model built offline, for tests and benchmarks.

``build_tiny_model(dir)`` trains a byte-level BPE tokenizer with ``tokenizers``, wraps it with a
ChatML chat template, creates a 2-layer Llama from a config and gives it a short causal-LM
pretraining on chat-formatted text (so that LoRA has something to adapt). The folder loads back
with ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained(dir)`` like any hub model.

The build is the first thing a fresh checkout does (``harness demo --fast``, the test session), so
it is budgeted: under a minute on 2 busy CPU cores (``bench/bench_tiny.py``). See
:class:`PretrainRecipe` for where that time went and what the recipe keeps.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

TINY_VERSION = 2  # bump when the build code changes; changed defaults already change the cache key


@dataclass(frozen=True)
class PretrainRecipe:
    """The short causal-LM pretraining of the tiny model.

    Measured on 2 CPU cores shared with other jobs (issue 16): the matrices of a 128-wide model are
    too small to split across threads, and with a second busy process on the cores two torch
    threads spin at their barriers (2.7 s per step against 0.48 s on one thread). Texts are
    packed end to end into full rows, so no step is spent on padding (the texts average 113
    tokens; rows padded to the longest of 16 wasted about 45%). Smaller batches at a higher
    learning rate reach a given loss in fewer tokens: 200 steps of 8 x 128 tokens (~40 s with the
    imports) give LoRA as much to learn as the former 300 padded steps of 16 (6-7 min when shared).
    """

    batch_size: int = 8
    seq_len: int = 128
    lr: float = 7e-3
    beta2: float = 0.95
    warmup_steps: int = 13
    threads: int = 1


PRETRAIN = PretrainRecipe()

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
    pretrain_steps: int = 200,
    seed: int = 0,
) -> Path:
    """Build, pretrain briefly (:data:`PRETRAIN`) and save a tiny chat model in ``out_dir``; returns the folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = list(texts) if texts is not None else default_corpus()
    if not any(text.strip() for text in corpus):
        from harness.errors import HarnessError

        raise HarnessError("the tiny model needs some text to train its tokenizer and pretrain on",
                           hint="pass non-empty texts, or none for the bundled eval sets' training splits")
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


# build_tiny_model's own defaults, read once (a test may swap the function for a fake)
_BUILD_DEFAULTS = {name: parameter.default for name, parameter in inspect.signature(build_tiny_model).parameters.items()
                   if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "texts"}


def _pretrain(model, tokenizer, corpus: list[str], *, steps: int, seed: int,
              recipe: PretrainRecipe = PRETRAIN) -> None:
    """A plain causal-LM loop over packed rows: enough to give the tiny model the shape of chat text."""
    import torch

    rows = _packed_rows(tokenizer, corpus, recipe.seq_len)
    per_step = min(recipe.batch_size, len(rows))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=(0.9, recipe.beta2), weight_decay=0.0)
    warmup = max(1, min(recipe.warmup_steps, steps // 4))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.05, 1 - step / steps))
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    model.train()
    try:
        order, position = torch.randperm(len(rows), generator=generator), 0
        for _ in range(steps):
            if position + per_step > len(order):  # next pass over the rows, in a new order
                order, position = torch.randperm(len(rows), generator=generator), 0
            batch = rows[order[position:position + per_step]]
            position += per_step
            model(input_ids=batch, labels=batch).loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
    finally:
        torch.set_num_threads(threads)
        model.eval()


def _packed_rows(tokenizer, corpus: list[str], seq_len: int):
    """The corpus's token ids laid end to end and cut into rows of ``seq_len`` (a tensor [rows, seq_len]).

    Every text ends with ``<|im_end|>\n``, so a row that spans two texts still reads as a chat;
    a corpus shorter than one row becomes one shorter row.
    """
    import torch

    stream = [token for ids in tokenizer(corpus, add_special_tokens=False)["input_ids"] for token in ids]
    length = min(seq_len, len(stream))
    usable = len(stream) // length * length
    return torch.tensor(stream[:usable], dtype=torch.long).view(-1, length)


def cache_root() -> Path:
    """Per-user cache folder for built models (``$HARNESS_CACHE`` or ``~/.cache/harness``)."""
    return Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")


def cached_tiny_model(**kwargs) -> Path:
    """Build the tiny model once per recipe and corpus, and return its cached folder.

    The cache key covers the whole recipe: :data:`TINY_VERSION`, every argument of
    :func:`build_tiny_model` with its default filled in, and :data:`PRETRAIN`, so changing a default
    rebuilds the model instead of reusing one built by another recipe. With the default corpus the
    key names which bundled sets fed it, not their exact text: regenerating the eval sets (as their
    generator is tuned) must not make every test session rebuild the model.
    """
    texts = kwargs.pop("texts", None)
    corpus = list(texts) if texts else default_corpus()
    corpus_key: object = corpus if texts else ["default", *_default_corpus_sources()]
    target = cache_root() / f"tiny-{recipe_key(corpus_key, **kwargs)}"
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


def recipe_key(corpus_key: object, **kwargs) -> str:
    """A 12-hex-digit hash of the build recipe (version, all build arguments, pretraining) and ``corpus_key``."""
    arguments = dict(_BUILD_DEFAULTS)
    unknown = set(kwargs) - set(arguments)
    if unknown:
        raise TypeError(f"build_tiny_model() got unexpected arguments {sorted(unknown)}")
    arguments.update(kwargs)
    recipe = [TINY_VERSION, sorted(arguments.items()), sorted(asdict(PRETRAIN).items()), corpus_key]
    return hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:12]


def _evalsets_root() -> Path:
    import evalsets

    return evalsets.ROOT


def _default_corpus_sources() -> list[str]:
    root = _evalsets_root()
    return sorted(p.parent.name for p in root.glob("*/train.jsonl"))


def _is_built(target: Path) -> bool:
    return (target / "config.json").exists() and (target / "tokenizer.json").exists()
