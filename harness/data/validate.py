"""Validate a chat-JSONL file: one streaming pass that produces a report of problems by line and code.

Per-line checks are pure (:func:`check_example`); cross-line checks (duplicates, duplicate ids,
near duplicates, mixed JSON key styles) keep only hashes and line numbers, so memory grows with
the number of lines, never with their size.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data import schema as S
from harness.data.reader import DEFAULT_MAX_LINE_BYTES, iter_lines, parse_line
from harness.data.schema import Issue, issue
from harness.data.tokens import TokenCounter, make_counter

MAX_STORED_ISSUES = 10_000
# Codes that `harness data split` does not refuse: it groups duplicates instead.
SPLIT_TOLERATED = frozenset({S.DUPLICATE.code})


@dataclass
class ValidationReport:
    """The result of validating one file; ``to_dict()`` is the ``--json`` output."""

    path: str
    examples: int = 0  # non-blank lines
    valid: int = 0  # lines without any error (warnings allowed)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    token_counter: str | None = None
    max_tokens: int | None = None
    truncated: bool = False  # more than MAX_STORED_ISSUES problems: lists cut, counts complete
    error_lines: set[int] = field(default_factory=set)  # every line with an error (for write_valid)

    @property
    def error_count(self) -> int:
        """Return the number of errors found (all of them, not just the stored ones)."""
        return sum(n for code, n in self.counts.items() if S.CODES[code].severity == "error")

    @property
    def warning_count(self) -> int:
        """Return the number of warnings found."""
        return sum(n for code, n in self.counts.items() if S.CODES[code].severity == "warning")

    @property
    def ok(self) -> bool:
        """Return True when there are no errors (warnings allowed)."""
        return self.error_count == 0

    def blocking_errors(self, tolerated: frozenset[str] = frozenset()) -> list[Issue]:
        """Return the stored errors whose code is not in ``tolerated``."""
        return [e for e in self.errors if e.code not in tolerated]

    def add(self, problem: Issue) -> None:
        """Record one problem (counted always, stored up to :data:`MAX_STORED_ISSUES`)."""
        self.counts[problem.code] += 1
        target = self.errors if problem.severity == "error" else self.warnings
        if len(self.errors) + len(self.warnings) < MAX_STORED_ISSUES:
            target.append(problem)
        else:
            self.truncated = True

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape: examples, valid, errors, warnings, counts (by code) and context."""
        return {
            "path": self.path, "examples": self.examples, "valid": self.valid,
            "ok": self.ok, "error_count": self.error_count, "warning_count": self.warning_count,
            "errors": [e.to_dict() for e in self.errors], "warnings": [w.to_dict() for w in self.warnings],
            "counts": dict(sorted(self.counts.items())), "truncated": self.truncated,
            "token_counter": self.token_counter, "max_tokens": self.max_tokens,
        }


def check_example(obj: Any, line: int) -> list[Issue]:
    """Return the problems of one parsed line on its own (structure, roles, contents, unknown keys)."""
    if not isinstance(obj, dict):
        return [issue(line, S.NOT_OBJECT)]
    problems: list[Issue] = []
    unknown = sorted(k for k in obj if k not in S.TOP_LEVEL_KEYS)
    if unknown:
        problems.append(issue(line, S.UNKNOWN_KEY, f"unknown top-level key(s) {', '.join(map(repr, unknown))}"))
    if "id" in obj and not isinstance(obj["id"], str):
        problems.append(issue(line, S.INVALID_ID, f"`id` is {json.dumps(obj['id'])}, not a string"))
    if "metadata" in obj and not isinstance(obj["metadata"], dict):
        problems.append(issue(line, S.INVALID_METADATA))
    if "messages" not in obj or obj["messages"] is None:
        return problems + [issue(line, S.MISSING_MESSAGES)]
    messages = obj["messages"]
    if not isinstance(messages, list):
        return problems + [issue(line, S.MESSAGES_NOT_LIST, f"`messages` is a {type(messages).__name__}, not a list")]
    if not messages:
        return problems + [issue(line, S.EMPTY_MESSAGES)]
    roles: list[str] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            problems.append(issue(line, S.MESSAGE_NOT_OBJECT, f"{where} is not an object"))
            continue
        role, content = message.get("role"), message.get("content")
        if role is None:
            problems.append(issue(line, S.MISSING_ROLE, f"{where} has no `role`"))
        elif role not in S.ROLES:
            problems.append(issue(line, S.UNKNOWN_ROLE, f"{where} has unknown role {json.dumps(role)}"))
        else:
            roles.append(role)
        if content is None:
            problems.append(issue(line, S.MISSING_CONTENT, f"{where} has no `content`"))
        elif not isinstance(content, str):
            problems.append(issue(line, S.INVALID_CONTENT, f"{where} content is a {type(content).__name__}"))
        elif not content.strip():
            problems.append(issue(line, S.EMPTY_CONTENT, f"{where} ({role}) has empty content"))
    problems.extend(_check_turns(roles, line))
    return problems


