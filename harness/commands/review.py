"""``harness review ...``: human review queues built from eval runs (enqueue, next/submit/skip, status,
export/import, results, list).

Reviewers see a blind task: the input, the reference and the output(s), pairwise outputs as "A" (left)
and "B" (right), never the candidates' names or other reviewers' answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from harness.commands._common import JsonOption, WorkspaceOption, console, open_workspace, print_json

app = typer.Typer(help="Human review queues: blind rubric and pairwise reviews of a run's outputs, agreement, "
                  "win rates, metric-human agreement.", no_args_is_help=True)

KINDS = ("rubric", "pairwise")
STRATEGIES = ("random", "disagreement", "low-score", "stratified:FIELD")
CHOICES = ("left", "right", "tie")
FORMATS = ("jsonl", "csv")

BatchArg = Annotated[str, typer.Argument(metavar="BATCH", help="Batch id (rb-...; `harness review list` shows them).")]
ItemArg = Annotated[str, typer.Argument(metavar="ITEM", help="Item id (<batch>-<position>, printed by `harness review next`).")]
ReviewerOpt = Annotated[str, typer.Option("--reviewer", "-r", help="Your reviewer name.")]


def _split_names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    return names or None


def _check_strategy(strategy: str) -> None:
    from harness.errors import HarnessError

    if strategy in ("random", "disagreement", "low-score"):
        return
    if strategy.startswith("stratified:") and strategy.split(":", 1)[1].strip():
        return
    raise HarnessError(f"unknown --strategy {strategy!r}",
                       hint=f"choose from: {', '.join(STRATEGIES)} (FIELD: a metadata field of the examples)")


def batch_dict(batch: Any) -> dict[str, Any]:
    """Return a :class:`harness.review.queue.BatchInfo` as a JSON-ready dict (the rubric as its dict)."""
    return {"id": batch.id, "run_id": batch.run_id, "dataset": batch.dataset, "kind": batch.kind,
            "strategy": batch.strategy, "overlap": batch.overlap, "candidates": list(batch.candidates),
            "rubric": batch.rubric.to_dict() if batch.rubric is not None else None, "n_items": batch.n_items,
            "lease_s": batch.lease_s, "created_at": batch.created_at}


@app.command("enqueue")
def enqueue(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="Run id or `latest`.")],
    candidates: Annotated[str | None, typer.Option("--candidates", help="Comma-separated candidates (pairwise: "
                                                   "exactly two; default: every candidate of the run).")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Dataset of the run (default: its first "
                                                "non-general one).")] = None,
    n: Annotated[int, typer.Option("--n", help="Number of examples to sample.")] = 20,
    kind: Annotated[str, typer.Option("--kind", help="rubric (rate one output) or pairwise (blind A/B).")] = "rubric",
    strategy: Annotated[str, typer.Option("--strategy", help="random, disagreement, low-score or "
                                          "stratified:FIELD.")] = "random",
    overlap: Annotated[int, typer.Option("--overlap", help="Reviewers per item.")] = 1,
    rubric: Annotated[Path | None, typer.Option("--rubric", help="Rubric YAML (default: the support rubric: "
                                                "helpfulness, policy, accuracy, tone, comment).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Sampling and left/right order seed.")] = 0,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Build a review batch from a stored run's predictions."""
    from harness.errors import HarnessError

    if kind not in KINDS:
        raise HarnessError(f"unknown --kind {kind!r}", hint="use --kind rubric or --kind pairwise")
    _check_strategy(strategy)
    if n < 1:
        raise HarnessError(f"--n {n} must be at least 1")
    if overlap < 1:
        raise HarnessError(f"--overlap {overlap} must be at least 1", hint="--overlap K: K reviewers per item")
    if rubric is not None and kind == "pairwise":
        raise HarnessError("--rubric applies to rubric batches only", hint="drop --rubric or use --kind rubric")
    from harness.review.rubric import load_rubric
    from harness.review.sampling import build_batch

    ws = open_workspace(workspace)
    loaded = load_rubric(rubric) if rubric is not None else None
    batch = build_batch(ws.engine, ws.root, run_id, candidates=_split_names(candidates), dataset=dataset, n=n,
                        kind=kind, strategy=strategy, overlap=overlap, rubric=loaded, seed=seed)
    if json_output:
        print_json(batch_dict(batch))
        return
    out = console()
    shown = " vs ".join(batch.candidates) if batch.kind == "pairwise" else ", ".join(batch.candidates)
    out.print(f"batch {batch.id}: {batch.n_items} {batch.kind} items from run {batch.run_id} "
              f"({shown}; dataset {batch.dataset}, strategy {batch.strategy}, overlap {batch.overlap})",
              markup=False, highlight=False)
    out.print(f"next: harness review next {batch.id} --reviewer NAME", markup=False, highlight=False)


