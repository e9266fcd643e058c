"""``harness data ...``: validate, split and report chat-JSONL datasets.

Only typer and the standard library are imported here; the work lives in ``harness.data`` and is
imported when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands._common import JsonOption, WorkspaceOption, console, print_json

app = typer.Typer(help="Validate, split and profile chat-JSONL datasets.", no_args_is_help=True)

FileArgument = Annotated[Path, typer.Argument(help="A JSONL file: one {\"messages\": [...]} example per line.",
                                              show_default=False)]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace output files that already exist.")]
TokenizerOption = Annotated[
    str | None,
    typer.Option("--tokenizer", help="Tokenizer folder or model alias for token counts (AutoTokenizer; "
                 "chat template used when present). Default: a cheap word/punctuation estimate.",
                 show_default=False),
]


@app.command("validate")
def validate(
    file: FileArgument,
    json_output: JsonOption = False,
    tokenizer: TokenizerOption = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Flag examples longer than this many tokens "
                                 "(counted with --tokenizer, else estimated; the report says which).",
                                 show_default=False)] = None,
    show: Annotated[int, typer.Option("--show", min=0, help="How many problems to list (human output).")] = 20,
    max_line_bytes: Annotated[
        int, typer.Option("--max-line-bytes", min=1, help="Lines larger than this are reported, not parsed.")
    ] = 10 * 1024 * 1024,
    write_valid: Annotated[
        Path | None, typer.Option("--write-valid", help="Also write the lines without errors to this file "
                                  "(drops broken lines and repeated duplicates). The exit code still reports errors.",
                                  show_default=False)] = None,
    force: ForceOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Check every line; exit 0 when there are no errors (warnings allowed), 1 with errors, 2 on bad arguments."""
    from harness.data.validate import validate_file

    if write_valid is not None:
        from harness.io import check_outputs

        check_outputs([write_valid], inputs=[file], force=force, option="--write-valid")
    report = validate_file(file, tokenizer=tokenizer, max_tokens=max_tokens, max_line_bytes=max_line_bytes)
    kept = None
    if write_valid is not None:
        from harness.data.validate import write_valid as write_valid_lines

        kept = write_valid_lines(file, report, write_valid)
    if json_output:
        payload = report.to_dict()
        if kept is not None:
            payload["written"] = {"path": str(write_valid), "lines": kept}
        print_json(payload)
    else:
        from harness.data.render import render_validation

        out = console()
        render_validation(out, report, show=show)
        if kept is not None:
            out.print(f"wrote {kept} valid lines to {write_valid}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("codes")
def codes(json_output: JsonOption = False) -> None:
    """List every validation code with its severity and how to fix it."""
    from harness.data.schema import CODES

    if json_output:
        print_json({c.code: {"severity": c.severity, "title": c.title, "fix": c.fix} for c in CODES.values()})
        return
    from rich.table import Table

    table = Table(title="harness data validate: problem codes")
    for column in ("code", "severity", "what", "fix"):
        table.add_column(column, overflow="fold")
    for c in CODES.values():
        table.add_row(c.code, c.severity, c.title, c.fix)
    console().print(table)


@app.command("split")
def split(
    file: FileArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for train.jsonl, val.jsonl, test.jsonl.",
                                      show_default=False)],
    seed: Annotated[int, typer.Option("--seed", help="Same seed and input give the same split, byte for byte.")] = 0,
    ratios: Annotated[str, typer.Option("--ratios", help="Train,val,test shares summing to 1.")] = "0.8,0.1,0.1",
    stratify: Annotated[
        str | None, typer.Option("--stratify", help="Metadata field to balance across splits (dotted path OK).",
                                 show_default=False)] = None,
    force: ForceOption = False,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Split into train/val/test; duplicates and near duplicates stay together, so leakage is 0."""
    from harness.data.split import parse_ratios
    from harness.data.split_io import split_file
    from harness.data.split_set import output_paths
    from harness.io import check_outputs

    check_outputs(output_paths(out), inputs=[file], force=force, option="--out")
    result = split_file(file, out, seed=seed, ratios=parse_ratios(ratios), stratify=stratify)
    if result.stats.warnings:
        from rich.markup import escape

        from harness.commands._common import err_console

        for warning in result.stats.warnings:
            err_console().print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if json_output:
        print_json(result.to_dict())
    else:
        from harness.data.render import render_split

        render_split(console(), result)
    if result.stats.leakage:
        raise typer.Exit(1)


@app.command("report")
def report(
    file: FileArgument,
    against: Annotated[
        Path | None, typer.Option("--against", help="Compare with another sample (e.g. production queries) and "
                                  "flag under-covered categories.", show_default=False)] = None,
    json_output: JsonOption = False,
    tokenizer: TokenizerOption = None,
    min_share: Annotated[float, typer.Option("--min-share", min=0.0, max=1.0,
                                             help="Ignore categories below this share of the other sample.")] = 0.02,
    ratio_threshold: Annotated[float, typer.Option(
        "--ratio-threshold", min=0.0, max=1.0,
        help="Flag a category when its training share is below this fraction of its share in --against.")] = 0.5,
    workspace: WorkspaceOption = None,
) -> None:
    """Counts per metadata field, length statistics and duplicates; with --against, coverage gaps."""
    from harness.data.report import profile_file
    from harness.data.tokens import make_counter

    counter = make_counter(tokenizer)
    profile = profile_file(file, counter=counter)
    comparison = None
    if against is not None:
        from harness.data.shift import compare_profiles

        other = profile_file(against, counter=counter)
        comparison = compare_profiles(profile, other, min_share=min_share, ratio_threshold=ratio_threshold)
    if json_output:
        payload = profile.to_dict()
        if comparison is not None:
            payload["against"] = comparison.to_dict()
        print_json(payload)
        return
    from harness.data.render import render_comparison, render_profile

    out = console()
    render_profile(out, profile)
    if comparison is not None:
        render_comparison(out, comparison)
