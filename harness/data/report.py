"""Profile a chat-JSONL file: categories per metadata field, length statistics, duplicates.

One streaming pass. Categorical fields are the scalar metadata values (strings, integers,
booleans) up to two levels deep, named by dotted path (``product_area``, ``customer.tier``); a
field with more than ``max_categories`` distinct values is reported only by its number of values.
Lengths are counted in tokens with ``--tokenizer`` when given, else with the cheap regex estimate
of :class:`~harness.data.tokens.ApproxCounter`; the profile says which.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.reader import file_problem, iter_lines, parse_line
from harness.data.schema import example_key, messages_of, stratum_label, user_key
from harness.data.tokens import ApproxCounter, TokenCounter, make_counter
from harness.errors import DataError

TRACK_LIMIT = 1000  # distinct values kept per field before it is treated as an identifier-like field


@dataclass(frozen=True)
class LengthStats:
    """Summary of a list of lengths: n, min, median, p95, max, mean."""

    n: int
    min: float
    median: float
    p95: float
    max: float
    mean: float

    def to_dict(self) -> dict[str, float]:
        """Return the statistics as a dict."""
        return {"n": self.n, "min": self.min, "median": self.median, "p95": self.p95, "max": self.max,
                "mean": round(self.mean, 3)}


def length_stats(values: list[int]) -> LengthStats | None:
    """Return the :class:`LengthStats` of ``values`` (``None`` when empty); percentiles are numpy's linear."""
    if not values:
        return None
    import numpy as np

    array = np.asarray(values, dtype=float)
    return LengthStats(n=int(array.size), min=float(array.min()), median=float(np.median(array)),
                       p95=float(np.percentile(array, 95)), max=float(array.max()), mean=float(array.mean()))


@dataclass
class DatasetProfile:
    """What a file contains; ``to_dict()`` is the ``harness data report --json`` output (without ``against``)."""

    path: str
    token_counter: str
    examples: int = 0  # lines that parsed as JSON objects
    unreadable_lines: int = 0  # lines that did not (see `harness data validate`)
    fields: dict[str, Counter[str]] = field(default_factory=dict)
    present: Counter[str] = field(default_factory=Counter)  # examples carrying each field
    with_system: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    duplicate_pairs: list[tuple[int, int, str]] = field(default_factory=list)  # (line, first line, kind), first 20
    lengths: dict[str, list[int]] = field(default_factory=lambda: {
        "messages": [], "user_tokens": [], "assistant_tokens": [], "total_tokens": []})
    max_categories: int = 30

    def categorical_fields(self) -> dict[str, Counter[str]]:
        """Return the fields with at most ``max_categories`` distinct values."""
        return {k: v for k, v in self.fields.items() if len(v) <= self.max_categories}

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready profile."""
        categorical = self.categorical_fields()
        many = {k: (f">{TRACK_LIMIT}" if len(v) > TRACK_LIMIT else len(v))
                for k, v in self.fields.items() if k not in categorical}
        stats = {name: (s.to_dict() if (s := length_stats(values)) else None) for name, values in self.lengths.items()}
        return {
            "path": self.path, "examples": self.examples, "unreadable_lines": self.unreadable_lines,
            "token_counter": self.token_counter, "with_system_prompt": self.with_system,
            "fields": {name: {"present": self.present[name], "counts": dict(counts.most_common()),
                              "shares": _shares(counts)} for name, counts in sorted(categorical.items())},
            "high_cardinality_fields": dict(sorted(many.items())),
            "lengths": stats,
            "duplicates": {"exact": self.exact_duplicates, "near": self.near_duplicates,
                           "examples": [{"line": a, "first_line": b, "kind": k} for a, b, k in self.duplicate_pairs]},
        }


def _shares(counts: Counter[str]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: round(v / total, 4) for k, v in counts.most_common()} if total else {}


def flatten_metadata(metadata: Any, prefix: str = "", depth: int = 2) -> dict[str, str]:
    """Return the scalar (str/int/bool) metadata values by dotted path, up to ``depth`` levels."""
    out: dict[str, str] = {}
    if not isinstance(metadata, dict):
        return out
    for key, value in metadata.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if depth > 1:
                out.update(flatten_metadata(value, f"{name}.", depth - 1))
        elif isinstance(value, str | bool | int) or value is None:
            out[name] = stratum_label(value)
    return out


def profile_file(
    path: str | Path,
    *,
    tokenizer: str | None = None,
    counter: TokenCounter | None = None,
    max_categories: int = 30,
) -> DatasetProfile:
    """Stream ``path`` and return its :class:`DatasetProfile` (unparseable lines are counted, not fatal)."""
    counter = counter or make_counter(tokenizer)
    profile = DatasetProfile(path=str(path), token_counter=counter.name, max_categories=max_categories)
    seen_exact: dict[str, int] = {}
    seen_user: dict[str, int] = {}
    whole = file_problem(path)
    if whole is not None:  # nothing in it can be profiled: say why instead of an empty report
        raise DataError(f"{path}: {whole.message}", hint=f"then run `harness data validate {path}`", exit_code=1)
    for raw in iter_lines(path):
        obj, problem = parse_line(raw)
        if problem is not None:
            profile.unreadable_lines += 1
            continue
        profile.examples += 1
        _add_fields(profile, obj.get("metadata"))
        _add_lengths(profile, obj, counter)
        _add_duplicates(profile, obj, raw.number, seen_exact, seen_user)
    return profile


def _add_fields(profile: DatasetProfile, metadata: Any) -> None:
    for name, value in flatten_metadata(metadata).items():
        counts = profile.fields.setdefault(name, Counter())
        profile.present[name] += 1
        if value in counts or len(counts) <= TRACK_LIMIT:
            counts[value] += 1


def _add_lengths(profile: DatasetProfile, obj: dict[str, Any], counter: TokenCounter) -> None:
    messages = messages_of(obj)
    profile.lengths["messages"].append(len(messages))
    if not messages:
        return
    if messages[0]["role"] == "system":
        profile.with_system += 1
    counts = [counter.count_text(m["content"]) for m in messages]
    users = [n for n, m in zip(counts, messages, strict=True) if m["role"] == "user"]
    answers = [n for n, m in zip(counts, messages, strict=True) if m["role"] == "assistant"]
    if users:
        profile.lengths["user_tokens"].append(sum(users))
    if answers:
        profile.lengths["assistant_tokens"].append(answers[-1])
    # the estimate of a conversation is the sum of its messages; a real tokenizer renders the template
    total = sum(counts) if isinstance(counter, ApproxCounter) else counter.count_messages(messages)
    profile.lengths["total_tokens"].append(total)


def _add_duplicates(profile: DatasetProfile, obj: dict[str, Any], line: int,
                    seen_exact: dict[str, int], seen_user: dict[str, int]) -> None:
    first = seen_exact.setdefault(example_key(obj), line)
    if first != line:
        profile.exact_duplicates += 1
        if len(profile.duplicate_pairs) < 20:
            profile.duplicate_pairs.append((line, first, "exact"))
        return
    key = user_key(obj)
    if key is None:
        return
    first = seen_user.setdefault(key, line)
    if first != line:
        profile.near_duplicates += 1
        if len(profile.duplicate_pairs) < 20:
            profile.duplicate_pairs.append((line, first, "near"))
