"""What the app (and reports) show, as data: tables and records built from the workspace, no UI.

One module per view (``leaderboard``, ``outputs``, ``ab``, ``training`` ...). Each function takes an
Engine or a workspace folder and returns frozen dataclasses or pandas DataFrames that a page renders as
it likes, so every figure the app shows is tested without Streamlit. Nothing here imports Streamlit
(the app, ``app.py`` and ``pages/``, is a leaf that imports this package).
"""
