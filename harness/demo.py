"""``harness demo``: the product's front door, run end to end on embedded defaults.

Each capability adds one stage here when it lands. A stage is a function ``stage(ctx) -> None``
that reads what earlier stages left in ``ctx.artifacts`` and adds its own results there.
Stages are listed as ``"module:function"`` strings and imported only when they run.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.workspace import Workspace

# Order matters: data -> train -> evaluate -> compare -> A/B.
STAGES: list[tuple[str, str]] = [
    ("data", "harness.data.demo:stage"),
    ("train", "trainers.demo:stage"),
    ("eval", "harness.runs.demo:stage"),
    ("compare", "harness.compare.demo:demo_stage"),
    ("ab", "harness.ab.demo:stage"),
]


@dataclass
class DemoContext:
    """What the stages share: the workspace, the demo folder, a console and named artifacts.

    Artifact keys used by the stages: ``splits`` (``{set_name: {"train"|"val"|"test": Path}}``),
    ``models`` (``{name: path}``), ``run_id`` (the evaluation run), ``summaries`` (printed at the end).
    """

    workspace: Workspace
    out_dir: Path
    console: Any
    fast: bool = False
    artifacts: dict[str, Any] = field(default_factory=dict)
    summary: list[tuple[str, str]] = field(default_factory=list)

    def set_files(self, name: str, *, need: str) -> dict[str, Path]:
        """Split files of the bundled set ``name`` (``train``/``val``/``test``): the data stage's if it ran,
        else the bundled ones under ``evalsets/``; raises :class:`DataError` when split ``need`` is missing."""
        from harness.errors import DataError

        files = (self.artifacts.get("splits") or {}).get(name)
        if files:
            return {split: Path(path) for split, path in files.items()}
        root = Path(__file__).resolve().parents[1] / "evalsets" / name
        files = {split: root / f"{split}.jsonl" for split in ("train", "val", "test")}
        if not files[need].exists():
            raise DataError(f"{files[need]} not found: the demo needs the {need} split of the {name} set",
                            hint="run the data stage first, or generate the bundled sets (python -m evalsets.generate)")
        return files

    def report(self, label: str, value: str) -> None:
        """Add a line to the closing summary (``label: value``)."""
        self.summary.append((label, value))


def run_demo(workspace: Workspace, console: Any, *, stages: list[str] | None = None, fast: bool = False) -> DemoContext:
    """Run the demo stages in order (all, or those named) and return the shared context."""
    ctx = DemoContext(workspace=workspace, out_dir=workspace.folder("demo"), console=console, fast=fast)
    selected = [(name, target) for name, target in STAGES if not stages or name in stages]
    for index, (name, target) in enumerate(selected, start=1):
        console.rule(f"[bold]stage {index}/{len(selected)}: {name}")
        started = time.perf_counter()
        module_name, function_name = target.split(":")
        getattr(importlib.import_module(module_name), function_name)(ctx)
        console.print(f"[dim]{name} done in {time.perf_counter() - started:.1f}s")
    console.rule("[bold]results")
    for label, value in ctx.summary:
        console.print(f"{label}: {value}")
    console.print(f"workspace: {workspace.root}")
    return ctx
