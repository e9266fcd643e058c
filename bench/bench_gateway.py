"""Benchmark: the A/B gateway's added latency, its event bookkeeping, and its crash safety.

    python bench/bench_gateway.py                      # 2,000 requests, 200 concurrent
    python bench/bench_gateway.py --requests 5000 --concurrency 200
    python bench/bench_gateway.py --skip-kill          # only the overhead part

1. Overhead: a stub OpenAI-compatible upstream that answers instantly (its own process) is called
   directly and then through ``harness ab serve`` (another process, both variants on the stub), with
   ``--concurrency`` requests in flight on loopback. Printed: median and p99 latency of both, the
   added latency (gateway minus direct) and their ratio. Targets: median added < 2 ms, p99 added
   < 10 ms. The same one request at a time shows the gateway's own cost per request without the
   client's queueing (on a loaded machine the concurrent figures mostly measure the client), and the
   CPU time the gateway process spent per request (the least sensitive figure to other load). Every
   gateway response gets a ``/v1/feedback`` post; the rows in ``ab_requests`` and
   ``ab_outcomes`` are counted and must equal the responses and the accepted feedback.
2. Crash safety: the gateway is killed with SIGKILL under load and restarted on the same store;
   every request that got a response must have its exposure row.

Exit status 1 when an event is missing (the latency targets are reported, not enforced: a shared
or slow machine can miss them without a defect).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEDIAN_TARGET_MS, P99_TARGET_MS = 2.0, 10.0
EXPERIMENT = "bench-gateway"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_stub(port: int) -> None:
    """Run the instant stub upstream (``--serve-stub PORT``): a fixed chat completion for any request."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response

    body = json.dumps({"id": "stub", "object": "chat.completion", "model": "stub",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": '{"ok": true}'},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12}}).encode()
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat():  # no annotations: FastAPI would resolve them in this module's globals
        return Response(body, media_type="application/json")

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": "stub", "object": "model"}]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} did not come up in {timeout:.0f} s")


def start_gateway(config: Path, workspace: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "HARNESS_WORKSPACE": str(workspace)}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "ab", "serve", str(config), "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], env=env)
    wait_up(f"http://127.0.0.1:{port}/healthz", proc, timeout=120.0)
    return proc


async def load(url: str, n: int, concurrency: int, *, feedback: bool, gateway: bool,
               stop_after_s: float | None = None) -> tuple[list[float], list[str], int]:
    """Send ``n`` chat requests with ``concurrency`` in flight; returns (latencies s, request ids, feedback ok).

    The client is the gateway's own upstream client (``aiohttp``, a fraction of httpx's cost per request),
    so that on a small machine the figures measure the servers more than the client.
    """
    from harness.ab.gateway.upstream import UpstreamClient, UpstreamError

    latencies: list[float] = []
    ids: list[str] = []
    fed = 0
    sent = 0
    started = time.monotonic()
    client = UpstreamClient(f"{url}/v1", "stub", {"api_key_env": None}, max_connections=concurrency)

    async def worker() -> None:  # `concurrency` workers, each sending one request after another
        nonlocal fed, sent
        while sent < n and (stop_after_s is None or time.monotonic() - started < stop_after_s):
            i = sent
            sent += 1
            body = {"model": "stub", "messages": [{"role": "user", "content": f"hello {i}"}], "user": f"u{i % 500}"}
            t0 = time.perf_counter()
            try:
                status, raw = await client.post("/chat/completions", body)
            except (UpstreamError, OSError):
                continue
            dt = time.perf_counter() - t0
            if status != 200:
                continue
            latencies.append(dt)
            rid = json.loads(raw)["id"]
            if gateway:
                ids.append(rid)
                if feedback:
                    try:
                        status, _ = await client.post("/feedback", {"request_id": rid, "outcomes": {"thumbs_up": i % 2}})
                        fed += status == 200
                    except (UpstreamError, OSError):
                        pass

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await client.close()
    return latencies, ids, fed


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p * len(s)) - 1))] * 1000


