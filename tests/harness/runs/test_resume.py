"""Kill -9 a running ``harness eval`` after some generations are committed, then ``--resume``."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.backends._support import write_eval_set, write_suite

pytestmark = pytest.mark.slow

N_TEST = 48


def _suite(tmp_path: Path, tiny: Path) -> Path:
    write_eval_set(tmp_path, n_test=N_TEST)
    return write_suite(tmp_path, (
        "name: resume-test\ndatasets: {test: test.jsonl}\ngeneration: {max_new_tokens: 40}\n"
        f"candidates:\n  - {{name: a, model: {tiny}, options: {{batch_size: 2, threads: 1}}}}\n"
        f"  - {{name: b, model: {tiny}, prompt: {{system: 'Reply in JSON.'}}, options: {{batch_size: 2, threads: 1}}}}\n"
        "metrics: [exact_match, json_valid]\n"))


def _harness(*args: str) -> list[str]:
    return [sys.executable, "-c", "from harness.cli import main; main()", *args]


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return conn.execute("select count(*) from generations").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _predictions(run_dir: Path) -> dict[str, list[str]]:
    return {cand: [json.loads(x)["prediction"] for x in (run_dir / "predictions" / cand / "test.jsonl").read_text().splitlines()]
            for cand in ("a", "b")}


def test_kill_then_resume_matches_uninterrupted_run(tmp_path: Path, tiny_model_dir: Path) -> None:
    suite = _suite(tmp_path, tiny_model_dir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    ws = tmp_path / "ws"
    db = ws / "harness.db"
    proc = subprocess.Popen(_harness("eval", str(suite), "-w", str(ws), "--json"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _count(db) < 6 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = _count(db)
    assert proc.returncode == -signal.SIGKILL
    assert 6 <= committed < 2 * N_TEST, f"kill came too late ({committed} committed); enlarge the test"

    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        status = conn.execute("select status from eval_runs").fetchall()
    assert status == [("running",)]
    run_dir = next((ws / "runs").iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "running" and not (run_dir / "summary.json").exists()
    # Nothing half-written under a final name: every file there parses whole (a kill during an atomic
    # write leaves only its hidden temporary, which the next write of that file removes: checked below).
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl"):
            text = path.read_text()
            for line in text.splitlines() if path.suffix == ".jsonl" else [text]:
                json.loads(line)

    done = subprocess.run(_harness("eval", str(suite), "-w", str(ws), "--resume", "--json"), env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed = json.loads(done.stdout)
    assert resumed["resumed"] and resumed["run_id"] == run_dir.name
    assert sum(resumed["generated"].values()) == 2 * N_TEST - committed
    assert sum(resumed["cached"].values()) == committed
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "completed"
    assert not list(run_dir.rglob("*.tmp"))  # no temporary left behind once the run is complete

    fresh_ws = tmp_path / "fresh"
    clean = subprocess.run(_harness("eval", str(suite), "-w", str(fresh_ws), "--json"), env=env,
                           capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr
    reference = json.loads(clean.stdout)
    assert _predictions(run_dir) == _predictions(Path(reference["run_dir"]))
    assert resumed["summary"]["candidates"] == reference["summary"]["candidates"]

    again = subprocess.run(_harness("eval", str(suite), "-w", str(ws), "--resume", "--json"), env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "no unfinished run" in again.stderr
    assert sum(json.loads(again.stdout)["generated"].values()) == 0
