"""Replay an eval set through a running A/B gateway as simulated users, judging every answer.

Each simulated user (unit ``replay-<seed>-<i>``) sends ``requests_per_user`` queries drawn from the
set, spread over ``days`` simulated days (the gateway records the header ``X-Harness-Time``, epoch
seconds, as the request's time). Every answer is judged against the example's reference: for the
``extract`` set, the answer's JSON must give the reference's value for every reference field. The
verdict goes back as ``POST /v1/feedback {"request_id": ..., "outcomes": {OUTCOME: 0|1}}``, so the
measured effect comes from the models' real answers, not from a configured number.

>>> summary = replay("http://127.0.0.1:8700", load_queries("extract"), ReplayConfig(users=50))
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, DataError, HarnessError

if TYPE_CHECKING:
    from harness.workspace import Workspace

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Query:
    """One query to replay: the chat messages to send and the reference answer to judge against."""

    id: str
    messages: tuple[dict[str, str], ...]
    reference: str


@dataclass(frozen=True)
class ReplayConfig:
    """How many simulated users send how many requests over how many days, and how they are judged."""

    users: int = 20
    requests_per_user: int = 3
    days: float = 7.0
    seed: int = 0
    outcome: str = "resolved"
    concurrency: int = 8
    model: str = "default"
    api_key: str | None = None
    timeout_s: float = 120.0
    start: float | None = None  # epoch seconds of the first simulated day (default: ``days`` before now)

    def __post_init__(self) -> None:
        if self.users < 1 or self.requests_per_user < 1:
            raise ConfigError(f"--users and --requests-per-user must be >= 1, got {self.users} and "
                              f"{self.requests_per_user}")
        if not self.days >= 0:
            raise ConfigError(f"--days must be >= 0, got {self.days}")
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be >= 1, got {self.concurrency}")
        if not self.outcome.isidentifier():
            raise ConfigError(f"--outcome {self.outcome!r} is not a name", hint="e.g. --outcome resolved")


@dataclass
class VariantTally:
    """Requests one variant answered (by ``X-Harness-Variant``) and how many were judged correct."""

    requests: int = 0
    correct: int = 0


@dataclass
class ReplaySummary:
    """What a replay did: requests sent, answered, failed, feedback posted, per served variant."""

    requests: int = 0
    answered: int = 0
    errors: int = 0
    feedback: int = 0
    variants: dict[str, VariantTally] = field(default_factory=dict)
    error_messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-able data (the ``--json`` object)."""
        return {"requests": self.requests, "answered": self.answered, "errors": self.errors,
                "feedback": self.feedback,
                "variants": {v: {"requests": t.requests, "correct": t.correct,
                                 "accuracy": t.correct / t.requests if t.requests else None}
                             for v, t in sorted(self.variants.items())},
                "error_messages": self.error_messages[:5]}


