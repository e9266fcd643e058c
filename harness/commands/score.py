"""``harness score PREDICTIONS.jsonl --metrics a,b,c [--out DIR] [--json]``: score outputs without a model."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.commands._common import JsonOption, WorkspaceOption


def score(
    predictions: Annotated[Path, typer.Argument(help="JSONL file: {\"id\", \"prediction\", \"reference\", "
                                                     "\"schema\"?, \"label\"?, \"metadata\"?} per line.")],
    metrics: Annotated[str, typer.Option("--metrics", "-m", help="Comma-separated metric names, e.g. exact_match,rougeL.")] = "exact_match,rougeL",
    out: Annotated[Path | None, typer.Option("--out", help="Folder for scores.jsonl (per example) and summary.json.")] = None,
    schema: Annotated[Path | None, typer.Option("--schema", help="JSON Schema file for json_schema when lines carry none.")] = None,
    slice_by: Annotated[str | None, typer.Option("--slice", help="Metadata field to report per-slice results for.")] = None,
    interval: Annotated[str, typer.Option("--interval", help="auto (Wilson for 0/1 metrics, t otherwise), t or bca.")] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Replace scores.jsonl and summary.json in --out.")] = False,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Score a predictions file; prints mean and 95% interval per metric (JSON with --json)."""
    from harness.commands._common import console, print_json
    from harness.compare import load_predictions, parse_metric_names
    from harness.errors import HarnessError
    from harness.stats.summary import summarize_outputs

    if interval not in ("auto", "t", "bca"):
        raise HarnessError(f"unknown --interval {interval!r}", hint="use auto, t or bca")
    if out is not None:
        from harness.io import check_outputs

        check_outputs([out / "scores.jsonl", out / "summary.json"],
                      inputs=[predictions, *([schema] if schema is not None else [])], force=force)
    names = parse_metric_names([metrics])
    if not names:
        raise HarnessError("no metrics given", hint="pass --metrics exact_match,rougeL")
    if out is not None and out.exists() and not out.is_dir():
        raise HarnessError(f"--out {out} is a file; it names the folder for scores.jsonl and summary.json",
                           hint="pass a folder path (it is created if missing)")
    settings = {}
    if schema is not None:
        from harness.config_files import read_config_text

        if not schema.is_file():
            raise HarnessError(f"--schema {schema}: no such file" if not schema.exists() else
                               f"--schema {schema}: is a folder, not a file", hint="pass a JSON Schema file")
        try:
            settings["json_schema"] = {"schema": json.loads(read_config_text(schema, kind="JSON Schema"))}
        except json.JSONDecodeError as exc:
            raise HarnessError(f"--schema {schema}: invalid JSON at line {exc.lineno}: {exc.msg}",
                               hint="pass a JSON Schema file") from None
    from harness.metrics._shared import paused_gc
    from harness.metrics.base import metric_info, score_examples

    with paused_gc():  # tens of thousands of small objects, no cycles: collector passes would cost a third
        examples = load_predictions(predictions)
        outputs = score_examples(examples, names, settings)
    summary = summarize_outputs(len(examples), outputs, [dict(e.metadata) for e in examples], slice_by,
                                method=interval, bounds={name: metric_info(name).bounds for name in outputs})
    if out is not None:
        _write_outputs(out, [e.id for e in examples], outputs, summary)
    if json_output:
        print_json(summary)
        return
    from rich.table import Table

    table = Table(title=f"{predictions.name}: {summary['n']} examples")
    for column in ("metric", "mean", "95% CI", "n", "interval"):
        table.add_column(column)
    for name, entry in summary["metrics"].items():
        lo, hi = entry["ci"] if entry["ci"] else (None, None)
        table.add_row(name, _f(entry["mean"]), f"[{_f(lo)}, {_f(hi)}]", str(entry["n"]), entry["method"])
    con = console()
    con.print(table)
    for name, slices in summary.get("slices", {}).items():
        for s in slices:
            con.print(f"  {name} {slice_by}={s['value']}: {_f(s['mean'])} [{_f(s['ci'][0])}, {_f(s['ci'][1])}] n={s['n']}", markup=False)
    if out is not None:
        con.print(f"wrote {out / 'scores.jsonl'} and {out / 'summary.json'}")


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _write_outputs(out: Path, ids: list[str], outputs: dict, summary: dict) -> None:
    """Write ``scores.jsonl`` (``{"id", metric: value}`` per example, the run-folder format) and ``summary.json``."""
    from harness.io import atomic_write, write_json

    encode = json.JSONEncoder(ensure_ascii=False).encode
    # each line is json.dumps({"id": ..., metric: value, ...}, ensure_ascii=False), built column by column
    columns = [[f"{encode(name)}: {value}" for value in _encoded_values(o.per_example, encode)]
               for name, o in outputs.items()]
    with atomic_write(out / "scores.jsonl") as handle:
        handle.writelines(f'{{"id": {encode(example_id)}, {", ".join(cells)}}}\n' if cells else
                          f'{{"id": {encode(example_id)}}}\n' for example_id, *cells in zip(ids, *columns, strict=True))
    write_json(out / "summary.json", summary)


def _encoded_values(values: Sequence[Any], encode: Callable[[Any], str]) -> list[str]:
    """JSON text of each value, NaN and infinities as null (``harness.io.json_safe``'s rule)."""
    from harness.io import json_safe

    if all(type(v) is float for v in values):
        return [float.__repr__(v) if math.isfinite(v) else "null" for v in values]
    return [encode(json_safe(v)) for v in values]
