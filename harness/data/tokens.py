"""Token counting for length checks and reports: a real tokenizer when given, else a cheap estimate."""

from __future__ import annotations

import re
from typing import Any, Protocol

from harness.errors import DependencyError

_WORDS = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class TokenCounter(Protocol):
    """Counts tokens in text and in whole conversations."""

    name: str

    def count_text(self, text: str) -> int:
        """Return the number of tokens in ``text``."""
        ...

    def count_messages(self, messages: list[dict[str, Any]]) -> int:
        """Return the number of tokens of a conversation as the model would see it."""
        ...


class ApproxCounter:
    """Cheap estimate: one token per word and per punctuation mark (regex ``\\w+|[^\\w\\s]``).

    Subword tokenizers usually give somewhat more tokens than this; pass ``--tokenizer`` for exact counts.
    """

    name = "approx (regex words + punctuation)"

    def count_text(self, text: str) -> int:
        """Return the number of words and punctuation marks in ``text``."""
        return len(_WORDS.findall(text))

    def count_messages(self, messages: list[dict[str, Any]]) -> int:
        """Return the summed estimate over the messages' contents."""
        return sum(self.count_text(m["content"]) for m in messages)


class HFCounter:
    """A Hugging Face tokenizer loaded lazily with ``AutoTokenizer`` (local folder, alias or hub id).

    Conversations are counted through the tokenizer's chat template when it has one (the length
    the model really sees), else as the sum of the messages' contents.
    """

    def __init__(self, name_or_path: str) -> None:
        self.source = name_or_path
        self.name = f"tokenizer {name_or_path}"
        self._tokenizer: Any = None

    @property
    def tokenizer(self) -> Any:
        """Return the loaded tokenizer (loaded on first use)."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.source)
        return self._tokenizer

    def count_text(self, text: str) -> int:
        """Return the number of token ids of ``text`` without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_messages(self, messages: list[dict[str, Any]]) -> int:
        """Return the number of token ids of the conversation rendered with the chat template."""
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            plain = [{"role": m["role"], "content": m["content"]} for m in messages]
            text = tokenizer.apply_chat_template(plain, tokenize=False)
            return self.count_text(text)
        return sum(self.count_text(m["content"]) for m in messages)


def load_tokenizer(name_or_path: str) -> Any:
    """Return ``AutoTokenizer.from_pretrained`` of a local folder, model alias or hub id.

    Raises :class:`DependencyError` naming the tokenizer and the fix when it cannot be loaded.
    """
    try:
        from transformers import AutoTokenizer

        from harness.models.loading import tokenizer_source
        from harness.models.names import resolve_model

        source, kwargs = tokenizer_source(resolve_model(name_or_path).model)
        return AutoTokenizer.from_pretrained(source, **kwargs)
    except Exception as exc:  # any loading failure is a user-facing problem with the given name
        raise DependencyError(
            f"cannot load tokenizer {name_or_path!r}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            hint="pass a local model folder that contains tokenizer files (or a model alias such as 'tiny'); "
            "the model hub is not reachable offline",
        ) from None


def make_counter(tokenizer: str | None) -> TokenCounter:
    """Return an :class:`HFCounter` for ``tokenizer`` or the :class:`ApproxCounter` when it is ``None``."""
    return ApproxCounter() if tokenizer is None else HFCounter(tokenizer)
