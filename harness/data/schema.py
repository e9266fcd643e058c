"""The chat-JSONL example format, its stable problem codes and the normalisation helpers.

An example is one JSON object per line::

    {"id"?: str, "messages": [{"role": "system"|"user"|"assistant", "content": str}, ...], "metadata"?: {...}}

The last assistant message is the reference output. Every problem the validator can find has a
stable code (``invalid_json``, ``duplicate``...) listed in :data:`CODES` with its severity and a
sentence that says how to fix it; tools and tests match on the code, people read the message.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]

ROLES = ("system", "user", "assistant")
MISSING = "(missing)"  # the category of an example without the field
TOP_LEVEL_KEYS = frozenset({"id", "messages", "metadata"})


@dataclass(frozen=True)
class Code:
    """One stable problem code: its severity, a short title and how to fix it."""

    code: str
    severity: Severity
    title: str
    fix: str


def _code(code: str, severity: Severity, title: str, fix: str) -> Code:
    return Code(code, severity, title, fix)


# Errors: the line cannot be used for training or evaluation as it is.
LINE_TOO_LONG = _code("line_too_long", "error", "line is too large",
                      "split the example or raise --max-line-bytes; a line this big is usually a broken export")
NOT_UTF8 = _code("not_utf8", "error", "line is not valid UTF-8",
                 "re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)")
BINARY_LINE = _code("binary_line", "error", "line contains binary data (NUL bytes)",
                    "remove the binary data; the file should be plain-text JSON lines")
COMPRESSED_FILE = _code("compressed_file", "error", "file is compressed or binary",
                        "decompress it first (e.g. `gunzip file.jsonl.gz`) and validate the .jsonl file")
UTF16_FILE = _code("utf16_file", "error", "file is UTF-16 (or UTF-32) text, not UTF-8",
                   "convert it to UTF-8, e.g. `iconv -f UTF-16 -t UTF-8 in.jsonl > out.jsonl` "
                   "(or save it as UTF-8 in your editor)")
LONE_SURROGATE = _code("lone_surrogate", "error", "line holds a lone surrogate escape (e.g. \\ud800)",
                       "fix the text: a \\uD800-\\uDFFF escape must be one half of a pair; the exporter "
                       "probably cut an emoji in half")
EMPTY_FILE = _code("empty_file", "error", "file has no examples (line 0 = the whole file)",
                   "add examples, one JSON object per line, or check you passed the right file")
INVALID_JSON = _code("invalid_json", "error", "line is not valid JSON",
                     "write exactly one JSON object per line (no trailing commas, double-quoted keys)")
NOT_OBJECT = _code("not_object", "error", "line is not a JSON object",
                   'wrap the example in an object: {"messages": [...]}')
MISSING_MESSAGES = _code("missing_messages", "error", "no `messages` key",
                         'add "messages": [{"role": "user", "content": ...}, {"role": "assistant", ...}]')
MESSAGES_NOT_LIST = _code("messages_not_list", "error", "`messages` is not a list",
                          "make `messages` a list of {role, content} objects")
EMPTY_MESSAGES = _code("empty_messages", "error", "`messages` is empty",
                       "add at least one user message and the assistant's answer")
MESSAGE_NOT_OBJECT = _code("message_not_object", "error", "a message is not an object",
                           'write each message as {"role": ..., "content": ...}')
MISSING_ROLE = _code("missing_role", "error", "a message has no `role`",
                     'add "role": "system", "user" or "assistant"')
MISSING_CONTENT = _code("missing_content", "error", "a message has no `content`",
                        'add "content": "<text>"')
UNKNOWN_ROLE = _code("unknown_role", "error", "a message has an unknown role",
                     'use one of "system", "user", "assistant"')
INVALID_CONTENT = _code("invalid_content", "error", "a message's content is not a string",
                        "make `content` a plain string")
EMPTY_CONTENT = _code("empty_content", "error", "a message's content is empty",
                      "fill in the text or drop the message")
SYSTEM_NOT_FIRST = _code("system_not_first", "error", "system message is not first",
                         "move the system message to the start (only one, at index 0)")
CONSECUTIVE_USER = _code("consecutive_user", "error", "two user turns in a row",
                         "merge the two user messages or add the assistant reply between them")
NO_ASSISTANT = _code("no_assistant", "error", "no assistant message",
                     "add the reference answer as a final assistant message")
LAST_NOT_ASSISTANT = _code("last_not_assistant", "error", "last message is not from the assistant",
                           "end the conversation with the assistant's reference answer")
INVALID_ID = _code("invalid_id", "error", "`id` is not a string",
                   'write the id as a string, e.g. "id": "ex-0001"')
INVALID_METADATA = _code("invalid_metadata", "error", "`metadata` is not an object",
                         'make `metadata` a JSON object, e.g. {"category": "billing"}')
TOO_LONG = _code("too_long", "error", "example is longer than --max-tokens",
                 "shorten the example, drop it, or raise --max-tokens")
DUPLICATE = _code("duplicate", "error", "exact duplicate of an earlier example",
                  "drop the repeated line (duplicates are compared after whitespace/case normalisation)")

# Warnings: the line is usable, but probably not what was meant.
UNKNOWN_KEY = _code("unknown_key", "warning", "unknown top-level key",
                    "move it under `metadata` (known keys: id, messages, metadata) or drop it")
DUPLICATE_ID = _code("duplicate_id", "warning", "id used by an earlier example",
                     "give every example a unique id")
NEAR_DUPLICATE = _code("near_duplicate", "warning", "same user message as an earlier example",
                       "check the two answers agree; near duplicates are kept in one split by `harness data split`")
MIXED_KEY_STYLE = _code("mixed_key_style", "warning", "JSON outputs mix snake_case and camelCase keys",
                        "use one key style in every JSON answer so the model learns one format")

CODES: dict[str, Code] = {c.code: c for c in [
    LINE_TOO_LONG, NOT_UTF8, BINARY_LINE, COMPRESSED_FILE, UTF16_FILE, LONE_SURROGATE, EMPTY_FILE, INVALID_JSON, NOT_OBJECT, MISSING_MESSAGES,
    MESSAGES_NOT_LIST, EMPTY_MESSAGES, MESSAGE_NOT_OBJECT, MISSING_ROLE, MISSING_CONTENT, UNKNOWN_ROLE,
    INVALID_CONTENT, EMPTY_CONTENT, SYSTEM_NOT_FIRST, CONSECUTIVE_USER, NO_ASSISTANT, LAST_NOT_ASSISTANT,
    INVALID_ID, INVALID_METADATA, TOO_LONG, DUPLICATE, UNKNOWN_KEY, DUPLICATE_ID, NEAR_DUPLICATE,
    MIXED_KEY_STYLE,
]}


@dataclass(frozen=True)
class Issue:
    """One problem found on one line (1-based) of a file."""

    line: int
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        """Return ``"error"`` or ``"warning"`` (from :data:`CODES`)."""
        return CODES[self.code].severity

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape ``{"line", "code", "message"}``."""
        return {"line": self.line, "code": self.code, "message": self.message}


