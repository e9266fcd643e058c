"""User-facing errors.

Every error a user can cause (bad file, bad flag, bad config) is raised as :class:`HarnessError`
with a message that names the value, where it came from and how to fix it. The CLI prints it
without a traceback and exits with ``exit_code``.
"""

from __future__ import annotations


class HarnessError(Exception):
    """An error caused by user input; printed by the CLI as ``error: <message>`` (plus ``hint``)."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(HarnessError):
    """A YAML/JSON config or suite file is invalid; the message names the file and field."""


class DataError(HarnessError):
    """An input data file cannot be used; the message names the file and line."""


class DependencyError(HarnessError):
    """An optional dependency or hardware (GPU, vllm, bitsandbytes) is missing for what was asked."""
