"""``harness demo``: the product's front door, run end to end on embedded defaults.

One module per stage (``harness/demo/<stage>.py``), each with ``stage(ctx: DemoContext) -> None``
that reads what earlier stages left in the typed :class:`DemoContext` and sets its own fields. Stage
modules are imported only when they run. Only ``harness.commands`` imports this package.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from harness.demo.context import DemoContext, SplitFiles
from harness.workspace import Workspace

# Order matters: data -> train -> evaluate -> compare -> human review -> A/B. (name, module under harness.demo)
STAGES: list[tuple[str, str]] = [
    ("data", "harness.demo.data"),
    ("train", "harness.demo.train"),
    ("eval", "harness.demo.eval"),
    ("compare", "harness.demo.compare"),
    ("review", "harness.demo.review"),
    ("ab", "harness.demo.ab"),
]

__all__ = ["STAGES", "DemoContext", "SplitFiles", "run_demo", "stage_names"]


def stage_names() -> list[str]:
    """Return the stage names in the order they run."""
    return [name for name, _ in STAGES]


def run_demo(workspace: Workspace, console: Any, *, stages: list[str] | None = None,
             fast: bool = False) -> DemoContext:
    """Run the demo stages in order (all, or those named) and return the shared context."""
    ctx = DemoContext(workspace=workspace, out_dir=workspace.folder("demo"), console=console, fast=fast)
    selected = [(name, module) for name, module in STAGES if not stages or name in stages]
    for index, (name, module) in enumerate(selected, start=1):
        console.rule(f"[bold]stage {index}/{len(selected)}: {name}")
        started = time.perf_counter()
        importlib.import_module(module).stage(ctx)
        console.print(f"[dim]{name} done in {time.perf_counter() - started:.1f}s")
    console.rule("[bold]results")
    for label, value in ctx.summary:
        console.print(f"{label}: {value}")
    console.print(f"workspace: {workspace.root}")
    console.print(f"open the app on it: harness app --workspace {workspace.root}")
    return ctx
