"""Rich tables for ``harness ab analyze`` and ``harness ab plan``."""

from __future__ import annotations

import math
from typing import Any

_ACTION_STYLE = {"ship": "bold green", "rollback": "bold red", "keep_running": "bold yellow"}


def _num(x: Any, fmt: str = ".4g") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def _pct(x: Any) -> str:
    return "-" if x is None else f"{x:+.2%}"


def print_analysis(report: dict, console: Any) -> None:
    """Print the SRM check, one row per metric and treatment, and the decision with its reasons."""
    from rich.table import Table

    srm = report["srm"]
    units = ", ".join(f"{v}={n}" for v, n in report["units"].items())
    days = report.get("days")
    console.print(f"[bold]{report['source']}[/]  control: [bold]{report['control']}[/]  units: {units}"
                  + (f"  over {days:.1f} days" if days else ""))
    srm_text = "[bold red]MISMATCH[/]" if srm["flag"] else "[green]ok[/]"
    console.print(f"sample ratio: {srm_text} (chi-square p = {_num(srm['p_value'], '.3g')}); "
                  f"{report['method']} intervals, alpha {report['alpha']}, {report['correction']} correction")
    if report.get("method_reason"):
        console.print(f"method: {report['method_reason']}")
    for line in data_quality_lines(report.get("data_quality")):
        console.print(line)
    gs = report.get("group_sequential")
    if gs:
        _print_look(gs, console)
    table = Table(show_lines=False, pad_edge=False)
    for col in ("metric", "variant", "control -> treatment", "relative effect [95% CI]", "adj. p", "P(beat)", "status"):
        table.add_column(col, justify="left" if col in ("metric", "variant", "status") else "right")
    for m in report["metrics"]:
        c, t = m["variants"][m["control"]], m["variants"][m["treatment"]]
        a, r = m["absolute"], m["relative"]
        if m.get("guardrail"):
            status = m["guardrail"]["status"]
            status = {"pass": "[green]pass[/]", "harmed": "[red]harmed[/]"}.get(status, "[yellow]unsure[/]")
        elif m["error"]:
            status = f"[dim]{m['error']}[/]"
        elif m["significant"]:
            good = (a["estimate"] > 0) == m["higher_is_better"]
            status = "[green]better[/]" if good else "[red]worse[/]"
        else:
            status = "[dim]n.s.[/]"
        role = "primary" if m["name"] == report.get("primary_metric") else m["role"]
        name = {"primary": f"[bold]{m['name']}[/] *", "guardrail": f"{m['name']} (g)"}.get(role, m["name"])
        rel = (f"{_pct(r['estimate'])} [{_pct(r['ci'][0])}, {_pct(r['ci'][1])}]" if r["estimate"] is not None
               else f"{_num(a['estimate'], '+.3g')} [{_num(a['ci'][0], '+.3g')}, {_num(a['ci'][1], '+.3g')}]")
        table.add_row(name, m["treatment"], f"{_num(c['mean'])} -> {_num(t['mean'])}", rel,
                      _num(m["adjusted_p_value"], ".2g"), _num(m["chance_to_beat_control"], ".0%"), status)
    console.print(table)
    decision = report["decision"]
    style = _ACTION_STYLE.get(decision["action"], "bold")
    console.print("[dim]* primary metric, (g) guardrail; P(beat) = Bayesian chance to beat control[/]")
    console.print(f"decision: [{style}]{decision['action']}[/]")
    for reason in decision["reasons"]:
        console.print(f"  - {reason}")
    for note in report.get("notes", []):
        console.print(f"[dim]note: {note}[/]")


