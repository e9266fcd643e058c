"""``harness demo``."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.commands._common import WorkspaceOption, console, open_workspace


def demo(
    workspace: WorkspaceOption = None,
    stage: Annotated[
        list[str] | None,
        typer.Option("--stage", help="Run only this stage (repeatable): data, train, eval, compare, review, ab."),
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Smaller sizes everywhere (used by the tests).")] = False,
) -> None:
    """Run the whole workflow on bundled data and a small model: no GPU, hub or server needed."""
    from harness.demo import run_demo, stage_names
    from harness.errors import HarnessError

    known = stage_names()
    for name in stage or []:
        if name not in known:
            raise HarnessError(f"unknown demo stage {name!r}", hint=f"choose from: {', '.join(known)}")
    run_demo(open_workspace(workspace), console(), stages=stage, fast=fast)
