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
from harness.commands import app as app_commands
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
app.command("app")(app_commands.app)
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
        return _show(exc)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # an internal bug: short message unless debugging
        if isinstance(exc, OSError) and (user_error := _user_os_error(exc)) is not None:
            return _show(user_error)
        if isinstance(exc, UnicodeDecodeError):
            return _show(_not_utf8_error(exc))
        if os.environ.get("HARNESS_DEBUG"):
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("  rerun with HARNESS_DEBUG=1 for the traceback, and please report it", err=True)
        return 1
    return int(result) if isinstance(result, int) else 0


def _show(exc) -> int:  # type: ignore[no-untyped-def]
    """Print a user error (``error: ...`` and its hint) on stderr; returns its exit code."""
    typer.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        typer.echo(f"  hint: {exc.hint}", err=True)
    return int(exc.exit_code)


def _user_os_error(exc: OSError):  # -> HarnessError | None
    """The user error an ``OSError`` stands for (a path that cannot be written, a full disk), else None."""
    from harness.errors import from_os_error

    workspace = os.environ.get("HARNESS_WORKSPACE") or str(Path.cwd() / "harness-workspace")
    return from_os_error(exc, workspace=workspace)


def _not_utf8_error(exc: UnicodeDecodeError):  # -> HarnessError
    """A user error for a file that is not UTF-8, naming the file when the failing frame held its path.

    Readers that know their file raise their own error; this covers any that decode without checking.
    """
    from harness.errors import HarnessError

    path = _path_in_traceback(exc)
    bad = exc.object[exc.start:exc.start + 1] if isinstance(exc.object, bytes | bytearray) else b""
    wide = isinstance(exc.object, bytes | bytearray) and exc.object[:2] in (b"\xff\xfe", b"\xfe\xff")
    what = "is UTF-16 text, not UTF-8" if wide else f"is not UTF-8 text (byte {exc.start + 1}: {bytes(bad)!r})"
    return HarnessError(f"{path or 'an input file'} {what}",
                        hint="convert it to UTF-8: iconv -f UTF-16 -t UTF-8 FILE > NEW_FILE" if wide else
                        "convert it to UTF-8, e.g. iconv -f latin1 -t utf-8 FILE > NEW_FILE", exit_code=2)


def _path_in_traceback(exc: BaseException) -> str | None:
    """The existing file a ``path``/``file`` local of the innermost harness frame names, if any."""
    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        if not frame.f_code.co_filename.startswith(str(Path(__file__).parent)):
            continue
        for name in ("path", "file", "filename", "source"):
            value = frame.f_locals.get(name)
            if isinstance(value, str | Path) and Path(value).is_file():
                return str(value)
    return None


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


if __name__ == "__main__":
    main()
