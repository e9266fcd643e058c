"""The app's pages (Streamlit scripts, one per page) and what they share (:mod:`app_pages.common`).

Nothing in ``harness``, ``trainers`` or ``evalsets`` imports this package (contract ``app-leaf``).
"""
