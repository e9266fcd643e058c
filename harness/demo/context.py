"""What the demo stages share: :class:`DemoContext`, one typed field per result a stage hands on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.workspace import Workspace

SplitFiles = dict[str, Path]
"""``{"train"|"val"|"test": path}`` of one set (a split may be absent)."""


@dataclass
class DemoContext:
    """The workspace, the demo folder and console, plus what each stage leaves for the later ones.

    ``splits`` (data stage): the split files per set. ``models`` and ``base_model`` (train stage): the
    trained candidates by name and the resolved local folder of their base model. ``run_id`` (eval
    stage): the evaluation run. ``comparison`` (compare stage): the comparison report as a dict.
    ``review`` (review stage): the human review results as dicts by batch kind (``pairwise``, ``rubric``).
    ``ab_report`` (A/B stage): the analysis report as a dict. ``summary``: the closing lines.
    """

    workspace: Workspace
    out_dir: Path
    console: Any
    fast: bool = False
    splits: dict[str, SplitFiles] = field(default_factory=dict)
    models: dict[str, Path] = field(default_factory=dict)
    base_model: str | None = None
    run_id: str | None = None
    comparison: dict[str, Any] | None = None
    review: dict[str, Any] | None = None
    ab_report: dict[str, Any] | None = None
    summary: list[tuple[str, str]] = field(default_factory=list)

    def set_files(self, name: str, *, need: str) -> SplitFiles:
        """Return the split files of the bundled set ``name``: the data stage's if it ran, else the bundled
        ones (:func:`evalsets.split_files`); raises :class:`DataError` when split ``need`` is missing."""
        import evalsets
        from harness.errors import DataError

        files = self.splits.get(name)
        if files:
            return {split: Path(path) for split, path in files.items()}
        files = evalsets.split_files(name)
        if not files[need].exists():
            raise DataError(f"{files[need]} not found: the demo needs the {need} split of the {name} set",
                            hint="run the data stage first, or generate the bundled sets "
                                 "(python -m evalsets.generate)")
        return files

    def report(self, label: str, value: str) -> None:
        """Add a line to the closing summary (``label: value``); returns nothing."""
        self.summary.append((label, value))
