"""20 reviewer processes claiming and submitting at once: never beyond the overlap, every label stored once.

The same test runs on the workspace's SQLite file and, where the server binaries exist, on PostgreSQL
(the server fixture of ``tests/harness/test_store_postgres.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.review.queue import items, labels
from harness.store import create_engine_for
from harness.store import review as store

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from postgres_support import new_database, running_postgres  # noqa: E402
from reviewdata import rubric_batch  # noqa: E402

WORKER = Path(__file__).parent / "reviewer_worker.py"
REVIEWERS = 20
N_ITEMS, OVERLAP = 12, 3


def _run_reviewers(url: str, tmp_path: Path) -> None:
    """Start 20 reviewer processes on one batch at the same instant and check what the store holds."""
    engine = create_engine_for(url)
    batch = rubric_batch(engine, N_ITEMS, overlap=OVERLAP)
    ready, go = tmp_path / "ready", tmp_path / "go"
    ready.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    names = [f"reviewer-{k:02d}" for k in range(REVIEWERS)]
    procs = [subprocess.Popen([sys.executable, str(WORKER), url, batch.id, name, str(ready), str(go),
                               "1" if k % 4 == 0 else "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for k, name in enumerate(names)]
    deadline = time.monotonic() + 120
    while len(list(ready.iterdir())) < REVIEWERS and time.monotonic() < deadline:
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.02)
    go.touch()  # everyone starts claiming at once
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0] * REVIEWERS, [err[-1500:] for _, err in results if err]

    reported = {(item_id, name, score) for (out, _), name in zip(results, names, strict=True)
                for item_id, score in json.loads(out.strip().splitlines()[-1])}
    stored = labels(engine, batch.id)
    per_item = Counter(label.item_id for label in stored)
    # every item got exactly its overlap of labels: none beyond it, none lost
    assert per_item == {item.id: OVERLAP for item in items(engine, batch.id)}
    assert len(stored) == N_ITEMS * OVERLAP == len(reported)
    # every submission is stored exactly once, with the values its reviewer sent
    assert {(label.item_id, label.reviewer, label.values["helpfulness"]) for label in stored} == reported
    assert len({(label.item_id, label.reviewer) for label in stored}) == len(stored)
    # nobody was ever handed an item beyond its overlap: the non-skipped holders are exactly the labellers
    holders = Counter(a.item_id for a in store.assignment_rows(engine, batch.id) if a.status != store.SKIPPED)
    assert holders == per_item
    skipped = [a for a in store.assignment_rows(engine, batch.id) if a.status == store.SKIPPED]
    skippers = Counter(a.reviewer for a in skipped)  # a skipper may find everything taken before its first claim
    assert set(skippers) <= {names[k] for k in range(0, REVIEWERS, 4)} and set(skippers.values()) <= {1}
    assert all((a.item_id, a.reviewer) not in {(s.item_id, s.reviewer) for s in stored} for a in skipped)
    engine.dispose()


def test_twenty_reviewer_processes_on_sqlite(tmp_path: Path) -> None:
    _run_reviewers(f"sqlite:///{tmp_path / 'harness.db'}", tmp_path)


@pytest.fixture(scope="module")
def postgres_url():
    with running_postgres() as url:
        yield url


def test_twenty_reviewer_processes_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    _run_reviewers(new_database(postgres_url, "review_concurrency"), tmp_path)

