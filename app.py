"""The harness app: ``streamlit run app.py [-- --workspace DIR]`` or ``harness app [--workspace DIR]``.

A leaf over the workspace (the import-linter contract ``app-leaf`` in pyproject.toml): the pages import
``harness`` and read through the same Python API the CLI uses, on read-only connections, so the app works
while a run or the gateway writes. One page per file under ``app_pages/`` (listed in ``app_pages.common.PAGES``
for ``st.navigation``; not ``pages/``, whose files Streamlit would also list on its own when a page's
URL is opened directly).
"""

from __future__ import annotations

import streamlit as st

from app_pages.common import PAGES, workspace_sidebar

st.set_page_config(page_title="harness", page_icon="🧪", layout="wide")
navigation = st.navigation([st.Page(path, title=title, icon=icon, url_path=url, default=index == 0)
                            for index, (path, title, icon, url) in enumerate(PAGES)])
workspace_sidebar()
navigation.run()
