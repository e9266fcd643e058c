"""Greedy decoding with continuous batching over a slot KV cache, the shared prompt prefix prefilled once.

Plain batched ``model.generate`` decodes every batch until its longest row is done: on the bundled
``extract`` set half of the answers stop early, and their rows keep burning compute. Here a batch
has ``slots`` rows; a row that ends (EOS or ``max_new_tokens``) leaves at once and the next prompt
takes its place, so the work is the sum of the answers' lengths, not batches x the longest.

How it stays exact: every row's keys/values live in one preallocated buffer per layer (``[slots,
kv_heads, capacity, head_dim]``), right-aligned at a common write column. A boolean mask per row marks
its own columns (left of them: padding or an earlier occupant's stale entries), and each row carries
its own position id, so a row sees exactly the tokens of its own prompt, at the positions it would
have in a one-prompt ``model.generate``; masked columns get zero attention weight. The longest token
prefix shared by all prompts (the system prompt, the few-shot turns) is run once and its keys/values
copied into every new row, which then prefills only its own suffix. What can differ from a one-prompt
``model.generate`` is only floating-point summation order (other matmul shapes), as with any padded
batch; the tests and ``bench/bench_lm_eval.py`` check the greedy outputs are identical.

Only for greedy decoding of an SDPA-attention, full-attention decoder with its KV cache (the
transformers backend falls back to ``model.generate`` otherwise: sampling, prompt tuning, other
attention implementations).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MIN_SHARED_PREFIX = 8  # tokens; a shorter common prefix is not worth a separate prefill


@dataclass
class RowResult:
    """One prompt's answer: new token ids (EOS excluded), why it ended and its measured latency.

    ``finish``: ``"stop"`` (EOS), ``"length"`` (``max_new_tokens``, or cancelled mid-answer) or
    ``"cancelled"`` (never started: ``should_stop`` fired first). ``latency_s``: from the start of this
    row's prefill to its last token (its own wall time in the shared batch, queueing excluded).
    """

    tokens: list[int] = field(default_factory=list)
    finish: str = "cancelled"
    latency_s: float = 0.0


def supports_continuous(model: Any) -> bool:
    """True when ``model`` is a decoder this module can drive (SDPA attention, full attention, KV cache)."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    if getattr(config, "sliding_window", None) or getattr(config, "use_sliding_window", False):
        return False
    layer_types = getattr(config, "layer_types", None)
    if layer_types and any(t != "full_attention" for t in layer_types):
        return False
    import inspect

    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    if not {"cache", "position_ids", "logits_to_keep"} <= set(params):
        return False
    return all(hasattr(config, a) for a in ("num_hidden_layers", "num_attention_heads", "hidden_size"))


def shared_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    """Length of the longest common token prefix of ``prompts``, leaving each at least one token of its own."""
    if len(prompts) < 2:
        return 0
    first, limit = prompts[0], min(len(p) for p in prompts) - 1
    n = 0
    while n < limit and all(p[n] == first[n] for p in prompts):
        n += 1
    return n if n >= MIN_SHARED_PREFIX else 0


@dataclass
class _Row:
    index: int  # position in the caller's prompt list
    position: int  # position id of the next input token
    start_col: int  # first buffer column holding this row's keys/values
    started: float
    next_token: int = 0
    result: RowResult = field(default_factory=RowResult)


