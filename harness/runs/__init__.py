"""Eval runs: suites, prompt building, the runner, the run folder, and the summary table (``render``)."""
