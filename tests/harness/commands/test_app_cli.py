"""``harness app``: finds the repository's app.py and serves it with streamlit on the workspace."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.commands import app as app_command

ROOT = Path(__file__).resolve().parents[3]


def test_finds_the_repository_app() -> None:
    assert app_command.find_app_script() == ROOT / "app.py"


def test_the_streamlit_command_line(tmp_path: Path) -> None:
    line = app_command.app_command(ROOT / "app.py", tmp_path, "127.0.0.1", 8555)
    assert line[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert line[line.index("--server.port") + 1] == "8555"
    assert line[line.index("--server.address") + 1] == "127.0.0.1"
    # the workspace is written to while the app runs: no source watcher walking it
    assert line[line.index("--server.fileWatcherType") + 1] == "none"
    assert line[-3:] == ["--", "--workspace", str(tmp_path)]


def test_without_the_repository_it_says_how_to_get_it(cli, monkeypatch) -> None:
    monkeypatch.setattr(app_command, "find_app_script", lambda: None)
    result = cli("app")
    assert result.exit_code != 0
    assert "app.py was not found" in result.stderr and "pip install -e ." in result.stderr


def test_help_lists_the_app_command(cli) -> None:
    result = cli("--help")
    assert "Open the Streamlit app" in " ".join(result.stdout.split())
