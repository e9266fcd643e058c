"""Rich tables for the human output of ``harness data validate | split | report``."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from harness.data.report import DatasetProfile, length_stats
from harness.data.schema import CODES
from harness.data.shift import Comparison
from harness.data.split_io import SplitFileResult
from harness.data.validate import ValidationReport


def render_validation(console: Any, report: ValidationReport, *, show: int = 20) -> None:
    """Print the counts by code and the first ``show`` problems with their line numbers."""
    console.print(f"[bold]{escape(report.path)}[/]: {report.examples} examples, {report.valid} valid, "
                  f"{report.error_count} errors, {report.warning_count} warnings")
    if report.token_counter:
        console.print(f"token lengths counted with {escape(report.token_counter)} (max {report.max_tokens})")
    if report.counts:
        table = Table(title="problems by code")
        for column in ("code", "severity", "count", "what it means"):
            table.add_column(column, justify="right" if column == "count" else "left")
        for code, count in sorted(report.counts.items(), key=lambda kv: (CODES[kv[0]].severity, -kv[1], kv[0])):
            info = CODES[code]
            colour = "red" if info.severity == "error" else "yellow"
            table.add_row(code, f"[{colour}]{info.severity}[/]", str(count), info.title)
        console.print(table)
    problems = sorted(report.errors + report.warnings, key=lambda p: p.line)
    if problems and show:
        table = Table(title=f"first {min(show, len(problems))} of {report.error_count + report.warning_count} problems")
        for column in ("line", "code", "message"):
            table.add_column(column, overflow="fold")
        for p in problems[:show]:
            colour = "red" if p.severity == "error" else "yellow"
            table.add_row(str(p.line), f"[{colour}]{p.code}[/]", escape(p.message))
        console.print(table)
    if report.truncated:
        console.print(f"[dim]only the first {len(problems)} problems are kept; counts above are complete")
    if report.ok:
        console.print("[green]OK[/]: no errors" + (" (warnings above)" if report.warning_count else ""))
    else:
        console.print(f"[red]FAILED[/]: {report.error_count} errors; fix them or drop those lines")


def render_split(console: Any, result: SplitFileResult) -> None:
    """Print split sizes against the target ratios, the duplicate groups, leakage and class balance."""
    stats = result.stats
    total = sum(stats.sizes.values())
    table = Table(title=f"split of {escape(str(result.source))} (seed {stats.seed})")
    for column in ("split", "examples", "share", "target", "file"):
        table.add_column(column)
    for (name, size), target in zip(stats.sizes.items(), stats.ratios, strict=True):
        table.add_row(name, str(size), f"{size / total:.1%}" if total else "-", f"{target:.0%}",
                      escape(str(result.paths[name])))
    console.print(table)
    console.print(f"{stats.groups} groups; {stats.grouped_examples} examples share a group with an exact or "
                  "near duplicate and were kept in one split")
    colour = "green" if stats.leakage == 0 else "red"
    console.print(f"leakage: [{colour}]{stats.leakage}[/] examples share a duplicate key with another split")
    if stats.balance:
        values = sorted({v for counts in stats.balance.values() for v in counts})
        table = Table(title=f"class balance by {escape(stats.stratify or '')}")
        table.add_column("value")
        for name in stats.balance:
            table.add_column(name, justify="right")
        for value in values:
            cells = []
            for name, counts in stats.balance.items():
                size = stats.sizes[name]
                count = counts.get(value, 0)
                cells.append(f"{count} ({count / size:.0%})" if size else "0")
            table.add_row(escape(value), *cells)
        console.print(table)


def render_profile(console: Any, profile: DatasetProfile) -> None:
    """Print counts per metadata field, length statistics and duplicates."""
    data = profile.to_dict()
    console.print(f"[bold]{escape(profile.path)}[/]: {profile.examples} examples"
                  + (f", {profile.unreadable_lines} unreadable lines" if profile.unreadable_lines else "")
                  + f"; {profile.with_system} with a system prompt")
    for name, info in data["fields"].items():
        table = Table(title=f"{escape(name)} (present in {info['present']} examples)")
        table.add_column("value")
        table.add_column("count", justify="right")
        table.add_column("share", justify="right")
        for value, count in info["counts"].items():
            table.add_row(escape(value), str(count), f"{info['shares'][value]:.1%}")
        console.print(table)
    if data["high_cardinality_fields"]:
        listed = ", ".join(f"{k} ({v} values)" for k, v in data["high_cardinality_fields"].items())
        console.print(f"[dim]identifier-like fields not tabulated: {escape(listed)}")
    table = Table(title=f"lengths (tokens: {escape(profile.token_counter)})")
    for column in ("", "n", "min", "median", "p95", "max", "mean"):
        table.add_column(column, justify="right")
    for name, values in profile.lengths.items():
        stats = length_stats(values)
        if stats is not None:
            table.add_row(name, str(stats.n), f"{stats.min:g}", f"{stats.median:g}", f"{stats.p95:.1f}",
                          f"{stats.max:g}", f"{stats.mean:.1f}")
    console.print(table)
    console.print(f"duplicates: {profile.exact_duplicates} exact, {profile.near_duplicates} near (same user message)")
    for line, first, kind in profile.duplicate_pairs[:5]:
        console.print(f"  line {line}: {kind} duplicate of line {first}")


def render_comparison(console: Any, comparison: Comparison) -> None:
    """Print per-field distributions of training vs the other sample, with flagged categories."""
    s = comparison.settings
    console.rule(f"against {escape(comparison.other_path)} ({comparison.other_examples} examples)")
    for field in comparison.fields:
        table = Table(title=f"{escape(field.field)}: chi-square {field.chi2:.1f}, dof {field.dof}, p = {field.p_value:.3g}")
        for column in ("value", "train", "other", "ratio", "p (Holm)", "flag"):
            table.add_column(column, justify="left" if column in ("value", "flag") else "right")
        for c in field.categories:
            flag = {"missing": "[red]missing[/]", "under": "[red]under-covered[/]",
                    "over": "[yellow]over-represented[/]"}.get(c.flag or "", "")
            table.add_row(escape(c.value), f"{c.train_share:.1%} ({c.train_count})",
                          f"{c.other_share:.1%} ({c.other_count})", "-" if c.ratio is None else f"{c.ratio:.2f}",
                          f"{c.p_value:.3g}", flag)
        console.print(table)
    for shift in comparison.lengths:
        console.print(f"{shift.name}: median {shift.train_median:g} in training vs {shift.other_median:g}; "
                      f"KS {shift.ks_statistic:.3f}, p = {shift.p_value:.3g}")
    flags = [c for c in comparison.flags if c.flag in ("missing", "under")]
    if flags:
        for c in flags:
            console.print(f"[red]under-covered[/]: {escape(c.field)}={escape(c.value)} is {c.other_share:.0%} of "
                          f"{escape(comparison.other_path)} but {c.train_share:.0%} of training")
    else:
        console.print("[green]no under-covered categories[/]")
    console.print(f"[dim]flag rule: share in other >= {s['min_share']:.0%}, training share < "
                  f"{s['ratio_threshold']:g} x other share, Holm-adjusted p < {s['alpha']:g}")
