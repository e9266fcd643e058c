"""harness.runs.render: the candidate x dataset table of an eval run's summary."""

from __future__ import annotations

from rich.console import Console

from harness.runs.render import summary_table


def test_one_row_per_candidate_and_dataset_with_mean_and_interval() -> None:
    summary = {"metrics": ["exact_match"], "candidates": {
        "base": {"test": {"exact_match": {"mean": 0.5, "ci": [0.25, 0.75], "n": 8}}},
        "lora": {"test": {"exact_match": {"mean": 0.875, "n": 8}, "rougeL": {"mean": None, "n": 8}}}}}
    console = Console(record=True, width=200)
    console.print(summary_table(summary, title="run x"))
    lines = console.export_text().splitlines()
    assert "run x" in lines[0]
    header = next(line for line in lines if "candidate" in line)
    assert header.index("exact_match") < header.index("rougeL")  # the suite's metrics first, then others
    base = next(line for line in lines if "base" in line and "test" in line)
    lora = next(line for line in lines if "lora" in line)
    assert "0.500 [0.250, 0.750]" in base and base.rstrip("│ ").endswith("-")
    assert "0.875" in lora and "[" not in lora.split("0.875")[1].split("│")[0] and " 8 " in lora
