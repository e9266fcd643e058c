"""What every page shares: the workspace (read-only, cached), the sidebar, empty states, cache timing.

Streamlit lives here and in the page scripts only; the data each page shows comes from ``harness``
(mostly :mod:`harness.report`), so it can be tested without Streamlit.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from harness.workspace import Workspace

# (script, title, icon, url path); the first is the default page.
PAGES: list[tuple[str, str, str, str]] = [
    ("app_pages/leaderboard.py", "Leaderboard", ":material/leaderboard:", "leaderboard"),
    ("app_pages/compare_outputs.py", "Compare outputs", ":material/compare:", "outputs"),
    ("app_pages/review.py", "Review", ":material/rate_review:", "review"),
    ("app_pages/ab.py", "A/B", ":material/call_split:", "ab"),
    ("app_pages/training.py", "Training and data", ":material/model_training:", "training"),
]

#: Seconds a cached query result is reused before the page reads the store again.
CACHE_TTL_S = 10

_WORKSPACE_KEY = "harness_workspace"


def _default_workspace() -> str:
    """``--workspace DIR`` after ``--`` on the ``streamlit run`` line, else ``$HARNESS_WORKSPACE``, else default."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--workspace", "-w")
    known, _ = parser.parse_known_args(sys.argv[1:])
    from harness.workspace import resolve_workspace_path

    return str(resolve_workspace_path(known.workspace or os.environ.get("HARNESS_WORKSPACE")))


def workspace_root() -> str:
    """The workspace folder this session shows (chosen in the sidebar; the default on first load)."""
    if _WORKSPACE_KEY not in st.session_state:
        st.session_state[_WORKSPACE_KEY] = _default_workspace()
    return str(st.session_state[_WORKSPACE_KEY])


def workspace_sidebar() -> None:
    """Show the workspace folder in the sidebar, editable; returns nothing."""
    root = workspace_root()
    st.sidebar.text_input("Workspace", key=_WORKSPACE_KEY,
                          help="The folder `harness` commands write to (--workspace / $HARNESS_WORKSPACE).")
    st.sidebar.caption(f"`{root}`")
    if st.sidebar.button("Refresh data", icon=":material/refresh:", help="Read the store again now."):
        st.cache_data.clear()


@st.cache_resource(show_spinner=False)
def _open(root: str) -> Workspace:
    from harness.workspace import Workspace

    return Workspace.open_read_only(root)


def workspace(root: str | None = None) -> Workspace:
    """The read-only :class:`~harness.workspace.Workspace` at ``root`` (default: this session's), cached."""
    return _open(root or workspace_root())


def engine_or_stop(root: str | None = None, *, command: str = "harness demo") -> Engine:
    """The workspace's read-only engine; when there is no database yet, show the empty state and stop."""
    from harness.errors import HarnessError
    from harness.store import EmptyStoreError

    root = root or workspace_root()
    try:
        return workspace(root).engine
    except EmptyStoreError:
        _open.clear()
        empty_state(f"No harness data in `{root}` yet.", command)
    except HarnessError as exc:
        _open.clear()
        st.error(str(exc))
        st.stop()
    raise AssertionError("unreachable: st.stop() ends the script")


def empty_state(message: str, command: str) -> None:
    """Say what is missing and the command that makes it, then stop the page."""
    st.info(message, icon=":material/inbox:")
    st.markdown("Create it with:")
    st.code(command, language="bash")
    st.stop()


def workspace_path(*parts: str) -> Path:
    """A path inside this session's workspace folder (nothing is created)."""
    return Path(workspace_root()).joinpath(*parts)


def writable_workspace(root: str | None = None) -> Workspace:
    """The workspace at ``root`` (default: this session's) opened for writing, for an explicit user action
    (submitting a review, enqueueing examples). Reads go through :func:`workspace` (read-only)."""
    from harness.workspace import Workspace

    return Workspace.open(root or workspace_root(), create=False)