def db_counts(workspace: Path, ids: list[str] | None = None) -> tuple[int, int, int]:
    """(request rows, outcome rows, ids without a request row) in the workspace's SQLite store."""
    db = next(workspace.glob("*.db"), None) or next(workspace.rglob("*.db"))
    with sqlite3.connect(db) as conn:
        n_req = conn.execute("SELECT COUNT(*) FROM ab_requests").fetchone()[0]
        n_out = conn.execute("SELECT COUNT(*) FROM ab_outcomes").fetchone()[0]
        stored = {r[0] for r in conn.execute("SELECT request_id FROM ab_requests")}
    return n_req, n_out, sum(1 for i in ids or [] if i not in stored)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--skip-kill", action="store_true")
    ap.add_argument("--serve-stub", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_stub:
        serve_stub(args.serve_stub)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="harness-bench-gateway-"))
    stub_port, gw_port = free_port(), free_port()
    stub = subprocess.Popen([sys.executable, __file__, "--serve-stub", str(stub_port)])
    procs = [stub]
    ok = True
    try:
        stub_url = f"http://127.0.0.1:{stub_port}"
        wait_up(f"{stub_url}/v1/models", stub)
        config = tmp / "gateway.yaml"
        config.write_text(json.dumps({"experiment": EXPERIMENT, "control": "base", "variants": {
            "base": {"base_url": f"{stub_url}/v1", "model": "stub", "weight": 0.5},
            "candidate": {"base_url": f"{stub_url}/v1", "model": "stub", "weight": 0.5, "timeout_s": 10}}}))
        workspace = tmp / "ws"
        gw = start_gateway(config, workspace, gw_port)
        procs.append(gw)
        gw_url = f"http://127.0.0.1:{gw_port}"

        asyncio.run(load(stub_url, 200, 50, feedback=False, gateway=False))  # warm up both
        asyncio.run(load(gw_url, 200, 50, feedback=False, gateway=True))
        base_req, base_out, _ = db_counts(workspace)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        cpu0 = cpu_seconds(stub.pid)
        direct, _, _ = asyncio.run(load(stub_url, args.requests, args.concurrency, feedback=False, gateway=False))
        cpu_stub = (cpu_seconds(stub.pid) - cpu0) / max(1, len(direct))
        cpu0 = cpu_seconds(gw.pid)
        through, ids, fed = asyncio.run(load(gw_url, args.requests, args.concurrency, feedback=True, gateway=True))
        cpu_gw = (cpu_seconds(gw.pid) - cpu0) / max(1, len(through) + fed)
        med_d, med_g = statistics.median(direct) * 1000, statistics.median(through) * 1000
        p99_d, p99_g = pct(direct, 0.99), pct(through, 0.99)
        print(f"{args.requests:,} requests, {args.concurrency} concurrent, loopback")
        print(f"  direct to the stub : median {med_d:7.2f} ms   p99 {p99_d:7.2f} ms   ({len(direct):,} ok)")
        print(f"  through the gateway: median {med_g:7.2f} ms   p99 {p99_g:7.2f} ms   ({len(through):,} ok)")
        print(f"  added by the gateway: median {med_g - med_d:+.2f} ms (target < {MEDIAN_TARGET_MS:g}), "
              f"p99 {p99_g - p99_d:+.2f} ms (target < {P99_TARGET_MS:g}); ratio gateway/direct median "
              f"{med_g / med_d:.2f}x")
        print(f"  CPU per request: gateway {cpu_gw * 1000:.2f} ms (a chat request or a feedback post, with its "
              f"bookkeeping), the stub {cpu_stub * 1000:.2f} ms")
        # one request at a time: the gateway's own cost per request, without the client's queueing
        one_d, _, _ = asyncio.run(load(stub_url, 300, 1, feedback=False, gateway=False))
        one_g, ids_one, _ = asyncio.run(load(gw_url, 300, 1, feedback=False, gateway=True))
        ids += ids_one
        print(f"  one at a time: direct median {statistics.median(one_d) * 1000:.2f} ms, through the gateway "
              f"{statistics.median(one_g) * 1000:.2f} ms: added {(statistics.median(one_g) - statistics.median(one_d)) * 1000:+.2f} ms")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        n_req, n_out, missing = db_counts(workspace, ids)
        print(f"  events stored: {n_req - base_req:,} requests for {len(ids):,} responses, "
              f"{n_out - base_out:,} outcomes for {fed:,} accepted feedback posts, {missing} responses without a row")
        ok &= n_req - base_req == len(ids) and n_out - base_out == fed and missing == 0

        if not args.skip_kill:
            async def under_load() -> tuple[list[float], list[str], int]:
                task = asyncio.create_task(load(gw_url, 100_000, 50, feedback=False, gateway=True, stop_after_s=3.0))
                await asyncio.sleep(1.5)
                gw.send_signal(signal.SIGKILL)
                return await task

            _, answered, _ = asyncio.run(under_load())
            gw.wait()
            gw = start_gateway(config, workspace, gw_port)
            procs.append(gw)
            _, after, _ = asyncio.run(load(gw_url, 20, 5, feedback=False, gateway=True))
            _, _, lost = db_counts(workspace, answered + after)
            print(f"SIGKILL under load: {len(answered):,} requests answered before the kill, {lost} without an "
                  f"exposure row after restart; {len(after)}/20 answered after restart")
            ok &= lost == 0 and len(after) == 20 and len(answered) > 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
    print("OK: every exposure and outcome stored" if ok else "FAILED: events missing (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