class _SlotKV:
    """Preallocated keys/values for all layers plus the per-row column mask and the shared window."""

    def __init__(self, model: Any, slots: int, capacity: int, first_end: int) -> None:
        import torch

        config = model.config
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        param = next(model.parameters())
        shape = (slots, heads, capacity, head_dim)
        self.keys = [torch.zeros(shape, dtype=param.dtype, device=param.device) for _ in range(config.num_hidden_layers)]
        self.values = [torch.zeros(shape, dtype=param.dtype, device=param.device) for _ in range(config.num_hidden_layers)]
        self.mask = torch.zeros((slots, capacity), dtype=torch.bool, device=param.device)
        self.capacity = capacity
        self.rows = 0  # rows [0, rows) are live
        self.start = first_end  # live window [start, end): every live row's columns lie inside it
        self.end = first_end

    def cache(self, config: Any) -> Any:
        """A transformers ``Cache`` whose ``update`` writes one decode step into the buffers."""
        from transformers import DynamicCache

        slot = self

        class _StepCache(DynamicCache):
            def update(self, key_states: Any, value_states: Any, layer_idx: int, *args: Any, **kwargs: Any) -> Any:
                n, end, width = slot.rows, slot.end, key_states.shape[-2]
                slot.keys[layer_idx][:n, :, end:end + width] = key_states
                slot.values[layer_idx][:n, :, end:end + width] = value_states
                return (slot.keys[layer_idx][:n, :, slot.start:end + width],
                        slot.values[layer_idx][:n, :, slot.start:end + width])

            def get_seq_length(self, layer_idx: int = 0) -> int:
                return slot.end - slot.start

        return _StepCache(config=config)

    def make_room(self, rows: list[_Row], needed_left: int, needed_right: int) -> None:
        """Shift the live window (and ``rows``' columns) so ``needed_left`` columns fit left of ``end``, ``needed_right`` right."""
        if self.end - needed_left >= 0 and self.end + needed_right <= self.capacity:
            return
        width = self.end - self.start
        new_end = max(width, needed_left)
        if new_end + needed_right > self.capacity:
            raise RuntimeError("slot cache capacity exceeded")  # capacity is sized so this cannot happen
        new_start = new_end - width
        for buf in (*self.keys, *self.values):
            buf[:self.rows, :, new_start:new_end] = buf[:self.rows, :, self.start:self.end].clone()
        live = self.mask[:self.rows, self.start:self.end].clone()
        self.mask[:self.rows] = False
        self.mask[:self.rows, new_start:new_end] = live
        for row in rows:
            row.start_col += new_end - self.end
        self.start, self.end = new_start, new_end

    def move_row(self, src: int, dst: int) -> None:
        """Copy row ``src``'s live window into slot ``dst`` (used to keep live rows packed at the front)."""
        s, e = self.start, self.end
        for buf in (*self.keys, *self.values):
            buf[dst, :, s:e] = buf[src, :, s:e]
        self.mask[dst] = self.mask[src]


def greedy_continuous(model: Any, prompts: Sequence[Sequence[int]], *, slots: int, max_new_tokens: int,
                      eos_ids: set[int], pad_id: int = 0,
                      should_stop: Callable[[], bool] | None = None,
                      on_done: Callable[[int], None] | None = None) -> list[RowResult]:
    """Greedy answers to ``prompts`` (token-id lists), ``slots`` rows decoding at a time; returns them in order.

    Prompts are admitted shortest first (rows of similar length share the window). ``should_stop``
    is checked before every step; once it returns True, running rows end with ``finish="length"``
    and prompts not yet started get ``finish="cancelled"``. ``on_done(i)`` is called as prompt ``i``'s
    answer is complete (for progress reporting).
    """
    import torch

    results = [RowResult() for _ in prompts]
    if not prompts or max_new_tokens <= 0:
        for r in results:
            r.finish = "length"
        return results
    slots = max(1, min(slots, len(prompts)))
    prefix = shared_prefix_length(prompts)
    pending = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
    longest = max(len(p) for p in prompts)
    margin = 64
    kv = _SlotKV(model, slots, capacity=longest + max_new_tokens + margin, first_end=longest)
    device = kv.mask.device
    rows: list[_Row] = []

    with torch.inference_mode():
        prefix_kv = _prefill_prefix(model, list(prompts[0][:prefix]), device) if prefix else None
        step_cache = kv.cache(model.config)
        while pending or rows:
            if should_stop is not None and should_stop():
                break
            if pending and len(rows) < slots:
                take = pending[:slots - len(rows)]
                del pending[:len(take)]
                _admit(model, kv, rows, take, prompts, prefix, prefix_kv, pad_id, device)
                _retire(kv, rows, results, eos_ids, max_new_tokens, on_done, first=True)
                if not rows:
                    continue
            kv.make_room(rows, 0, 1)
            n = len(rows)
            kv.mask[:n, kv.end] = True
            input_ids = torch.tensor([[r.next_token] for r in rows], device=device)
            position_ids = torch.tensor([[r.position] for r in rows], device=device)
            mask = kv.mask[:n, None, None, kv.start:kv.end + 1]
            out = model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, cache=step_cache,
                        use_cache=True, logits_to_keep=1)
            kv.end += 1
            chosen = out.logits[:, -1].argmax(dim=-1).tolist()
            for row, token in zip(rows, chosen, strict=True):
                row.position += 1
                row.next_token = token
            _retire(kv, rows, results, eos_ids, max_new_tokens, on_done, first=False)
            if rows:
                kv.start = min(r.start_col for r in rows)
    now = time.perf_counter()
    for row in rows:  # cancelled mid-answer
        row.result.finish = "length"
        row.result.latency_s = now - row.started
        results[row.index] = row.result
    return results


