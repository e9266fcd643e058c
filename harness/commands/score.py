"""``harness score``."""

from __future__ import annotations

from harness.commands._common import WorkspaceOption


def score(workspace: WorkspaceOption = None) -> None:
    """(being built)"""
    from harness.errors import HarnessError

    raise HarnessError("`harness score` is not available yet")