def _check_turns(roles: list[str], line: int) -> list[Issue]:
    """Return the turn-order problems of the known roles in order."""
    problems = []
    for index, role in enumerate(roles):
        if role == "system" and index > 0:
            problems.append(issue(line, S.SYSTEM_NOT_FIRST, f"system message at position {index}, not first"))
        if role == "user" and index > 0 and roles[index - 1] == "user":
            problems.append(issue(line, S.CONSECUTIVE_USER, f"user messages at positions {index - 1} and {index}"))
    if roles and "assistant" not in roles:
        problems.append(issue(line, S.NO_ASSISTANT))
    elif roles and roles[-1] != "assistant":
        problems.append(issue(line, S.LAST_NOT_ASSISTANT, f"last message is from {roles[-1]!r}"))
    return problems


# --- output key style ----------------------------------------------------------------------------

_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_CAMEL = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$")


def _json_keys(value: Any, out: list[str], limit: int = 500) -> None:
    if len(out) >= limit:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            out.append(str(key))
            _json_keys(child, out, limit)
    elif isinstance(value, list):
        for child in value:
            _json_keys(child, out, limit)


def output_key_style(text: str | None) -> tuple[str | None, str | None]:
    """Return ``(style, example key)`` of a JSON answer: ``"snake"``, ``"camel"``, ``"mixed"`` or ``None``.

    ``None`` when the answer is not a JSON object/array (code fences allowed) or has no styled keys.
    """
    if not text:
        return None, None
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body or body[0] not in "{[":
        return None, None
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        return None, None
    keys: list[str] = []
    _json_keys(value, keys)
    snake = next((k for k in keys if _SNAKE.match(k)), None)
    camel = next((k for k in keys if _CAMEL.match(k)), None)
    if snake and camel:
        return "mixed", f"{snake}, {camel}"
    if snake:
        return "snake", snake
    if camel:
        return "camel", camel
    return None, None


class _KeyStyles:
    """Collects the key style of every JSON answer; warns about the minority style at the end."""

    def __init__(self, limit: int = MAX_STORED_ISSUES) -> None:
        self.lines: dict[str, list[tuple[int, str]]] = {"snake": [], "camel": [], "mixed": []}
        self.totals: Counter[str] = Counter()
        self.limit = limit

    def add(self, line: int, text: str | None) -> None:
        style, key = output_key_style(text)
        if style is None:
            return
        self.totals[style] += 1
        if len(self.lines[style]) < self.limit:
            self.lines[style].append((line, key or ""))

    def issues(self) -> list[Issue]:
        snake, camel, mixed = self.totals["snake"], self.totals["camel"], self.totals["mixed"]
        if mixed == 0 and (snake == 0 or camel == 0):
            return []
        majority = "snake" if snake >= camel else "camel"
        minority = "camel" if majority == "snake" else "snake"
        names = {"snake": "snake_case", "camel": "camelCase"}
        problems = []
        for line, key in self.lines["mixed"]:
            problems.append(issue(line, S.MIXED_KEY_STYLE, f"this JSON answer mixes snake_case and camelCase keys ({key})"))
        for line, key in self.lines[minority]:
            problems.append(issue(line, S.MIXED_KEY_STYLE,
                                  f"JSON answer uses {names[minority]} keys ({key!r}) while {self.totals[majority]} "
                                  f"other answers use {names[majority]}"))
        return problems


# --- the file pass ---------------------------------------------------------------------------------


