"""The ``harness`` command line (typer).

Only typer and the light command modules are imported here; each command imports what it
needs (torch, transformers, pandas...) when it runs, so ``harness --help`` answers at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from harness import __version__
from harness.commands import ab as ab_commands
from harness.commands import compare as compare_commands
from harness.commands import data as data_commands
from harness.commands import demo as demo_commands
from harness.commands import eval as eval_commands
from harness.commands import models as models_commands
from harness.commands import review as review_commands
from harness.commands import score as score_commands
from harness.commands import train as train_commands

app = typer.Typer(
    name="harness",
    help=(
        "Should we fine-tune, and did it work? Validate data, train candidates, evaluate them against "
        "prompted baselines, review outputs, and decide rollouts from A/B tests."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"harness {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace folder for every subcommand "
                     "(default: $HARNESS_WORKSPACE or ./harness-workspace).", show_default=False),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    if workspace is not None:
        os.environ["HARNESS_WORKSPACE"] = str(workspace)


app.command("demo")(demo_commands.demo)
app.add_typer(data_commands.app, name="data")
app.command("train")(train_commands.train)
app.add_typer(models_commands.app, name="models")
app.command("eval")(eval_commands.eval)
app.command("score")(score_commands.score)
app.command("compare")(compare_commands.compare)
app.add_typer(review_commands.app, name="review")
app.add_typer(ab_commands.app, name="ab")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code; user errors never show a traceback."""
    from harness.errors import HarnessError

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="harness", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.TyperException as exc:  # usage errors (typer vendors click's ClickException)
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    except HarnessError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"  hint: {exc.hint}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # an internal bug: short message unless debugging
        if os.environ.get("HARNESS_DEBUG"):
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("  rerun with HARNESS_DEBUG=1 for the traceback, and please report it", err=True)
        return 1
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


if __name__ == "__main__":
    main()
