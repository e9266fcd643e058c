"""One reviewer process of the concurrency test: waits for the start signal, then reviews until nothing is left.

``python reviewer_worker.py DATABASE_URL BATCH_ID REVIEWER READY_DIR GO_FILE SKIP_FIRST``; prints one JSON
line: ``[[item_id, helpfulness], ...]`` for every label it stored (each submitted twice: a retry).
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from pathlib import Path


def main(url: str, batch_id: str, reviewer: str, ready_dir: str, go_file: str, skip_first: str) -> None:
    from harness.review.queue import next_item, skip, submit
    from harness.store import create_engine_for

    engine = create_engine_for(url)
    engine.connect().close()  # the connection pool is warm before the start signal
    (Path(ready_dir) / reviewer).touch()
    deadline = time.monotonic() + 120
    while not Path(go_file).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        time.sleep(0.005)
    stored = []
    skipping = skip_first == "1"
    while (task := next_item(engine, batch_id, reviewer)) is not None:
        if skipping:
            skip(engine, task.item_id, reviewer)
            skipping = False
            continue
        score = 1 + zlib.crc32(f"{reviewer}/{task.item_id}".encode()) % 5
        values = {"helpfulness": score, "policy_compliance": "yes", "factual_accuracy": "no",
                  "tone_appropriate": "yes"}
        label = submit(engine, task.item_id, reviewer, values)
        retry = submit(engine, task.item_id, reviewer, values)  # a retried submit must not count twice
        assert retry == label, (retry, label)
        stored.append([label.item_id, label.values["helpfulness"]])
    engine.dispose()
    print(json.dumps(stored))


if __name__ == "__main__":
    main(*sys.argv[1:])