def task_dict(task: Any) -> dict[str, Any]:
    """Return a :class:`harness.review.queue.ReviewTask` as a JSON-ready dict: outputs labelled "A"/"B"
    (left/right) for pairwise, "output" for rubric; the rubric fields with their allowed values."""
    labels = [("A", "left"), ("B", "right")] if task.kind == "pairwise" else [("output", None)]
    outputs = [{"label": label, "side": side, "text": text} for (label, side), text in zip(labels, task.outputs, strict=True)]
    fields = []
    if task.rubric is not None:
        fields = [{"name": f.name, "type": f.type, "low": f.low, "high": f.high, "required": f.required,
                   "allowed": f.allowed(), "guideline": f.guideline} for f in task.rubric.fields]
    return {"item_id": task.item_id, "batch_id": task.batch_id, "kind": task.kind, "position": task.position,
            "n_items": task.n_items, "lease_expires_at": task.lease_expires_at, "guideline": task.guideline,
            "messages": [dict(m) for m in task.messages], "reference": task.reference, "outputs": outputs,
            "rubric": task.rubric.name if task.rubric is not None else None, "fields": fields,
            "choices": list(CHOICES) if task.kind == "pairwise" else []}


def _submit_hint(task: Any, reviewer: str) -> str:
    base = f"harness review submit {task.item_id} --reviewer {reviewer}"
    if task.kind == "pairwise":
        return f"{base} --choice left|right|tie   (left = A, right = B)"
    sets = []
    for f in task.rubric.fields if task.rubric is not None else ():
        value = {"scale": f"{f.low}..{f.high}", "yes_no": "yes|no"}.get(f.type, "TEXT")
        sets.append(f"--set {f.name}={value}" if f.required or f.type != "text" else f"[--set {f.name}={value}]")
    return f"{base} {' '.join(sets)}"


def _print_task(task: Any, reviewer: str) -> None:
    from rich.panel import Panel
    from rich.text import Text

    out = console()
    out.print(Text(f"batch {task.batch_id} · item {task.position + 1}/{task.n_items} ({task.item_id}) · "
                   f"{task.kind} · lease until {task.lease_expires_at}", style="bold"), soft_wrap=True)
    if task.guideline:
        out.print(Text(f"guideline: {task.guideline}"))
    conversation = "\n\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in task.messages)
    out.print(Panel(Text(conversation or "(no input)"), title="input", title_align="left"))
    if task.reference is not None:
        out.print(Panel(Text(task.reference), title="reference", title_align="left"))
    for entry in task_dict(task)["outputs"]:
        title = f"output {entry['label']} ({entry['side']})" if entry["side"] else "output"
        out.print(Panel(Text(entry["text"]), title=title, title_align="left"))
    if task.rubric is not None:
        shown = task.rubric.guideline if task.rubric.guideline and task.rubric.guideline != task.guideline else ""
        out.print(Text(f"rubric {task.rubric.name}" + (f": {shown}" if shown else ""), style="bold"))
        for f in task.rubric.fields:
            optional = "" if f.required else " (optional)"
            line = f"  {f.name}: {f.allowed()}{optional}" + (f" - {f.guideline}" if f.guideline else "")
            out.print(Text(line))
    else:
        out.print(Text("which output is better? left (A), right (B) or tie", style="bold"))
    out.print(Text(f"answer: {_submit_hint(task, reviewer)}"), soft_wrap=True)  # one line, to copy


