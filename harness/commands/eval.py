"""``harness eval``."""

from __future__ import annotations

from harness.commands._common import WorkspaceOption


def eval(workspace: WorkspaceOption = None) -> None:
    """(being built)"""
    from harness.errors import HarnessError

    raise HarnessError("`harness eval` is not available yet")