def data_quality_lines(quality: dict | None) -> list[str]:
    """Lines saying what of an events file the analysis left out and why (none for other sources)."""
    if not quality:
        return []
    q = quality
    lines = [f"data: {_count(q['rows_read'], 'row')} read, {q['rows_used']:,} used"
             + (f", [yellow]{q['rows_excluded']:,} excluded[/]" if q["rows_excluded"] else "")]
    if q["rows_without_unit_id"]:
        lines.append(f"  [yellow]{_count(q['rows_without_unit_id'], 'row')} without a unit_id[/] (left out)")
    if q["rows_without_variant"]:
        lines.append(f"  [yellow]{_count(q['rows_without_variant'], 'row')} without a variant[/] (left out)")
    if q["multi_variant_units"]:
        examples = ", ".join(q["multi_variant_examples"])
        more = ", ..." if q["multi_variant_units"] > len(q["multi_variant_examples"]) else ""
        lines.append(f"  [yellow]{_count(q['multi_variant_units'], 'unit')} seen in more than one variant[/] "
                     f"({_count(q['multi_variant_rows'], 'row')}; e.g. {examples}{more}) left out; rule: "
                     f"{q['multi_variant_rule']}")
    for column, n in q["missing_values"].items():
        lines.append(f"  {column}: {_count(n, 'blank cell')} (those events carry no {column} value)")
    for column, why in q["ignored_columns"].items():
        lines.append(f"  column {column} not analysed: {why}")
    if q.get("unparsed_timestamps"):
        lines.append(f"  [yellow]{_count(q['unparsed_timestamps'], 'timestamp')} not a date[/] (left out of the days)")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _print_look(gs: dict, console: Any) -> None:
    """Print the look, its information fraction and the boundary the primary metric is read at."""
    if gs["looks_stored"]:
        look = f"look {gs['look']}" + (" (recorded)" if gs["new_look"] else " (already taken: not added again)")
    else:
        look = "a single look (not stored)"
    z = gs["boundary_z"]
    bound = (f"boundary |z| > {z:.3f} (nominal p < {_num(gs['nominal_alpha'], '.2g')}, alpha spent "
             f"{_num(gs['alpha_spent'], '.3g')} of {_num(gs['comparison_alpha'], 'g')})" if z is not None
             else "no alpha left at this look")
    console.print(f"{look}: information fraction [bold]{gs['information_fraction']:.3f}[/] ({gs['units']:,} of "
                  f"{gs['planned_units']:,.0f} planned units); {bound} on {gs['applies_to']}; other metrics: "
                  f"{'always-valid' if gs['other_metrics_method'] == 'sequential' else 'fixed-horizon'}")


def print_plan(plan: dict, console: Any) -> None:
    """Print the units per variant, the total, and the days at the given traffic."""
    from rich.table import Table

    table = Table(title=f"{plan['metric_type']} baseline {plan['baseline']:.4g}, detect {plan['mde']:+.1%} "
                        f"(alpha {plan['alpha']}, power {plan['power']:.0%})")
    table.add_column("variant")
    table.add_column("units", justify="right")
    for name, n in plan["units_per_variant"].items():
        table.add_row(name, f"{n:,}")
    table.add_row("[bold]total (fixed horizon)", f"[bold]{plan['total_units']:,}")
    table.add_row("total (sequential)", f"{plan['total_units_sequential']:,}")
    console.print(table)
    if plan.get("days") is not None:
        console.print(f"days at {plan['units_per_day']:,.0f} units/day: [bold]{plan['days']}[/] fixed horizon, "
                      f"{plan['days_sequential']} sequential")
    console.print(f"[dim]sequential: analyse with --tuning-units {plan['tuning_units']}[/]")
    gs = plan.get("group_sequential")
    if gs and gs["stored"]:
        console.print(f"plan recorded on experiment [bold]{gs['experiment']}[/]: {gs['planned_units']:,} units"
                      + (f" over {gs['planned_days']:g} days" if gs.get("planned_days") else "")
                      + f", looks {gs['looks']}, {gs['spending']} spending, alpha {gs['alpha']:g}, primary "
                      f"{gs['primary_metric']}; [bold]{gs['analyse_with']}[/] now analyses it group-sequentially "
                      "(each analysis is a stored look)")
    elif gs:
        console.print(f"[dim]group-sequential (daily looks keep almost all the power): analyse with --planned-units "
                      f"{gs['planned_units']}, or record the plan with --experiment[/]")
    for w in plan.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")
