"""The CLI entry point: fast help, clean errors, exit codes."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "pandas", "scipy", "sentence_transformers", "sqlalchemy", "vllm", "alembic",
         "fastapi", "uvicorn")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from harness.cli import run\n"
        "try:\n    run(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.rstrip().endswith("HEAVY="), f"heavy modules imported by --help: {out.stdout[-300:]}"


def test_every_subcommand_help_is_light() -> None:
    groups = ["data", "models", "ab", "train", "eval", "score", "compare", "demo"]
    code = (
        "import sys\nfrom harness.cli import run\n"
        f"for g in {groups!r}:\n    run([g, '--help'])\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.rstrip().endswith("HEAVY="), f"heavy modules imported: {out.stdout[-300:]}"


def test_version_and_help(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    from harness import __version__

    assert result.stdout == f"harness {__version__}\n"
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("demo", "data", "train", "models", "eval", "score", "compare", "ab"):
        assert command in result.stdout


def test_unknown_command_is_a_usage_error(cli) -> None:
    result = cli("no-such-command")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr + result.stdout


def test_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "harness.cli", "--version"], capture_output=True, text=True)
    from harness import __version__

    assert out.returncode == 0 and out.stdout.strip() == f"harness {__version__}"
