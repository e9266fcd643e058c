"""Runs the worked examples of ``docs/extending.md``: every ``python`` block of a section, in order.

Each section runs in a fresh interpreter whose working directory is a temporary folder that also
holds the workspace (``HARNESS_WORKSPACE``), so an example can write files and register plug-ins
without touching the repository. A section whose code raises, or that has no code, fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "extending.md"
SECTION = re.compile(r"<!-- SECTION: ([\w-]+) -->")
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def sections() -> dict[str, str]:
    """``{name: text}`` of every marked section of the page."""
    text = PAGE.read_text(encoding="utf-8")
    parts = SECTION.split(text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@pytest.mark.parametrize("name", sorted(sections()))
def test_example_runs(name: str, tmp_path: Path) -> None:
    code = "\n".join(BLOCK.findall(sections()[name]))
    assert code.strip(), f"section {name!r} of {PAGE.name} has no python example"
    script = tmp_path / f"{name}.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "HARNESS_WORKSPACE": str(tmp_path / "ws"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"section {name!r} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
