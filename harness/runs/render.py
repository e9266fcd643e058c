"""Printing an eval run's summary: the candidate x dataset table that ``harness eval`` and the demo show."""

from __future__ import annotations

from typing import Any


def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("mean") is None:
        return "-"
    text = f"{entry['mean']:.3f}"
    if entry.get("ci"):
        low, high = entry["ci"]
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def summary_table(summary: dict[str, Any], *, title: str = "") -> Any:
    """Return a rich table: one row per candidate x dataset, one column per metric (mean [95% CI])."""
    from rich.table import Table

    metrics: list[str] = list(summary.get("metrics") or [])
    for per_ds in summary.get("candidates", {}).values():
        for values in per_ds.values():
            metrics.extend(m for m in values if m not in metrics)
    table = Table(title=title or None)
    table.add_column("candidate")
    table.add_column("dataset")
    table.add_column("n", justify="right")
    for name in metrics:
        table.add_column(name, justify="right")
    for cand, per_ds in summary.get("candidates", {}).items():
        for ds, values in per_ds.items():
            n = max((v.get("n", 0) for v in values.values()), default=0)
            table.add_row(cand, ds, str(n), *[_fmt(values.get(m)) for m in metrics])
    return table