def issue(line: int, code: Code, detail: str = "") -> Issue:
    """Return an :class:`Issue` whose message is ``detail`` (or the code's title) plus how to fix it."""
    what = detail or code.title
    return Issue(line, code.code, f"{what}; fix: {code.fix}")


# --- normalisation -------------------------------------------------------------------------------

_NON_WORD = re.compile(r"[^\w\s]+")


def normalize_text(text: str) -> str:
    """Return ``text`` NFKC-normalised, case-folded, with runs of whitespace collapsed and trimmed.

    This is the equality used for exact duplicates ("same text up to whitespace and case").
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def normalize_loose(text: str) -> str:
    """Return :func:`normalize_text` with punctuation removed (the equality used for near duplicates)."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def messages_of(example: Any) -> list[dict[str, Any]]:
    """Return the example's well-formed messages (dicts with string role/content), ignoring the rest."""
    if not isinstance(example, dict) or not isinstance(example.get("messages"), list):
        return []
    return [m for m in example["messages"]
            if isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)]


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def example_key(example: Any) -> str:
    """Return a hex digest identifying the conversation up to whitespace/case (ids and metadata ignored)."""
    raw = example.get("messages") if isinstance(example, dict) else None
    if not isinstance(raw, list) or not raw:  # nothing usable: the whole object, canonically serialised
        canonical = json.dumps(example, sort_keys=True, ensure_ascii=False, default=str)
        return _digest("raw\0" + normalize_text(canonical))
    parts = []
    for m in raw:
        if isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str):
            parts.append(f"{m['role']}\1{normalize_text(m['content'])}")
        else:
            parts.append("raw\1" + json.dumps(m, sort_keys=True, ensure_ascii=False, default=str))
    return _digest("\0".join(parts))


def user_key(example: Any) -> str | None:
    """Return a hex digest of the example's user messages (punctuation/case/whitespace-insensitive).

    Two examples with the same key ask the same question: near duplicates. ``None`` when the
    example has no non-empty user message.
    """
    users = [normalize_loose(m["content"]) for m in messages_of(example) if m["role"] == "user"]
    users = [u for u in users if u]
    return _digest("user\0" + "\0".join(users)) if users else None


def reference_output(example: Any) -> str | None:
    """Return the content of the last assistant message (the reference), or ``None``."""
    for message in reversed(messages_of(example)):
        if message["role"] == "assistant":
            return message["content"]
    return None


def get_field(example: Any, path: str) -> Any:
    """Return a metadata field by dotted path (``product_area`` or ``metadata.product_area``), or ``None``.

    A path that starts with ``metadata.`` (or names a top-level key such as ``id``) is read from the
    example itself; otherwise it is read from ``example["metadata"]``.
    """
    if not isinstance(example, dict):
        return None
    parts = path.split(".")
    node: Any = example if parts[0] in example else example.get("metadata")
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def stratum_label(value: Any) -> str:
    """Return a stable string for a metadata value (used as a category / stratum name)."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
