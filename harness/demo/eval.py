"""The demo's evaluation stage: prompted baselines vs the trained LoRA on the ``extract`` test set.

Builds a :class:`harness.runs.suite.Suite` in Python: ``base-zero-shot`` and ``base-few-shot``
(3 examples from the training split) on the base model, plus every model the training stage
left in ``ctx.models`` (an adapter folder becomes ``model: base, adapter: folder``).
Full demo: SmolLM2-135M-Instruct, 30 test examples; ``ctx.fast``: the tiny model, 10 examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.demo.context import DemoContext

if TYPE_CHECKING:
    from harness.runs.suite import Suite

METRICS = ["json_valid", "json_schema", "exact_match"]


def base_model(ctx: DemoContext) -> str:
    """Return the base model the train stage used, else the demo's default (pulled once into the cache)."""
    if ctx.base_model:
        return str(ctx.base_model)
    from harness.models import resolve_base_model

    return resolve_base_model("tiny" if ctx.fast else "smollm2-135m-instruct")


def build_demo_suite(ctx: DemoContext) -> Suite:
    """Return the demo suite: baselines plus the trained candidates."""
    from harness.runs.suite import Suite

    files = ctx.set_files("extract", need="test")
    base = base_model(ctx)
    candidates: list[dict[str, Any]] = [
        {"name": "base-zero-shot", "model": base},
        {"name": "base-few-shot", "model": base, "prompt": {"few_shot": 3, "from": str(files["train"])}},
    ]
    for name, path in sorted(ctx.models.items()):
        if (Path(path) / "adapter_config.json").exists():
            candidates.append({"name": name, "model": base, "adapter": str(path)})
        else:
            candidates.append({"name": name, "model": str(path)})
    return Suite(name="demo-extract", datasets={"test": str(files["test"])}, candidates=candidates,
                 generation={"max_new_tokens": 96, "temperature": 0.0, "seed": 0}, metrics=METRICS)


def stage(ctx: DemoContext) -> None:
    """Run the demo suite; sets ``ctx.run_id``, prints the table, reports one line."""
    from harness.runs.render import summary_table
    from harness.runs.runner import run_suite

    suite = build_demo_suite(ctx)
    limit = 10 if ctx.fast else 30
    result = run_suite(suite, ctx.workspace, limit=limit, console=ctx.console)
    ctx.run_id = result.run_id
    ctx.console.print(summary_table(result.summary, title=f"eval run {result.run_id}"))
    parts = []
    for cand, per_ds in result.summary["candidates"].items():
        values = [f"{per_ds['test'][m]['mean']:.0%}" if (per_ds["test"].get(m) or {}).get("mean") is not None
                  else "n/a" for m in METRICS]
        parts.append(f"{cand} {'/'.join(values)}")
    generated = sum(result.generated.values())
    ctx.report("eval run", f"{result.run_id}: {'/'.join(METRICS)}: {', '.join(parts)} on {limit} extract "
               f"examples ({generated} generated, {sum(result.cached.values())} cached)")
