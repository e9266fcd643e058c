"""Benchmark: ``harness ab analyze`` on millions of events in the SQLite store vs loading them into pandas.

    python bench/bench_ab.py                    # 10 million events (builds the DB once, ~minutes)
    python bench/bench_ab.py --events 1000000   # quicker
    python bench/bench_ab.py --skip-pandas      # only the SQL path

The database is cached under ``$TMPDIR/harness-bench-ab/`` (``--cache-dir``) so later runs only
measure the analysis. Target: the whole ``harness ab analyze`` command (process start, imports, SQL
aggregation, statistics) under 30 s for 10 million events. The reference is the same analysis after
``SELECT *`` into pandas, measured in the same run; the ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPERIMENT = "bench"
TARGET_S = 30.0


def _workspace(cache: Path, events: int) -> Path:
    return cache / f"ws-{events}"


def _count(db: Path) -> int:
    import sqlite3

    if not db.exists():
        return -1
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM ab_events").fetchone()[0]
    except sqlite3.Error:
        return -1


def build(ws_dir: Path, events: int) -> None:
    """Simulate about ``events`` events into a fresh workspace (built next to it, then moved in place)."""
    from harness.ab.simulate import SimulationConfig, write_store
    from harness.workspace import Workspace

    days, per_unit = 14, 3.0
    units_per_day = max(1, round(events / per_unit / days))
    cfg = SimulationConfig(days=days, units_per_day=units_per_day, requests_per_unit=per_unit,
                           effects={"candidate": {"task_completed": 0.02}}, seed=42)
    tmp = ws_dir.with_name(ws_dir.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    ws = Workspace.open(tmp)
    started = time.perf_counter()

    def progress(n: int) -> None:
        rate = n / (time.perf_counter() - started)
        print(f"\r  inserted {n:,} events ({rate:,.0f}/s)", end="", flush=True)

    from sqlalchemy import text

    # bulk load without the latency index, then build it once (a sort) instead of 10M random inserts
    with ws.engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_ab_events_latency"))
    n = write_store(cfg, ws.engine, EXPERIMENT, control="base", progress=progress)
    print(f"\n  inserted in {time.perf_counter() - started:.1f}s; building the latency index", flush=True)
    with ws.engine.begin() as conn:
        conn.execute(text("CREATE INDEX ix_ab_events_latency ON ab_events (experiment_id, variant, latency_s)"))
    ws.close()
    print(f"  built {n:,} events in {time.perf_counter() - started:.1f}s")
    shutil.rmtree(ws_dir, ignore_errors=True)
    tmp.rename(ws_dir)


def time_cli(ws_dir: Path) -> tuple[float, float, dict]:
    """Run ``harness ab analyze -e bench --json`` in a fresh process; return (wall s, CPU s, report).

    CPU seconds (user + system of the child) show the cost independently of other load on the machine.
    """
    import resource

    cmd = [sys.executable, "-m", "harness.cli", "ab", "analyze", "-w", str(ws_dir), "-e", EXPERIMENT, "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"harness ab analyze failed ({out.returncode}): {out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, json.loads(out.stdout)


def time_pandas(ws_dir: Path) -> tuple[float, float, dict]:
    """Load every event into pandas, then run the same analysis on the frame; return (load s, total s, report)."""
    import sqlite3

    import pandas as pd

    from harness.ab.analysis import analyze
    from harness.ab.api import to_report
    from harness.ab.collect import collect
    from harness.ab.config import AnalysisConfig, default_store_metrics
    from harness.ab.decision import decide
    from harness.ab.load_file import FrameSource

    started = time.perf_counter()
    with sqlite3.connect(ws_dir / "harness.db") as conn:
        df = pd.read_sql_query("SELECT * FROM ab_events WHERE experiment_id = "
                               "(SELECT id FROM ab_experiments WHERE name = ?)", conn, params=(EXPERIMENT,))
    loaded = time.perf_counter() - started
    df = df.rename(columns={"ts": "timestamp"})
    config = AnalysisConfig(metrics=default_store_metrics(), control="base", weights={"base": 0.5, "candidate": 0.5})
    result = analyze(collect(FrameSource(df, "pandas"), config), config)
    report = to_report(result, decide(result))
    return loaded, time.perf_counter() - started, report


def main() -> None:
    """Build (once) and benchmark; print timings and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "harness-bench-ab")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    ws_dir = _workspace(args.cache_dir, args.events)
    db = ws_dir / "harness.db"
    n = _count(db)
    if args.rebuild or n <= 0:
        print(f"building the store with ~{args.events:,} events in {ws_dir} (cached for later runs)")
        build(ws_dir, args.events)
        n = _count(db)
    print(f"store: {n:,} events, {db.stat().st_size / 2**20:,.0f} MiB ({db})")

    sql_s, cpu_s, report = time_cli(ws_dir)
    units = sum(report["units"].values())
    load = os.getloadavg()[0]
    print(f"harness ab analyze (SQL aggregation, whole command): {sql_s:.1f}s wall, {cpu_s:.1f}s CPU for {n:,} "
          f"events / {units:,} units -> {report['decision']['action']}  [target < {TARGET_S:.0f}s: "
          f"{'OK' if sql_s < TARGET_S else 'MISSED'}; load average {load:.1f} on {os.cpu_count()} cores]")
    if args.skip_pandas:
        return
    cpu_before = time.process_time()
    load_s, total_s, ref = time_pandas(ws_dir)
    print(f"pandas reference CPU: {time.process_time() - cpu_before:.1f}s")
    print(f"pandas reference: load all rows {load_s:.1f}s, load + same analysis {total_s:.1f}s")
    print(f"ratio: pandas load / SQL analyze = {load_s / sql_s:.2f}x; pandas load+analysis / SQL analyze = "
          f"{total_s / sql_s:.2f}x")
    a = {m["name"]: m["absolute"]["estimate"] for m in report["metrics"]}
    b = {m["name"]: m["absolute"]["estimate"] for m in ref["metrics"]}
    worst = max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-12) for k in a if a[k] is not None and b[k] is not None)
    print(f"same effects from both paths: max relative difference {worst:.2e}")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
