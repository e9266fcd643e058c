"""``harness ab ...``: analyse A/B experiments, plan their duration, simulate them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands._common import JsonOption, WorkspaceOption, console, open_workspace, print_json

app = typer.Typer(help="A/B tests: analyse (SRM, effects, guardrails, decision), plan, simulate.",
                  no_args_is_help=True)

ExperimentOpt = Annotated[str | None, typer.Option("--experiment", "-e", help="Experiment name in the workspace store.")]
EventsOpt = Annotated[Path | None, typer.Option("--events", help="Events file (.csv/.parquet): unit_id, variant, "
                                                "timestamp, metric columns.")]
SummaryOpt = Annotated[Path | None, typer.Option("--summary", help="Per-variant sufficient statistics (JSON).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML/JSON analysis config; flags override it.")]
ControlOpt = Annotated[str | None, typer.Option("--control", help="Control variant name.")]
WeightsOpt = Annotated[str | None, typer.Option("--weights", help="Configured split, e.g. base=0.5,candidate=0.5.")]
MetricOpt = Annotated[list[str] | None, typer.Option(
    "--metric", help="NAME[:TYPE[:ARGS]]: task_completed:proportion, satisfaction:mean, "
    "cost_per_request:ratio:cost/requests, latency_p95:p95:latency_s. Repeatable.")]
PrimaryOpt = Annotated[str | None, typer.Option(
    "--primary", help="Primary metric, the one that decides (default: the one marked primary, else the first that "
    "is not a guardrail such as latency or cost; asked for when that is unclear).")]
AlphaOpt = Annotated[float | None, typer.Option("--alpha", help="Significance level (default 0.05).")]
SpendingOpt = Annotated[str | None, typer.Option(
    "--spending", help="Alpha spending of a group-sequential analysis: obrien-fleming (default) or pocock.")]


def _config(config_file: Path | None, **flags):  # -> AnalysisConfig
    from harness.ab.config import AnalysisConfig, load_config

    base = load_config(config_file) if config_file else AnalysisConfig()
    return base.with_overrides(**flags)


def _one_source(experiment: str | None, events: Path | None, summary: Path | None, *, required: bool = True) -> None:
    from harness.errors import ConfigError

    given = [x for x in (experiment, events, summary) if x is not None]
    if len(given) > 1 or (required and not given):
        raise ConfigError("give exactly one input: --experiment NAME, --events FILE or --summary FILE")


def _analyze(workspace, experiment, events, summary, config, *, use_plan: bool = True):  # -> (result, decision)
    from harness.ab import api

    if experiment is not None:
        return api.analyze_experiment(open_workspace(workspace).engine, experiment, config, use_plan=use_plan)
    if events is not None:
        return api.analyze_events_file(events, config)
    return api.analyze_summary(summary, config)


@app.command("analyze")
def analyze(
    experiment: ExperimentOpt = None,
    events: EventsOpt = None,
    summary: SummaryOpt = None,
    config_file: ConfigOpt = None,
    control: ControlOpt = None,
    weights: WeightsOpt = None,
    metric: MetricOpt = None,
    primary: PrimaryOpt = None,
    guardrail: Annotated[list[str] | None, typer.Option(
        "--guardrail", help="[+]NAME[:MARGIN]: a guardrail metric with a relative non-inferiority margin "
        "(lower is better; '+' for higher is better). Repeatable.")] = None,
    correction: Annotated[str | None, typer.Option("--correction", help="holm (default), bh, bonferroni or none across metrics.")] = None,
    sequential: Annotated[bool | None, typer.Option(
        "--sequential/--fixed-horizon", help="Always-valid intervals (the default without a plan) or fixed-horizon "
        "tests; either one sets a stored plan aside.")] = None,
    planned_units: Annotated[float | None, typer.Option(
        "--planned-units", help="Planned units across all variants: analyse the primary metric group-sequentially "
        "(the default when the experiment has a plan from harness ab plan --experiment).")] = None,
    spending: SpendingOpt = None,
    tuning_units: Annotated[float | None, typer.Option("--tuning-units", help="Units the confidence sequence is "
                                                       "tuned for (default 5000; use the planned sample).")] = None,
    cuped: Annotated[str | None, typer.Option("--cuped", help="Pre-period covariate column for CUPED.")] = None,
    alpha: AlphaOpt = None,
    mde: Annotated[float | None, typer.Option("--mde", help="Relative MDE used for 'days still needed' (0.05).")] = None,
    workspace: WorkspaceOption = None,
    json_out: JsonOption = False,
) -> None:
    """Analyse an experiment: SRM, effects with intervals, guardrails, and a ship/rollback/keep_running decision.

    Method: group-sequential on the primary metric under a plan (--planned-units, or the experiment's
    stored plan: each analysis is a look, stored); otherwise always-valid intervals (--fixed-horizon for
    a single analysis at the planned sample).

    Events files: rows without a unit_id or variant are left out and counted; units seen in more than
    one variant are excluded from every variant and counted; a metric cell that is not a number is an
    error. The counts are shown under the header and in --json as data_quality.
    """
    from harness.ab.api import to_report
    from harness.ab.config import parse_guardrail_flag, parse_metric_flag, parse_weights
    from harness.errors import ConfigError

    _one_source(experiment, events, summary)
    if planned_units is not None and sequential is not None:
        raise ConfigError("--planned-units asks for a group-sequential analysis; it cannot be combined with "
                          f"--{'sequential' if sequential else 'fixed-horizon'}", hint="drop one of them")
    config = _config(
        config_file, control=control, weights=parse_weights(weights) if weights else None,
        metrics=tuple(parse_metric_flag(m) for m in metric) if metric else None, primary=primary,
        guardrails=dict(parse_guardrail_flag(g) for g in guardrail) if guardrail else None,
        correction=correction, sequential=sequential, tuning_units=tuning_units, cuped_covariate=cuped,
        alpha=alpha, mde=mde, planned_units=planned_units, spending=spending)
    if config.metrics:  # named by --metric or --config: one of them must be the primary metric
        config.require_primary("the metrics of --metric/--config")
    result, decision = _analyze(workspace, experiment, events, summary, config, use_plan=sequential is None)
    report = to_report(result, decision)
    if json_out:
        print_json(report)
        return
    from harness.ab.render import print_analysis

    print_analysis(report, console())


@app.command("plan")
def plan(
    mde: Annotated[float, typer.Option("--mde", help="Minimum detectable effect, relative (0.05 = 5%).")],
    baseline: Annotated[float | None, typer.Option("--baseline", help="Control rate or mean (else observed).")] = None,
    metric_type: Annotated[str, typer.Option("--type", help="proportion or mean.")] = "proportion",
    sd: Annotated[float | None, typer.Option("--sd", help="Per-unit standard deviation (means).")] = None,
    units_per_day: Annotated[float | None, typer.Option("--units-per-day", help="Traffic (else observed).")] = None,
    power: Annotated[float, typer.Option("--power", help="Target power.")] = 0.8,
    alpha: AlphaOpt = None,
    weights: WeightsOpt = None,
    control: ControlOpt = None,
    experiment: ExperimentOpt = None,
    events: EventsOpt = None,
    summary: SummaryOpt = None,
    config_file: ConfigOpt = None,
    metric: MetricOpt = None,
    primary: PrimaryOpt = None,
    looks: Annotated[str, typer.Option("--looks", help="How often the experiment is analysed under the plan: "
                                        "daily, or a number of looks.")] = "daily",
    spending: SpendingOpt = None,
    replace_plan: Annotated[bool, typer.Option("--replace-plan", help="Replace a stored plan whose looks were "
                                               "already taken (its looks are discarded).")] = False,
    workspace: WorkspaceOption = None,
    json_out: JsonOption = False,
) -> None:
    """Units needed to detect an MDE and how many days that takes (never fewer than 7 full days).

    With --experiment the plan is recorded on the experiment: harness ab analyze --experiment then
    analyses its primary metric group-sequentially, one look per analysis.
    """
    from harness.ab.config import parse_metric_flag, parse_weights
    from harness.ab.plan import observed_inputs
    from harness.ab.plan import plan as make_plan
    from harness.errors import ConfigError
    from harness.stats.power import PLAN_KINDS

    _one_source(experiment, events, summary, required=False)
    if metric_type not in PLAN_KINDS:
        raise ConfigError(f"--type {metric_type!r}: use {' or '.join(PLAN_KINDS)}")
    _check_plan_args(mde, baseline, metric_type, sd, units_per_day)
    looks = _looks(looks)
    config = _config(config_file, alpha=alpha, power=power, control=control,
                     weights=parse_weights(weights) if weights else None,
                     metrics=tuple(parse_metric_flag(m) for m in metric) if metric else None, primary=primary,
                     spending=spending)
    split = config.weights
    ctrl = config.control or (next(iter(split)) if split else "control")
    primary_name = config.primary_metric()
    if experiment or events or summary:  # observe the inputs; a stored plan must not make this a look
        result, _ = _analyze(workspace, experiment, events, summary, config, use_plan=False)
        primary_name = result.config.primary_metric()
        kind, obs_baseline, obs_sd, obs_upd = observed_inputs(result)
        metric_type = metric_type if baseline is not None else kind
        baseline = baseline if baseline is not None else obs_baseline
        sd = sd if sd is not None else obs_sd
        units_per_day = units_per_day if units_per_day is not None else obs_upd
        split = split or result.weights
        ctrl = result.control
    if baseline is None:
        raise ConfigError("--baseline is required without an --experiment, --events or --summary to observe it")
    _, out = make_plan(metric_type, baseline, mde, sd=sd, config=config, units_per_day=units_per_day,
                       weights=split, control=ctrl)
    out["group_sequential"] = _record_plan(workspace, experiment, out, config, looks, primary_name, replace_plan)
    if json_out:
        print_json(out)
        return
    from harness.ab.render import print_plan

    print_plan(out, console())


def _check_plan_args(mde: float, baseline: float | None, metric_type: str, sd: float | None,
                     units_per_day: float | None) -> None:
    """Raise :class:`ConfigError` (exit 2) naming the flag when a plan argument is out of range; returns nothing.

    ``--mde`` is a relative change above -1 and not 0 (a negative one plans for a decrease), a stated
    proportion ``--baseline`` lies in (0, 1), ``--sd`` and ``--units-per-day`` are positive; all finite.
    ``--power`` and ``--alpha`` are checked by :class:`~harness.ab.config.AnalysisConfig`.
    """
    import math

    from harness.errors import ConfigError

    if not (math.isfinite(mde) and mde > -1 and mde != 0):
        raise ConfigError(f"--mde {mde:g}: the minimum detectable effect is a relative change above -1 and not 0",
                          hint="e.g. --mde 0.05 to detect a 5% increase (--mde -0.05: a 5% decrease)")
    if baseline is not None:
        if not math.isfinite(baseline):
            raise ConfigError(f"--baseline {baseline:g} is not a number", hint="e.g. --baseline 0.3")
        if metric_type == "proportion" and not 0 < baseline < 1:
            raise ConfigError(f"--baseline {baseline:g}: a proportion baseline must be in (0, 1)",
                              hint="e.g. --baseline 0.3 for a 30% rate, or --type mean for other numbers")
    if sd is not None and not (math.isfinite(sd) and sd > 0):
        raise ConfigError(f"--sd {sd:g}: the standard deviation per unit must be > 0", hint="e.g. --sd 1.5")
    if units_per_day is not None and not (math.isfinite(units_per_day) and units_per_day > 0):
        raise ConfigError(f"--units-per-day {units_per_day:g}: traffic must be > 0 units per day",
                          hint="e.g. --units-per-day 2000, or leave it out to observe it from the data")


def _looks(text: str) -> str:
    """``daily`` or a positive whole number of looks (as text, as stored)."""
    from harness.errors import ConfigError

    value = text.strip().lower()
    if value == "daily" or (value.isdigit() and int(value) > 0):
        return value
    raise ConfigError(f"--looks {text!r}: use daily or a number of looks", hint="e.g. --looks daily or --looks 5")


def _record_plan(workspace, experiment, out: dict, config, looks: str, primary: str | None, replace: bool) -> dict:
    """Store the plan on ``experiment`` (when given); returns the ``group_sequential`` entry of the plan output."""
    from harness.ab.api import DEFAULT_SPENDING

    entry = {"planned_units": out["total_units"], "planned_days": out.get("days"), "looks": looks,
             "alpha": config.alpha, "spending": config.spending or DEFAULT_SPENDING, "primary_metric": primary,
             "mde": out["mde"], "stored": False, "experiment": experiment}
    if experiment is None:
        entry["analyse_with"] = f"harness ab analyze ... --planned-units {out['total_units']}"
        return entry
    from harness.store.ab_plans import save_plan

    info = save_plan(open_workspace(workspace).engine, experiment, planned_units=out["total_units"],
                     planned_days=out.get("days"), units_per_day=out.get("units_per_day"), looks=looks,
                     alpha=config.alpha, spending=entry["spending"], primary_metric=primary, mde=out["mde"],
                     replace=replace)
    return {**info.to_dict(), "stored": True, "analyse_with": f"harness ab analyze --experiment {experiment}"}


@app.command("simulate")
def simulate(
    experiment: ExperimentOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write events to this .csv/.parquet file instead.")] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="Days of traffic.")] = 14,
    units_per_day: Annotated[int, typer.Option("--units-per-day", min=1, help="New units per day.")] = 300,
    variants: Annotated[str, typer.Option("--variants", help="Variants and weights; the first is the control.")]
    = "base=0.5,candidate=0.5",
    effect: Annotated[list[str] | None, typer.Option(
        "--effect", help="METRIC=REL true relative effect on the last variant, e.g. task_completed=0.05. Repeatable.")] = None,
    loss: Annotated[list[str] | None, typer.Option(
        "--loss", help="VARIANT=FRACTION of its units lost (reproduces a sample-ratio mismatch).")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    replace: Annotated[bool, typer.Option("--replace", "--force", help="Replace an existing experiment of that "
                                          "name, or an existing --out file.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Simulate a realistic experiment into the workspace store (--experiment) or a file (--out)."""
    from harness.ab.config import parse_weights
    from harness.ab.simulate import EFFECT_METRICS, SimulationConfig, write_file, write_store
    from harness.errors import ConfigError

    if (experiment is None) == (out is None):
        raise ConfigError("give exactly one of --experiment NAME (the store) or --out FILE")
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        raise ConfigError(f"--out {out}: unknown extension {out.suffix!r}", hint="name a .csv or .parquet file")
    split = parse_weights(variants, option="--variants", example="base=0.5,candidate=0.5")
    if len(split) < 2 or not all(w > 0 for w in split.values()):
        raise ConfigError(f"--variants {variants!r}: an experiment needs at least two variants, each with a weight > 0",
                          hint="e.g. --variants base=0.5,candidate=0.5 (the first is the control)")
    effects = {}
    for e in effect or []:
        effects.update(parse_weights(e, option="--effect", example="task_completed=0.05", what="METRIC=REL"))
    unknown = sorted(set(effects) - set(EFFECT_METRICS))
    if unknown:
        raise ConfigError(f"--effect {unknown[0]!r}: unknown effect metric",
                          hint=f"choose from {', '.join(EFFECT_METRICS)}, e.g. --effect task_completed=0.05")
    losses = parse_weights(",".join(loss), option="--loss", example="candidate=0.1",
                           what="VARIANT=FRACTION") if loss else {}
    bad_loss = next((k for k, v in losses.items() if k not in split or not 0 <= v < 1), None)
    if bad_loss is not None:
        raise ConfigError(f"--loss {bad_loss}={losses[bad_loss]:g}: needs a variant of --variants and a fraction in [0, 1)",
                          hint=f"variants: {', '.join(split)}; e.g. --loss {list(split)[-1]}=0.1")
    try:
        cfg = SimulationConfig(days=days, units_per_day=units_per_day, weights=split,
                               effects={list(split)[-1]: effects} if effects else {}, loss=losses, seed=seed)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if out is not None:
        from harness.io import check_outputs

        check_outputs([out], force=replace, option="--out")
        try:
            n = write_file(cfg, out)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        console().print(f"wrote {n:,} events to {out}")
        return
    n = write_store(cfg, open_workspace(workspace).engine, experiment, replace=replace)
    console().print(f"simulated {n:,} events into experiment {experiment!r}")


@app.command("list")
def list_experiments(workspace: WorkspaceOption = None, json_out: JsonOption = False) -> None:
    """List the experiments in the workspace store with their variants and weights."""
    from harness.store.ab import list_experiments as _list

    rows = [{"name": e.name, "control": e.control, "weights": e.weights, "description": e.description}
            for e in _list(open_workspace(workspace).engine)]
    if json_out:
        print_json({"experiments": rows})
        return
    for r in rows:
        console().print(f"{r['name']}: control {r['control']}, weights {r['weights']}  [dim]{r['description']}[/]")


# Experiment control (harness/commands/ab_control.py): one line per command
from harness.commands import ab_control  # noqa: E402

app.command("start")(ab_control.start)
app.command("stop")(ab_control.stop)
app.command("weights")(ab_control.weights)
app.command("kill")(ab_control.kill)
app.command("status")(ab_control.status)

from harness.commands import ab_replay  # noqa: E402

app.command("replay")(ab_replay.replay)

from harness.commands import ab_serve  # noqa: E402

app.command("serve")(ab_serve.serve)
