"""Options and helpers shared by every command module."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $HARNESS_WORKSPACE or ./harness-workspace).",
        show_default=False,
    ),
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def open_workspace(path: Path | None):  # -> harness.workspace.Workspace
    """Open the workspace named by ``--workspace`` (or the environment / default)."""
    from harness.workspace import Workspace

    return Workspace.open(path)


def print_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (the machine-readable output of ``--json`` flags)."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str))
    sys.stdout.write("\n")


def console():  # -> rich.console.Console
    """A rich console on stdout (imported lazily)."""
    from rich.console import Console

    return Console()


def err_console():  # -> rich.console.Console
    """A rich console on stderr for progress and messages that must not pollute ``--json`` output."""
    from rich.console import Console

    return Console(stderr=True)
