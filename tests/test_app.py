"""``app.py``: the navigation holds the five pages, and every page opens on an empty workspace with the
command that fills it (no exception, nothing created)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def _app(monkeypatch: pytest.MonkeyPatch, workspace: Path) -> AppTest:
    monkeypatch.setattr(sys, "argv", ["app.py", "--workspace", str(workspace)])
    return AppTest.from_file(APP, default_timeout=60)


def test_five_pages_each_with_its_script() -> None:
    sys.path.insert(0, str(ROOT))
    from app_pages.common import PAGES

    assert [title for _, title, _, _ in PAGES] == ["Leaderboard", "Compare outputs", "Review", "A/B",
                                                   "Training and data"]
    for script, *_ in PAGES:
        assert (ROOT / script).is_file(), script


@pytest.mark.parametrize("page", ["app_pages/leaderboard.py", "app_pages/compare_outputs.py", "app_pages/review.py",
                                  "app_pages/ab.py", "app_pages/training.py"])
def test_every_page_has_an_empty_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, page: str) -> None:
    missing = tmp_path / "no-workspace"
    at = _app(monkeypatch, missing)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert any(str(missing) in info.value for info in at.info), [i.value for i in at.info]
    assert [c.value for c in at.code if c.value.startswith("harness ")], "no command to run was shown"
    assert not missing.exists(), "opening the app created the workspace"


def test_the_sidebar_shows_and_switches_the_workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = _app(monkeypatch, tmp_path / "first")
    at.run()
    box = at.sidebar.text_input[0]
    assert box.value == str(tmp_path / "first")
    box.set_value(str(tmp_path / "second")).run()
    assert not at.exception
    assert any(str(tmp_path / "second") in info.value for info in at.info)
