"""``harness compare``."""

from __future__ import annotations

from harness.commands._common import WorkspaceOption


def compare(workspace: WorkspaceOption = None) -> None:
    """(being built)"""
    from harness.errors import HarnessError

    raise HarnessError("`harness compare` is not available yet")
