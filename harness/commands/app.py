"""``harness app``: open the Streamlit app on a workspace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.commands._common import WorkspaceOption


def find_app_script() -> Path | None:
    """Return the repository's ``app.py`` (beside the ``harness`` package, or in the current folder), or None."""
    import harness

    for folder in (Path(harness.__file__).resolve().parents[1], Path.cwd()):
        script = folder / "app.py"
        if script.is_file() and (folder / "app_pages" / "common.py").is_file():
            return script
    return None


def app_command(script: Path, workspace: Path, host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line serving ``script`` on ``host:port`` over ``workspace``.

    No file watcher: Streamlit's watches the app's folder recursively for source edits, and runs and the
    gateway write to the workspace (by default inside that folder) all the time; the watcher's inotify
    queue overflowed and it re-walked the tree, taking most of a core and doubling page load times.
    """
    return [sys.executable, "-m", "streamlit", "run", str(script),
            "--server.address", host, "--server.port", str(port), "--server.headless", "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
            "--", "--workspace", str(workspace)]


def app(
    workspace: WorkspaceOption = None,
    port: Annotated[int, typer.Option("--port", help="Port to serve the app on.")] = 8501,
    host: Annotated[str, typer.Option("--host", help="Address to bind (default: this machine only).")] = "127.0.0.1",
) -> None:
    """Open the Streamlit app (leaderboard, outputs, review, A/B, training) on the workspace."""
    from harness.errors import HarnessError
    from harness.workspace import resolve_workspace_path

    script = find_app_script()
    if script is None:
        raise HarnessError("app.py was not found: the app ships with the repository, not the wheel",
                           hint="clone the repository and install it with `pip install -e .`, then run "
                                "`harness app` (or `streamlit run app.py`) from its folder")
    root = resolve_workspace_path(workspace or os.environ.get("HARNESS_WORKSPACE"))
    command = app_command(script, root, host, port)
    typer.echo(f"harness app on http://{host}:{port} (workspace {root}); Ctrl+C stops it")
    try:
        raise typer.Exit(subprocess.call(command, cwd=script.parent))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
