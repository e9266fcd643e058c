"""Every ``harness ab`` error names only options of the command that printed it (issue 15)."""

from __future__ import annotations

import re

import pytest
import typer.main

from harness.commands.ab import app

# options a message names: "--name", except where it names another command ("harness ab plan --experiment")
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
_OTHER_COMMAND = re.compile(r"harness ab [a-z]+[^;,)`]*")


def own_options(name: str) -> set[str]:
    """Return the long options (and their --no-/secondary forms) of ``harness ab NAME``."""
    sub = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    return {o for p in sub.params for o in [*p.opts, *p.secondary_opts] if o.startswith("--")}


def named_options(text: str) -> set[str]:
    """Return the options ``text`` names for the command itself."""
    return set(_OPTION.findall(_OTHER_COMMAND.sub("", text)))


@pytest.fixture
def files(tmp_path):
    (tmp_path / "power.yaml").write_text("power: 1.5\n")
    (tmp_path / "planned.yaml").write_text("planned_units: -1\n")
    (tmp_path / "alpha.yaml").write_text("alpha: 0.9\n")
    (tmp_path / "weights.yaml").write_text("weights: {a: -1, b: 1}\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "wide.json").write_bytes('{"variants": {}}'.encode("utf-16"))
    return tmp_path


CASES = [
    ("simulate", ["--variants", "a", "--out", "{t}/x.csv"], "--variants"),
    ("simulate", ["--variants", "a=1", "--out", "{t}/x.csv"], "--variants"),
    ("simulate", ["--effect", "x", "--out", "{t}/x.csv"], "--effect"),
    ("simulate", ["--effect", "bogus=0.1", "--out", "{t}/x.csv"], "unknown effect metric"),
    ("simulate", ["--loss", "zz=0.5", "--out", "{t}/x.csv"], "--loss"),
    ("simulate", ["--out", "{t}/x.txt"], ".parquet"),
    ("analyze", ["--weights", "a", "--summary", "{t}/wide.json"], "--weights"),
    ("analyze", ["--config", "{t}/power.yaml", "--summary", "{t}/wide.json"], "power.yaml: power must be in (0, 1)"),
    ("analyze", ["--config", "{t}/alpha.yaml", "--summary", "{t}/wide.json"], "alpha.yaml: alpha"),
    ("analyze", ["--config", "{t}/weights.yaml", "--summary", "{t}/wide.json"], "weights must all be > 0"),
    ("analyze", ["--config", "{t}/folder", "--summary", "{t}/wide.json"], "is a folder"),
    ("analyze", ["--summary", "{t}/folder"], "is a folder"),
    ("analyze", ["--summary", "{t}/wide.json"], "UTF-16"),
    ("plan", ["--mde", "0.05", "--baseline", "0.3", "--config", "{t}/planned.yaml"], "planned_units must be > 0"),
    ("plan", ["--mde", "0.05", "--baseline", "0.3", "--power", "1.5"], "power must be in (0, 1)"),
    ("plan", ["--mde", "0.05", "--baseline", "0.3", "--weights", "x"], "--weights"),
    ("weights", ["exp", "a"], "is not NAME=SHARE"),
]


@pytest.mark.parametrize(("command", "args", "expected"), CASES)
def test_errors_name_only_the_commands_own_options(cli, files, command, args, expected):
    result = cli("ab", command, *[a.format(t=files) for a in args])
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and expected in result.stderr
    unknown = named_options(result.stderr) - own_options(command)
    assert not unknown, f"{command} names options it does not have: {unknown}\n{result.stderr}"


def test_the_checker_sees_a_foreign_option():
    assert named_options("hint: e.g. --weights a=1 (or harness ab plan --replace-plan)") == {"--weights"}
    assert "--weights" not in own_options("simulate") and "--fixed-horizon" in own_options("analyze")
