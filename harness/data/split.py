"""Deterministic train/val/test splits that never leak a duplicate across splits.

How a split is made (the same for :func:`split_examples` and :func:`harness.data.split_io.split_file`):

1. Every example gets two keys: its exact key (the conversation up to whitespace/case,
   :func:`~harness.data.schema.example_key`) and its near key (the user messages up to
   punctuation/whitespace/case, :func:`~harness.data.schema.user_key`).
2. Examples sharing any key are joined into one group (union-find), so exact and near duplicates
   always land in the same split. A group is named by the smallest exact key of its members,
   which does not depend on the order of the input lines.
3. Groups are taken stratum by stratum (with ``stratify``; the group's stratum is its members'
   most common value), largest first, ties ordered by a seeded hash of the group name; each goes
   to the split furthest below its target share (largest-deficit apportionment). Same input and
   seed give the same split byte for byte; the ratios are held to within one group per stratum.
4. Inside each split the examples keep their input order.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.data.schema import MISSING, example_key, get_field, stratum_label, user_key
from harness.errors import HarnessError

SPLIT_NAMES = ("train", "val", "test")
DEFAULT_RATIOS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class SplitStats:
    """What a split did: sizes, duplicate groups, the leakage check and the class balance."""

    seed: int
    ratios: tuple[float, float, float]
    stratify: str | None
    sizes: dict[str, int]
    groups: int  # number of groups (a singleton example is a group of one)
    grouped_examples: int  # examples that share a group with at least one other example
    leakage: int  # examples sharing an exact or near-duplicate key with another split: must be 0
    balance: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> stratum -> count
    warnings: list[str] = field(default_factory=list)  # what the split could not do as asked (see stratify_warning)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of the statistics."""
        return {
            "seed": self.seed, "ratios": list(self.ratios), "stratify": self.stratify,
            "sizes": dict(self.sizes), "groups": self.groups, "grouped_examples": self.grouped_examples,
            "leakage": self.leakage, "balance": {k: dict(v) for k, v in self.balance.items()},
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class SplitResult:
    """The three splits (lists of the input dicts, in input order) and their :class:`SplitStats`."""

    train: list[dict[str, Any]]
    val: list[dict[str, Any]]
    test: list[dict[str, Any]]
    stats: SplitStats

    @property
    def leakage(self) -> int:
        """Return the number of examples sharing a duplicate key with another split (0 by construction)."""
        return self.stats.leakage

    @property
    def sizes(self) -> dict[str, int]:
        """Return ``{"train": n, "val": n, "test": n}``."""
        return self.stats.sizes

    @property
    def balance(self) -> dict[str, dict[str, int]]:
        """Return per split the count of each stratum value (empty without ``stratify``)."""
        return self.stats.balance


def parse_ratios(ratios: Sequence[float] | str) -> tuple[float, float, float]:
    """Return validated ``(train, val, test)`` ratios from a sequence or a ``"0.8,0.1,0.1"`` string."""
    if isinstance(ratios, str):
        try:
            values = [float(part) for part in ratios.split(",")]
        except ValueError:
            raise HarnessError(f"--ratios {ratios!r} is not a list of numbers",
                               hint="write three comma-separated shares, e.g. --ratios 0.8,0.1,0.1") from None
    else:
        values = [float(v) for v in ratios]
    if len(values) != 3 or any(v < 0 or v != v for v in values):
        raise HarnessError(f"ratios {values} must be three non-negative numbers (train, val, test)",
                           hint="e.g. --ratios 0.8,0.1,0.1")
    if abs(sum(values) - 1.0) > 1e-6 or values[0] <= 0:
        raise HarnessError(f"ratios {values} must sum to 1 with a positive train share (sum is {sum(values):g})",
                           hint="e.g. --ratios 0.8,0.1,0.1 or 0.9,0.1,0")
    return values[0], values[1], values[2]


class _UnionFind:
    """Disjoint sets over ``0..n-1`` (path halving, union by size)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]


def _seeded_rank(seed: int, name: str) -> bytes:
    # hashlib, not hash(): Python's string hash is salted per process, and splits must be
    # identical across runs and machines.
    return hashlib.blake2b(f"{seed}\0{name}".encode(), digest_size=16).digest()


def assign_splits(
    exact_keys: Sequence[str],
    near_keys: Sequence[str | None],
    strata: Sequence[str] | None,
    *,
    seed: int = 0,
    ratios: Sequence[float] = DEFAULT_RATIOS,
) -> tuple[list[int], int, int]:
    """Return ``(split index per example, number of groups, examples in shared groups)``.

    Split indices are 0 (train), 1 (val), 2 (test). Examples sharing an exact or near key are in
    the same split. This works on keys only, so :func:`harness.data.split_io.split_file` can split a file it never holds
    in memory.
    """
    ratios = parse_ratios(ratios)
    n = len(exact_keys)
    uf = _UnionFind(n)
    first_with: dict[str, int] = {}
    for i in range(n):
        for key in (f"e{exact_keys[i]}", None if near_keys[i] is None else f"n{near_keys[i]}"):
            if key is None:
                continue
            j = first_with.setdefault(key, i)
            if j != i:
                uf.union(i, j)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[uf.find(i)].append(i)

    by_stratum: dict[str, list[tuple[int, bytes, list[int]]]] = defaultdict(list)
    for group in members.values():
        name = min(exact_keys[i] for i in group)
        if strata is None:
            label = ""
        else:
            counts = Counter(strata[i] for i in group)
            top = max(counts.values())
            label = min(s for s, c in counts.items() if c == top)
        by_stratum[label].append((-len(group), _seeded_rank(seed, name), group))

    assignment = [0] * n
    for label in sorted(by_stratum):
        counts = [0, 0, 0]
        placed = 0
        for neg_size, _rank, group in sorted(by_stratum[label], key=lambda g: (g[0], g[1])):
            size = -neg_size
            deficits = [ratios[k] * (placed + size) - counts[k] for k in range(3)]
            target = max(range(3), key=lambda k: (deficits[k], -k))
            counts[target] += size
            placed += size
            for i in group:
                assignment[i] = target
    grouped = sum(len(g) for g in members.values() if len(g) > 1)
    return assignment, len(members), grouped


def count_leakage(exact_keys: Sequence[str], near_keys: Sequence[str | None], assignment: Sequence[int]) -> int:
    """Return how many examples share an exact or near-duplicate key with an example in another split."""
    splits_of: dict[str, set[int]] = defaultdict(set)
    for i, split in enumerate(assignment):
        splits_of[f"e{exact_keys[i]}"].add(split)
        if near_keys[i] is not None:
            splits_of[f"n{near_keys[i]}"].add(split)
    leaked = 0
    for i in range(len(assignment)):
        keys = [f"e{exact_keys[i]}"] + ([f"n{near_keys[i]}"] if near_keys[i] is not None else [])
        if any(len(splits_of[k]) > 1 for k in keys):
            leaked += 1
    return leaked


def _balance(strata: Sequence[str] | None, assignment: Sequence[int]) -> dict[str, dict[str, int]]:
    if strata is None:
        return {}
    balance: dict[str, Counter[str]] = {name: Counter() for name in SPLIT_NAMES}
    for label, split in zip(strata, assignment, strict=True):
        balance[SPLIT_NAMES[split]][label] += 1
    return {name: dict(sorted(counts.items())) for name, counts in balance.items()}


def make_stats(
    exact_keys: Sequence[str],
    near_keys: Sequence[str | None],
    strata: Sequence[str] | None,
    assignment: Sequence[int],
    *,
    seed: int,
    ratios: tuple[float, float, float],
    stratify: str | None,
    groups: int,
    grouped: int,
) -> SplitStats:
    """Return the :class:`SplitStats` of an assignment (sizes, leakage recomputed from the keys, balance)."""
    sizes = Counter(assignment)
    return SplitStats(
        seed=seed, ratios=ratios, stratify=stratify,
        sizes={name: sizes.get(k, 0) for k, name in enumerate(SPLIT_NAMES)},
        groups=groups, grouped_examples=grouped,
        leakage=count_leakage(exact_keys, near_keys, assignment),
        balance=_balance(strata, assignment),
        warnings=[w for w in [stratify_warning(stratify, strata)] if w is not None],
    )


def stratify_warning(field: str | None, strata: Sequence[str] | None) -> str | None:
    """Return a warning when ``field`` is (nearly) unique per example, so it cannot be stratified; else None.

    Stratifying balances each value across the splits; a value seen once (an id) goes to one split
    whole, so the "balance" is meaningless. Half the examples holding a value nobody else has is the
    sign of such a field (files under 10 examples are too small to tell).
    """
    if field is None or not strata or len(strata) < 10:
        return None
    counts = Counter(s for s in strata if s != MISSING)
    once = sum(1 for n in counts.values() if n == 1)
    if once < 0.5 * len(strata):
        return None
    return (f"--stratify {field!r} has {len(counts)} distinct values for {len(strata)} examples ({once} seen once): "
            "a field unique per example (an id) cannot be stratified; stratify by a category field instead")


def check_stratify(field: str | None, strata: Sequence[str] | None, sample: Sequence[Any]) -> None:
    """Raise :class:`HarnessError` when ``field`` is missing from every example (most likely a typo)."""
    if field is None or not strata or any(label != MISSING for label in strata):
        return
    from harness.data.report import flatten_metadata

    names = sorted({name for example in sample if isinstance(example, dict)
                    for name in flatten_metadata(example.get("metadata"))})
    raise HarnessError(f"--stratify {field!r}: no example has this metadata field",
                       hint=f"metadata fields seen: {', '.join(names) or 'none'} (dotted paths allowed)")


def split_examples(
    examples: list[dict[str, Any]],
    *,
    seed: int = 0,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    stratify: str | None = None,
) -> SplitResult:
    """Split examples into train/val/test; returns a :class:`SplitResult` holding the same dicts.

    Deterministic for a given input and ``seed``; exact and near duplicates share a split;
    ``stratify`` names a metadata field (dotted path allowed, e.g. ``product_area`` or
    ``metadata.customer.tier``) whose values are balanced across the splits.
    """
    parsed = parse_ratios(ratios)
    exact = [example_key(e) for e in examples]
    near = [user_key(e) for e in examples]
    strata = None if stratify is None else [stratum_label(get_field(e, stratify)) for e in examples]
    check_stratify(stratify, strata, examples[:200])
    assignment, groups, grouped = assign_splits(exact, near, strata, seed=seed, ratios=parsed)
    parts: list[list[dict[str, Any]]] = [[], [], []]
    for example, split in zip(examples, assignment, strict=True):
        parts[split].append(example)
    stats = make_stats(exact, near, strata, assignment, seed=seed, ratios=parsed, stratify=stratify,
                       groups=groups, grouped=grouped)
    return SplitResult(train=parts[0], val=parts[1], test=parts[2], stats=stats)
