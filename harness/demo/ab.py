"""The demo's A/B stage: the fine-tuned model against the base model, analysed and decided.

After the train stage (``ctx.models`` and ``ctx.base_model`` set) the A/B test runs through the
gateway (:mod:`harness.ab.gateway`): experiment ``demo-gateway``, control ``base`` (the base model
with a 3-shot prompt from the ``extract`` training split, as the eval stage's ``base-few-shot``)
against the LoRA candidate, 50/50, served in-process on a free loopback port. Held-out ``extract``
test queries are replayed as simulated users over 14 simulated days (:mod:`harness.ab.replay`),
every answer judged against its reference and posted back as the ``resolved`` outcome; the
experiment's gateway events are then analysed. With this little traffic the decision is often
``keep_running``: that is the honest answer.

Without a trained model (``harness demo --stage ab``) the stage simulates a 14-day experiment
instead: the candidate completes ~8% more tasks with no guardrail harm (the outcome a successful
fine-tune should produce), written to the workspace store and analysed the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.demo.context import DemoContext

EXPERIMENT = "demo-finetune-vs-base"
GATEWAY_EXPERIMENT = "demo-gateway"
FAST_USERS, FULL_USERS = 40, 15  # x REQUESTS_PER_USER: 80 requests on the tiny model, 30 on SmolLM2
REQUESTS_PER_USER = 2
MAX_NEW_TOKENS = 96  # as the eval stage


def stage(ctx: DemoContext) -> None:
    """Run the A/B test (through the gateway after the train stage, else simulated), analyse it and report
    the decision (``ctx.report("A/B decision", ...)``); sets ``ctx.ab_report``."""
    if ctx.models and ctx.base_model:
        _through_gateway(ctx)
    else:
        _simulated(ctx)


def _simulated(ctx: DemoContext) -> None:
    from harness.ab.config import AnalysisConfig
    from harness.ab.simulate import SimulationConfig, write_store

    candidate = next(iter(ctx.models), "candidate")
    variants = {"base": 0.5, str(candidate) if candidate != "base" else "candidate": 0.5}
    treatment = list(variants)[1]
    sim = SimulationConfig(days=14, units_per_day=400 if ctx.fast else 1200, weights=variants,
                           effects={treatment: {"task_completed": 0.08, "escalated": -0.15}}, seed=7)
    engine = ctx.workspace.engine
    n = write_store(sim, engine, EXPERIMENT, control="base", replace=True)
    ctx.console.print(f"simulated {sim.days} days, {sim.total_units:,} users, {n:,} requests: base vs {treatment}")
    _analyse(ctx, EXPERIMENT, AnalysisConfig(sequential=True, tuning_units=sim.total_units))


def gateway_config(ctx: DemoContext) -> dict[str, Any]:
    """Return the demo's gateway config as data (:func:`harness.ab.gateway.config.build_config` validates it):
    ``base`` = the base model with a 3-shot prompt, the trained candidate = base + its LoRA adapter."""
    from harness.models.names import registered
    from harness.runs.prompts import draw_few_shot

    files = ctx.set_files("extract", need="test")
    system = _system_prompt(files["test"])
    shots = draw_few_shot(Path(files["train"]), 3, 0)  # the eval stage's base-few-shot draw (seed 0)
    name, path = sorted(ctx.models.items())[0]
    record = registered(ctx.workspace, name)
    # A registered adapter resolves to its base; a bare folder carries its base in adapter_config.json.
    model = name if record is not None and Path(record.path).resolve() == Path(path).resolve() else str(path)
    candidate = name if name != "base" else "candidate"
    return {"experiment": GATEWAY_EXPERIMENT, "control": "base",
            "description": "harness demo: few-shot base vs the LoRA candidate on extract",
            "generation": {"max_new_tokens": MAX_NEW_TOKENS, "temperature": 0.0},
            "variants": {"base": {"model": str(ctx.base_model), "weight": 0.5,
                                  "prompt": {"system": system, "few_shot": shots}},
                         candidate: {"model": model, "weight": 0.5, "prompt": {"system": system}}}}


def _system_prompt(test_file: Path) -> str | None:
    import json

    with open(test_file, encoding="utf-8") as f:
        first = json.loads(next(line for line in f if line.strip()))
    return next((m["content"] for m in first["messages"] if m["role"] == "system"), None)


def _through_gateway(ctx: DemoContext) -> None:
    import time

    import yaml

    from harness.ab.config import AnalysisConfig
    from harness.ab.gateway.config import build_config
    from harness.ab.replay import ReplayConfig, load_queries, replay, serve_in_thread

    data = gateway_config(ctx)
    build_config(data, source="demo gateway config")  # fail here, with field names, not in the server thread
    path = ctx.out_dir / "gateway.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    engine = ctx.workspace.engine
    _reset(engine, GATEWAY_EXPERIMENT)
    queries = load_queries(str(ctx.set_files("extract", need="test")["test"]), system=False)
    users = FAST_USERS if ctx.fast else FULL_USERS
    config = ReplayConfig(users=users, requests_per_user=REQUESTS_PER_USER, days=14, seed=7, concurrency=4)
    treatment = [v for v in data["variants"] if v != "base"][0]
    start = time.monotonic()
    with serve_in_thread(path, ctx.workspace) as url:
        ctx.console.print(f"gateway {url} ({path.name}): base (3-shot) vs {treatment}; replaying "
                          f"{users} users x {REQUESTS_PER_USER} held-out extract queries", markup=False)
        summary = replay(url, queries, config)
    tallies = ", ".join(f"{v} {t.correct}/{t.requests} resolved" for v, t in sorted(summary.variants.items()))
    ctx.console.print(f"replayed {summary.requests} requests ({summary.errors} errors, {summary.feedback} "
                      f"judged) in {time.monotonic() - start:.0f}s: {tallies}", markup=False)
    for message in summary.error_messages[:3]:
        ctx.console.print(f"  error: {message}", markup=False)
    _analyse(ctx, GATEWAY_EXPERIMENT, AnalysisConfig())


def _reset(engine: Any, name: str) -> None:
    """Forget a previous demo run's gateway experiment (its requests and outcomes too)."""
    from sqlalchemy import text

    from harness.store.ab import delete_experiment, get_experiment

    info = get_experiment(engine, name)
    if info is None:
        return
    with engine.begin() as conn:
        for table in ("ab_outcomes", "ab_requests"):
            conn.execute(text(f"DELETE FROM {table} WHERE experiment_id = :e"), {"e": info.id})
    delete_experiment(engine, name)


def _analyse(ctx: DemoContext, name: str, config: Any) -> None:
    from harness.ab.api import analyze_experiment, to_report
    from harness.ab.render import print_analysis

    result, decision = analyze_experiment(ctx.workspace.engine, name, config)
    report = to_report(result, decision)
    print_analysis(report, ctx.console)
    ctx.ab_report = report
    import math

    primary = result.primary()[0]
    rel, absolute = primary.effect.relative, primary.effect.absolute
    if math.isfinite(rel.estimate):
        effect = f"{rel.estimate:+.1%}, 95% CI {rel.ci[0]:+.1%} to {rel.ci[1]:+.1%}"
    elif math.isfinite(absolute.estimate):  # a control rate of zero has no relative change: say the absolute one
        effect = f"{absolute.estimate:+.3f} absolute, 95% CI {absolute.ci[0]:+.3f} to {absolute.ci[1]:+.3f}"
    else:
        effect = f"not computable yet: {primary.effect.error or 'no data'}"
    ctx.report("A/B decision", f"{decision.action} ({primary.spec.name} {effect}; "
               f"SRM p = {result.srm.p_value:.2f})")
