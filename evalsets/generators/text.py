"""Text helpers shared by the set generators: normalisation, casual style, deterministic typos.

Everything here is a pure function of its arguments and a seeded :class:`random.Random`, so the
generated sets are reproducible byte for byte.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Neighbouring keys on a QWERTY keyboard, for realistic substitution typos.
_QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _row_index, _row in enumerate(_QWERTY_ROWS):
    for _col, _char in enumerate(_row):
        near = [_row[i] for i in (_col - 1, _col + 1) if 0 <= i < len(_row)]
        for other in (_row_index - 1, _row_index + 1):
            if 0 <= other < len(_QWERTY_ROWS) and _col < len(_QWERTY_ROWS[other]):
                near.append(_QWERTY_ROWS[other][_col])
        _NEIGHBOURS[_char] = "".join(near)

# Casual rewrites, applied word-boundary-wise (case-insensitive on the left side).
_CASUAL_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    (r"\bI am\b", "im"),
    (r"\bI'm\b", "im"),
    (r"\bI have\b", "ive"),
    (r"\bI've\b", "ive"),
    (r"\bdo not\b", "dont"),
    (r"\bdon't\b", "dont"),
    (r"\bdoes not\b", "doesnt"),
    (r"\bdoesn't\b", "doesnt"),
    (r"\bcannot\b", "cant"),
    (r"\bcan't\b", "cant"),
    (r"\bhas not\b", "hasnt"),
    (r"\bhasn't\b", "hasnt"),
    (r"\bwould like to\b", "wanna"),
    (r"\bplease\b", "pls"),
    (r"\bthank you\b", "thx"),
    (r"\bbecause\b", "cuz"),
    (r"\byou\b", "u"),
    (r"\bI\b", "i"),
)


def normalise(text: str) -> str:
    """Return ``text`` lower-cased with every run of non-alphanumerics collapsed to one space.

    This is stricter than whitespace/case normalisation, so two messages that differ only in
    punctuation are also treated as duplicates by the generators.
    """
    return _NON_ALNUM.sub(" ", text.lower()).strip()


def word_count(text: str) -> int:
    """Return the number of whitespace-separated words in ``text``."""
    return len(text.split())


def casualize(text: str, rng: random.Random, *, protect: Iterable[str] = ()) -> str:
    """Return ``text`` rewritten in a casual chat register (contractions, lower case, no final stop).

    Protected substrings (names, ids, products) are left exactly as they are.
    """
    # Longest first, so that a value containing another one is masked whole; masks are private-use
    # characters, which no rewrite rule or other value can match.
    protected = sorted({p for p in protect if len(p) >= 2 and p in text}, key=lambda p: (-len(p), p))
    masks: dict[str, str] = {}
    for index, value in enumerate(protected):
        if value in text:
            mask = chr(0xE000 + index)
            masks[mask] = value
            text = text.replace(value, mask)
    for pattern, replacement in _CASUAL_REPLACEMENTS:
        # Each rewrite is applied with some probability so casual text still varies.
        if rng.random() < 0.8:
            text = re.sub(pattern, replacement, text, flags=re.IGNORECASE if pattern != r"\bI\b" else 0)
    if rng.random() < 0.7:
        text = re.sub(r"(^|[.!?]\s+)([A-Z])", lambda m: m.group(1) + m.group(2).lower(), text)
    text = text.rstrip()
    if text.endswith(".") and rng.random() < 0.8:
        text = text[:-1]
    if text.endswith("?") and rng.random() < 0.3:
        text += "?"
    for mask, value in masks.items():
        text = text.replace(mask, value)
    return text


def _edit_word(word: str, rng: random.Random) -> str:
    """Return ``word`` with one typing error: swap, deletion, doubling or neighbouring key."""
    index = rng.randrange(1, len(word) - 1) if len(word) > 2 else 0
    operation = rng.choice(("swap", "delete", "double", "neighbour"))
    if operation == "swap" and index + 1 < len(word):
        return word[:index] + word[index + 1] + word[index] + word[index + 2 :]
    if operation == "delete":
        return word[:index] + word[index + 1 :]
    if operation == "double":
        return word[: index + 1] + word[index] + word[index + 1 :]
    char = word[index]
    near = _NEIGHBOURS.get(char.lower())
    if not near:
        return word[:index] + word[index + 1 :]
    replacement = rng.choice(near)
    return word[:index] + (replacement.upper() if char.isupper() else replacement) + word[index + 1 :]


def add_typos(text: str, rng: random.Random, *, rate: float = 0.25, minimum: int = 2,
              protect: Iterable[str] = ()) -> str:
    """Return ``text`` with deterministic character-level typos in some of its plain words.

    Only purely alphabetic words of four letters or more are edited; words that appear in a
    protected value (a name, a product, an id) and words containing digits are never touched, so
    facts that a reference answer repeats stay intact. At least ``minimum`` words are edited when
    the text has that many candidates.
    """
    protected_words = {w.lower() for value in protect for w in re.findall(r"[A-Za-z]+", value)}
    tokens = re.split(r"(\s+)", text)
    candidates = [
        i for i, token in enumerate(tokens)
        if (core := token.strip(".,!?;:()'\"")).isalpha() and len(core) >= 4
        and core.lower() not in protected_words and not core.isupper()
    ]
    if not candidates:
        return text
    chosen = [i for i in candidates if rng.random() < rate]
    if len(chosen) < minimum:
        extra = [i for i in candidates if i not in chosen]
        rng.shuffle(extra)
        chosen.extend(extra[: minimum - len(chosen)])
    for i in sorted(chosen):
        token = tokens[i]
        match = re.match(r"^([^A-Za-z]*)([A-Za-z]+)(.*)$", token)
        if match is None:
            continue
        prefix, core, suffix = match.groups()
        tokens[i] = prefix + _edit_word(core, rng) + suffix
    return "".join(tokens)


def length_bucket(text: str, *, short_max: int = 14, medium_max: int = 30) -> str:
    """Return ``"short"``, ``"medium"`` or ``"long"`` from the word count of ``text``."""
    words = word_count(text)
    if words <= short_max:
        return "short"
    return "medium" if words <= medium_max else "long"


def weighted_quotas(weights: dict[str, float], total: int) -> dict[str, int]:
    """Return integer counts per key proportional to ``weights`` that sum exactly to ``total``.

    Largest-remainder rounding; ties are broken by key order so the result is deterministic.
    """
    norm = sum(weights.values())
    raw = {key: total * w / norm for key, w in weights.items()}
    counts = {key: int(value) for key, value in raw.items()}
    short = total - sum(counts.values())
    order = sorted(raw, key=lambda k: (-(raw[k] - counts[k]), list(weights).index(k)))
    for key in order[:short]:
        counts[key] += 1
    return counts


def chat_example(example_id: str, system: str, user: str, assistant: str, metadata: dict) -> dict:
    """Return one example in the bundled chat JSONL format (the last message is the reference)."""
    return {
        "id": example_id,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ],
        "metadata": metadata,
    }


def user_message(example: dict) -> str:
    """Return the content of the last user message of a chat example."""
    return [m["content"] for m in example["messages"] if m["role"] == "user"][-1]
