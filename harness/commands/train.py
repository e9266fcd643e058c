"""``harness train``."""

from __future__ import annotations

from harness.commands._common import WorkspaceOption


def train(workspace: WorkspaceOption = None) -> None:
    """(being built)"""
    from harness.errors import HarnessError

    raise HarnessError("`harness train` is not available yet")