@app.command("next")
def next_task(
    batch_id: BatchArg,
    reviewer: ReviewerOpt,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Claim the next item of a batch for a reviewer and print the task (exit 0 with a message when none is left)."""
    from harness.review.queue import next_item

    task = next_item(open_workspace(workspace).engine, batch_id, reviewer)
    if json_output:
        print_json({"batch_id": batch_id, "reviewer": reviewer,
                    "task": task_dict(task) if task is not None else None})
        return
    if task is None:
        console().print(f"nothing left for {reviewer} in batch {batch_id}", markup=False, highlight=False)
        return
    _print_task(task, reviewer)


def parse_sets(values: list[str] | None) -> dict[str, str]:
    """Return ``{field: value}`` from ``--set field=value`` flags; raises :class:`HarnessError` (exit 2) for a
    flag without ``=`` or a field given twice."""
    from harness.errors import HarnessError

    parsed: dict[str, str] = {}
    for raw in values or []:
        name, sep, value = raw.partition("=")
        name = name.strip()
        if not sep or not name:
            raise HarnessError(f"--set {raw!r} is not FIELD=VALUE", hint="e.g. --set helpfulness=4 --set tone_appropriate=yes")
        if name in parsed:
            raise HarnessError(f"--set {name} given twice")
        parsed[name] = value.strip()
    return parsed


def label_dict(label: Any) -> dict[str, Any]:
    """Return what a reviewer may see of their own :class:`harness.review.queue.LabelRecord` (no candidate
    names: a pairwise review stays blind)."""
    return {"item_id": label.item_id, "batch_id": label.batch_id, "reviewer": label.reviewer, "kind": label.kind,
            "values": dict(label.values), "submitted_at": label.submitted_at, "source": label.source}


@app.command("submit")
def submit(
    item_id: ItemArg,
    reviewer: ReviewerOpt,
    set_values: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE for a rubric item (repeat "
                                                         "per field).")] = None,
    choice: Annotated[str | None, typer.Option("--choice", help="Pairwise item: left (A), right (B) or tie.")] = None,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Submit a review of a claimed item (a retried submit is not counted twice)."""
    from harness.errors import HarnessError

    values = parse_sets(set_values)
    if bool(values) == (choice is not None):
        raise HarnessError("give either --set FIELD=VALUE ... (rubric item) or --choice left|right|tie "
                           "(pairwise item)", hint="`harness review next BATCH --reviewer NAME` shows which")
    if choice is not None and choice not in CHOICES:
        raise HarnessError(f"--choice {choice!r} is not one of left, right, tie", hint="left = A, right = B")
    from harness.review import queue

    engine = open_workspace(workspace).engine
    if choice is not None:
        label = queue.submit(engine, item_id, reviewer, choice=choice)
    else:
        label = queue.submit(engine, item_id, reviewer, values)
    if json_output:
        print_json(label_dict(label))
        return
    shown = ", ".join(f"{k}={v}" for k, v in label.values.items())
    console().print(f"recorded {reviewer}'s review of {item_id}: {shown}", markup=False, highlight=False)


@app.command("skip")
def skip(
    item_id: ItemArg,
    reviewer: ReviewerOpt,
    workspace: WorkspaceOption = None,
) -> None:
    """Release a claimed item without reviewing it (it is not offered to this reviewer again)."""
    from harness.review.queue import skip as skip_item

    skip_item(open_workspace(workspace).engine, item_id, reviewer)
    console().print(f"skipped {item_id} for {reviewer}; it goes back to the queue for others",
                    markup=False, highlight=False)


@app.command("status")
def status(
    batch_id: Annotated[str | None, typer.Argument(metavar="BATCH", help="Batch id (default: every batch).")] = None,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Progress per batch and per reviewer."""
    from rich.table import Table

    from harness.review.queue import batch_status

    rows = batch_status(open_workspace(workspace).engine, batch_id)
    if json_output:
        print_json({"batches": rows})
        return
    out = console()
    if not rows:
        out.print("no review batches; create one with `harness review enqueue RUN_ID`", markup=False)
        return
    for row in rows:
        table = Table(title=f"batch {row['batch_id']}: {row['n_items']} items x {row['overlap']} reviewers: "
                      f"{row['done']} done, {row['in_progress']} in progress, {row['remaining']} remaining",
                      title_justify="left")
        for column in ("reviewer", "submitted", "skipped", "claimed"):
            table.add_column(column, justify="left" if column == "reviewer" else "right")
        for name, counts in sorted(row.get("reviewers", {}).items()):
            table.add_row(name, *(str(counts.get(k, 0)) for k in ("submitted", "skipped", "claimed")))
        out.print(table)


@app.command("export")
def export(
    batch_id: BatchArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Write a batch's labels to a JSONL or CSV file (one row per label)."""
    from harness.errors import HarnessError

    if fmt not in FORMATS:
        raise HarnessError(f"unknown --format {fmt!r}", hint="use --format jsonl or --format csv")
    from harness.io import check_outputs

    ws = open_workspace(workspace)
    url = ws.engine.url
    database = url.database if url.get_backend_name() == "sqlite" and url.database else None
    check_outputs([out], inputs=[database] if database else [], force=force)
    from harness.review.io import export_labels

    n = export_labels(ws.engine, batch_id, out, format=fmt)
    console().print(f"wrote {n} labels of batch {batch_id} to {out}", markup=False, highlight=False)


@app.command("import")
def import_(
    batch_id: BatchArg,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Labels file (.jsonl or .csv, the export format).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Import labels made elsewhere (validated against the batch's rubric; all or nothing)."""
    from harness.review.io import import_file

    n = import_file(open_workspace(workspace).engine, batch_id, file)
    console().print(f"imported {n} labels into batch {batch_id}", markup=False, highlight=False)


@app.command("results")
def results(
    batch_id: BatchArg,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Agreement per rubric field, win rates, rubric means and metric-human agreement of a batch."""
    from harness.errors import HarnessError

    if not 0 < alpha < 1:
        raise HarnessError(f"--alpha {alpha} must be between 0 and 1")
    from harness.review.queue import get_batch, items, labels
    from harness.review.results import render_results, review_results

    engine = open_workspace(workspace).engine
    batch = get_batch(engine, batch_id)
    result = review_results(batch, items(engine, batch_id), labels(engine, batch_id), alpha=alpha)
    if json_output:
        print_json(result.as_dict())
        return
    render_results(result, console())


@app.command("list")
def list_batches(json_output: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """List the review batches of the workspace."""
    from harness.review.queue import list_batches as _list

    batches = _list(open_workspace(workspace).engine)
    if json_output:
        print_json({"batches": [batch_dict(b) for b in batches]})
        return
    out = console()
    if not batches:
        out.print("no review batches; create one with `harness review enqueue RUN_ID`", markup=False)
        return
    for b in batches:
        shown = " vs ".join(b.candidates) if b.kind == "pairwise" else ", ".join(b.candidates)
        out.print(f"{b.id}  {b.kind}  {b.n_items} items x {b.overlap} reviewer{'s' if b.overlap != 1 else ''}  {shown}  run {b.run_id} "
                  f"({b.dataset})  {b.strategy}  {b.created_at[:16].replace('T', ' ')}",
                  markup=False, highlight=False, soft_wrap=True)