def load_queries(name_or_path: str, split: str = "test", *, system: bool = True) -> list[Query]:
    """Return the queries of a bundled eval set's split (``extract``) or of a chat JSONL file.

    A query is the example's messages up to its last assistant message (the reference); ``system=False``
    drops system messages (when the gateway adds its own prompt).
    """
    path = Path(name_or_path)
    if not path.suffix:
        import evalsets

        path = evalsets.split_files(name_or_path).get(split) or path
        if split not in evalsets.SPLITS:
            raise ConfigError(f"--split {split!r} is not a split", hint=f"use one of {', '.join(evalsets.SPLITS)}")
    if not path.exists():
        raise DataError(f"eval set file {path} does not exist", hint="give a bundled set name (extract) or a JSONL file")
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            messages = row["messages"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DataError(f"{path}:{i}: not a chat example with 'messages'",
                            hint="each line needs {\"messages\": [..., {\"role\": \"assistant\", ...}]}") from None
        if not messages or messages[-1].get("role") != "assistant":
            raise DataError(f"{path}:{i}: the last message is not the assistant's reference answer")
        sent = tuple({"role": m["role"], "content": m["content"]} for m in messages[:-1]
                     if system or m["role"] != "system")
        out.append(Query(str(row.get("id", f"line-{i}")), sent, messages[-1]["content"]))
    if not out:
        raise DataError(f"{path}: no examples")
    return out


def judge_json_fields(answer: str | None, reference: str) -> float:
    """Return 1.0 when the answer's JSON gives the reference JSON's value for every reference field, else 0.0.

    A reference that is not a JSON object is compared as stripped text.
    """
    from harness.metrics.json_metrics import extract_json

    try:
        expected = json.loads(reference)
    except json.JSONDecodeError:
        expected = None
    if not isinstance(expected, dict):
        return float((answer or "").strip() == reference.strip())
    found, got = extract_json(answer)
    if not found or not isinstance(got, dict):
        return 0.0
    return float(all(got.get(k) == v for k, v in expected.items()))


def schedule(config: ReplayConfig, n_queries: int) -> list[list[tuple[float, int]]]:
    """Return per user the (epoch time, query index) of each request, in time order.

    A user's first request falls uniformly in the simulated period; the rest follow within the
    remaining days (uniform), so units arrive over the whole period as in a real ramp.
    """
    rng = random.Random(config.seed)
    start = config.start if config.start is not None else time.time() - config.days * SECONDS_PER_DAY
    span = config.days * SECONDS_PER_DAY
    plan = []
    for _ in range(config.users):
        first = rng.uniform(0, span)
        times = sorted([first] + [rng.uniform(first, span) for _ in range(config.requests_per_user - 1)])
        plan.append([(start + t, rng.randrange(n_queries)) for t in times])
    return plan


def replay(base_url: str, queries: Sequence[Query], config: ReplayConfig, *,
           judge: Callable[[str | None, str], float] = judge_json_fields,
           progress: Callable[[int], None] | None = None) -> ReplaySummary:
    """Send the queries through the gateway at ``base_url`` as simulated users; returns the summary.

    Each user's requests go in order (one thread per user, ``config.concurrency`` at a time); each
    answer is judged and its verdict posted to ``/v1/feedback``. A gateway that cannot be reached
    raises :class:`HarnessError` saying how to start one.
    """
    import threading

    import httpx

    url = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    plan = schedule(config, len(queries))
    summary = ReplaySummary()
    lock = threading.Lock()

    def user(i: int, client: httpx.Client) -> None:
        unit = f"replay-{config.seed}-{i}"
        for ts, qi in plan[i]:
            q = queries[qi]
            body = {"model": config.model, "messages": list(q.messages), "user": unit}
            try:
                r = client.post(f"{url}/v1/chat/completions", json=body,
                                headers={**headers, "X-Harness-Time": f"{ts:.3f}"})
            except httpx.ConnectError:
                raise HarnessError(f"cannot reach the A/B gateway at {url}",
                                   hint="start it with harness ab serve CONFIG.yaml (or check the URL)") from None
            except httpx.HTTPError as exc:
                with lock:
                    summary.requests += 1
                    summary.errors += 1
                    summary.error_messages.append(f"{type(exc).__name__}: {exc}")
                continue
            if r.status_code != 200:
                with lock:
                    summary.requests += 1
                    summary.errors += 1
                    summary.error_messages.append(f"HTTP {r.status_code}: {r.text[:200]}")
                continue
            data = r.json()
            answer = (data.get("choices") or [{}])[0].get("message", {}).get("content")
            verdict = judge(answer, q.reference)
            request_id = r.headers.get("X-Harness-Request") or data.get("id")
            f = client.post(f"{url}/v1/feedback", headers=headers,
                            json={"request_id": request_id, "outcomes": {config.outcome: verdict}})
            with lock:
                summary.requests += 1
                summary.answered += 1
                tally = summary.variants.setdefault(r.headers.get("X-Harness-Variant", "?"), VariantTally())
                tally.requests += 1
                tally.correct += int(verdict >= 1.0)
                if f.status_code == 200:
                    summary.feedback += 1
                else:
                    summary.error_messages.append(f"feedback HTTP {f.status_code}: {f.text[:200]}")
            if progress is not None:
                progress(1)

    limits = httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=config.concurrency)
    with httpx.Client(timeout=config.timeout_s, limits=limits) as client, \
            ThreadPoolExecutor(config.concurrency) as pool:
        for fut in [pool.submit(user, i, client) for i in range(config.users)]:
            fut.result()  # re-raises an unreachable gateway
    return summary


@contextmanager
def serve_in_thread(config_path: Path, workspace: Workspace, *, startup_s: float = 300.0) -> Iterator[str]:
    """Serve the gateway of ``config_path`` on a free loopback port in a thread; yields its base URL.

    The server stops when the block ends. Loading in-process models may take minutes (``startup_s``).
    """
    import socket
    import threading

    import uvicorn

    from harness.ab.gateway.app import create_app
    from harness.ab.gateway.config import load_config

    app = create_app(load_config(config_path), workspace)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise HarnessError(f"the gateway of {config_path} did not start", hint="run harness ab serve "
                               f"{config_path} to see its error")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
