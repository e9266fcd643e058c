"""The data layer: the chat-JSONL format, validation, leakage-free splits and dataset reports.

Import the submodules directly (``harness.data.split``, ``harness.data.validate``,
``harness.data.report``); this package imports nothing heavy.
"""