def _prefill_prefix(model: Any, prefix: list[int], device: Any) -> Any:
    import torch

    out = model(input_ids=torch.tensor([prefix], device=device), use_cache=True, logits_to_keep=1)
    return [(layer.keys, layer.values) for layer in out.cache.layers]


def _admit(model: Any, kv: _SlotKV, rows: list[_Row], take: list[int], prompts: Sequence[Sequence[int]],
           prefix: int, prefix_kv: Any, pad_id: int, device: Any) -> None:
    """Prefill the prompts ``take`` (their suffix after the shared prefix) and place them in free slots."""
    import torch
    from transformers import DynamicCache

    started = time.perf_counter()
    suffixes = [list(prompts[i][prefix:]) for i in take]
    width = max(len(s) for s in suffixes)
    k = len(take)
    ids = torch.tensor([[pad_id] * (width - len(s)) + s for s in suffixes], device=device)
    real = torch.tensor([[False] * (width - len(s)) + [True] * len(s) for s in suffixes], device=device)
    total = prefix + width
    # query i (at column prefix+i) sees real columns up to itself; every query sees itself (no empty rows)
    keys_real = torch.cat([torch.ones((k, prefix), dtype=torch.bool, device=device), real], dim=1)
    causal = torch.ones((width, total), dtype=torch.bool, device=device).tril(diagonal=prefix)
    mask = (causal[None] & keys_real[:, None, :])
    mask[:, torch.arange(width), prefix + torch.arange(width)] = True
    positions = (prefix + real.long().cumsum(dim=1) - 1).clamp(min=0)
    cache = None
    if prefix_kv is not None:
        cache = DynamicCache(ddp_cache_data=[(kk.expand(k, -1, -1, -1), vv.expand(k, -1, -1, -1))
                                             for kk, vv in prefix_kv], config=model.config)
    out = model(input_ids=ids, attention_mask=mask[:, None], position_ids=positions, cache=cache,
                use_cache=True, logits_to_keep=1)
    first = out.logits[:, -1].argmax(dim=-1).tolist()
    kv.make_room(rows, total, 1)
    col = kv.end - total
    base = len(rows)
    for layer, (keys, values) in zip(range(len(kv.keys)), ((lay.keys, lay.values) for lay in out.cache.layers),
                                     strict=True):
        kv.keys[layer][base:base + k, :, col:kv.end] = keys
        kv.values[layer][base:base + k, :, col:kv.end] = values
    kv.mask[base:base + k] = False
    kv.mask[base:base + k, col:kv.end] = keys_real
    kv.rows = base + k
    kv.start = min(kv.start, col)
    for j, index in enumerate(take):
        own = len(suffixes[j])
        rows.append(_Row(index=index, position=prefix + own, start_col=col if prefix else col + width - own,
                         started=started, next_token=first[j]))


def _retire(kv: _SlotKV, rows: list[_Row], results: list[RowResult], eos_ids: set[int], max_new_tokens: int,
            on_done: Callable[[int], None] | None, *, first: bool) -> None:
    """Record each row's newest token; move finished rows out, keeping live rows packed in slots [0, n)."""
    now = time.perf_counter()
    i = 0
    while i < len(rows):
        row = rows[i]
        if first and row.result.tokens:
            i += 1
            continue
        done = None
        if row.next_token in eos_ids:
            done = "stop"
        else:
            row.result.tokens.append(row.next_token)
            if len(row.result.tokens) >= max_new_tokens:
                done = "length"
        if done is None:
            i += 1
            continue
        row.result.finish, row.result.latency_s = done, now - row.started
        results[row.index] = row.result
        if on_done is not None:
            on_done(row.index)
        last = len(rows) - 1
        if i != last:
            kv.move_row(last, i)
            rows[i] = rows[last]
        rows.pop()
        kv.rows = len(rows)
