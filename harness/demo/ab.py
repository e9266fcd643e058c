"""The demo's A/B stage: simulate a 14-day A/B test of the fine-tuned model against the base model, decide.

The simulated candidate completes ~8% more tasks with no guardrail harm (the outcome a successful
fine-tune should produce); the stage writes it to the workspace store, analyses it the way
``harness ab analyze --experiment`` does, and prints the decision with its reasons.
"""

from __future__ import annotations

from harness.demo.context import DemoContext

EXPERIMENT = "demo-finetune-vs-base"


def stage(ctx: DemoContext) -> None:
    """Simulate, store, analyse and report the A/B decision (``ctx.report("A/B decision", ...)``); sets
    ``ctx.ab_report``."""
    from harness.ab.api import analyze_experiment, to_report
    from harness.ab.config import AnalysisConfig
    from harness.ab.render import print_analysis
    from harness.ab.simulate import SimulationConfig, write_store

    candidate = next(iter(ctx.models), "candidate")
    variants = {"base": 0.5, str(candidate) if candidate != "base" else "candidate": 0.5}
    treatment = list(variants)[1]
    sim = SimulationConfig(days=14, units_per_day=400 if ctx.fast else 1200, weights=variants,
                           effects={treatment: {"task_completed": 0.08, "escalated": -0.15}}, seed=7)
    engine = ctx.workspace.engine
    n = write_store(sim, engine, EXPERIMENT, control="base", replace=True)
    ctx.console.print(f"simulated {sim.days} days, {sim.total_units:,} users, {n:,} requests: base vs {treatment}")
    config = AnalysisConfig(sequential=True, tuning_units=sim.total_units)
    result, decision = analyze_experiment(engine, EXPERIMENT, config)
    report = to_report(result, decision)
    print_analysis(report, ctx.console)
    ctx.ab_report = report
    primary = result.primary()[0]
    rel = primary.effect.relative
    ctx.report("A/B decision", f"{decision.action} ({primary.spec.name} {rel.estimate:+.1%}, "
               f"95% CI {rel.ci[0]:+.1%} to {rel.ci[1]:+.1%}; SRM p = {result.srm.p_value:.2f})")
