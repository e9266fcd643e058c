"""``harness data ...``: validate, split and report chat-JSONL datasets."""

from __future__ import annotations

import typer

app = typer.Typer(help="Validate, split and profile chat-JSONL datasets.", no_args_is_help=True)
