"""``python -m trainers``: the launcher entry parses its own arguments (it never imports the CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trainers", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_dry_run_prints_the_resolved_configs_of_a_sweep(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("name: cand\nbase_model: tiny\ntrain_file: t.jsonl\nmethod: lora\n")
    done = _run(str(config), "lr=1e-3", "--sweep", "lora.r=4,8", "--dry-run")
    assert done.returncode == 0, done.stderr
    configs = json.loads(done.stdout)
    assert [(c["name"], c["lora"]["r"], c["lr"]) for c in configs] == [("cand-r4", 4, 1e-3), ("cand-r8", 8, 1e-3)]


def test_a_bad_config_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("name: cand\nbase_model: tiny\ntrain_file: t.jsonl\nmethod: lorra\n")
    done = _run(str(config), "--dry-run")
    assert done.returncode == 2
    assert f"error: {config}: config field `method`: unknown method 'lorra'" in done.stderr
    assert "hint: use one of full, lora, qlora, prompt_tuning" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_trainers_package_does_not_import_the_cli() -> None:
    code = ("import sys, trainers.__main__, trainers.api, trainers.methods; "
            "print(sorted(m for m in sys.modules if m.startswith(('harness.cli', 'harness.commands'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