def validate_file(
    path: str | Path,
    *,
    tokenizer: str | None = None,
    max_tokens: int | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    counter: TokenCounter | None = None,
) -> ValidationReport:
    """Validate every line of ``path`` in one streaming pass; returns a :class:`ValidationReport`.

    ``max_tokens`` enables the ``too_long`` check, counted with ``tokenizer`` (a local folder or
    model alias, loaded lazily with ``AutoTokenizer``; chat template used when present) or, without
    one, with the cheap regex estimate (the report says which). Raises
    :class:`~harness.errors.DataError` (exit 2) only for an unusable path (missing, a directory).
    """
    if max_tokens is not None and max_tokens <= 0:
        from harness.errors import HarnessError

        raise HarnessError(f"--max-tokens must be positive, got {max_tokens}")
    if counter is None and max_tokens is not None:
        counter = make_counter(tokenizer)
    report = ValidationReport(path=str(path), max_tokens=max_tokens,
                              token_counter=counter.name if counter is not None and max_tokens else None)
    seen_exact: dict[int, int] = {}
    seen_user: dict[int, int] = {}
    seen_ids: dict[int, int] = {}
    styles = _KeyStyles()
    for raw in iter_lines(path, max_line_bytes=max_line_bytes):
        report.examples += 1
        obj, problem = parse_line(raw)
        problems = [problem] if problem is not None else check_example(obj, raw.number)
        if problem is None:
            if not any(p.severity == "error" for p in problems):  # duplicates of broken lines are noise
                problems.extend(_cross_line(obj, raw.number, seen_exact, seen_user, seen_ids))
            if max_tokens is not None and counter is not None:
                problems.extend(_length(obj, raw.number, counter, max_tokens))
            styles.add(raw.number, S.reference_output(obj))
        for p in problems:
            report.add(p)
        if any(p.severity == "error" for p in problems):
            report.error_lines.add(raw.number)
        else:
            report.valid += 1
    for p in styles.issues():
        report.add(p)
    if report.examples == 0:
        report.add(issue(0, S.EMPTY_FILE, "file has no examples (it is empty or only blank lines)"))
    report.warnings.sort(key=lambda w: w.line)
    return report


def _cross_line(obj: dict[str, Any], line: int, seen_exact: dict[int, int], seen_user: dict[int, int],
                seen_ids: dict[int, int]) -> list[Issue]:
    # Keys are kept as ints (96-bit digests; hash() for ids) to hold memory to ~100 bytes per line.
    problems = []
    exact = int(S.example_key(obj), 16)
    first = seen_exact.setdefault(exact, line)
    if first != line:
        problems.append(issue(line, S.DUPLICATE, f"exact duplicate of line {first}"))
    else:
        user = S.user_key(obj)
        if user is not None:
            first_user = seen_user.setdefault(int(user, 16), line)
            if first_user != line:
                problems.append(issue(line, S.NEAR_DUPLICATE, f"same user message as line {first_user}, different answer"))
    ident = obj.get("id")
    if isinstance(ident, str):
        first_id = seen_ids.setdefault(hash(ident), line)
        if first_id != line:
            problems.append(issue(line, S.DUPLICATE_ID, f"id {ident!r} already used on line {first_id}"))
    return problems


def _length(obj: dict[str, Any], line: int, counter: TokenCounter, max_tokens: int) -> list[Issue]:
    messages = S.messages_of(obj)
    if not messages:
        return []
    tokens = counter.count_messages(messages)
    if tokens <= max_tokens:
        return []
    return [issue(line, S.TOO_LONG, f"example is {tokens} tokens, over --max-tokens {max_tokens} ({counter.name})")]


def write_valid(path: str | Path, report: ValidationReport, out: str | Path) -> int:
    """Write the lines of ``path`` that have no error (the "drop" policy) to ``out`` atomically.

    Returns the number of lines written. Duplicates are dropped after their first occurrence;
    lines with warnings are kept unchanged. An ``out`` that is ``path`` (also through a symlink or a
    hard link) is refused with :class:`~harness.errors.HarnessError` (exit 2).
    """
    from harness.io import atomic_write, refuse_overlap

    refuse_overlap([out], [path], option="--write-valid")  # also through symlinks and hard links
    written = 0
    with atomic_write(out) as handle:
        for raw in iter_lines(path):
            if raw.number not in report.error_lines and raw.text is not None:
                handle.write(raw.text + "\n")
                written += 1
    return written
