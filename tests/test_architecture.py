"""The layers of pyproject.toml's import-linter contracts hold (the same check as `lint-imports`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                           "sys.exit(lint_imports(no_cache=True))"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    assert "0 broken" in report and "Contracts: 4 kept" in report, report[-2000:]


def test_a_broken_layer_is_reported(tmp_path: Path) -> None:
    """The contracts can fail: a stats module that imports the store breaks two of them."""
    import shutil

    copy = tmp_path / "repo"
    for name in ("harness", "trainers", "evalsets", "app_pages"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.jsonl"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    (copy / "harness" / "stats" / "leak.py").write_text("import harness.store.runs\nimport torch\n")
    (copy / "harness" / "store" / "ui.py").write_text("import app_pages.common\n")
    done = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, '.'); "
                           "from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"],
                          cwd=copy, capture_output=True, text=True, timeout=300)
    report = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Statistics and metrics are pure" in report and "BROKEN" in report
    # the layers, the purity contract and the app leaf; the eval-set generator contract holds
    assert "Contracts: 1 kept, 3 broken." in report
    assert "harness.store.ui -> app_pages.common" in report
    assert "harness.stats.leak -> harness.store.runs" in report and "harness.stats.leak -> torch" in report
