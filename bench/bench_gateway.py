"""Benchmark: the A/B gateway's added latency, its event bookkeeping, and its crash safety.

    python bench/bench_gateway.py                      # defaults below
    python bench/bench_gateway.py --rate 300 --duration 20 --connections 200
    python bench/bench_gateway.py --skip-kill          # only the overhead part

A stub OpenAI-compatible upstream that answers instantly (its own process) is called directly and
through ``harness ab serve`` (another process, both variants on the stub), on loopback.

1. Overhead at 200 concurrent connections (the target): ``--connections`` keep-alive connections,
   all open, each sending its requests at a fixed pace so that together they offer ``--rate``
   requests/s (open loop: a request is sent at its time whatever the others are doing). The rate
   defaults to a quarter of the gateway's measured maximum throughput, so neither path is saturated
   and the latencies measure the servers, not a queue; the two paths alternate in rounds of
   ``ROUND_S`` seconds, so that a change in the machine's other load hits both. Printed: median and p99 of both paths, the added
   latency (gateway minus direct) and their ratio. Targets: median added < 2 ms, p99 added < 10 ms.
   The client's lag behind its schedule is printed too (a late client means a loaded machine).
2. Saturation (closed loop): ``--concurrency`` requests in flight all the time (each client sends
   its next request as soon as it has an answer), ``--requests`` in all. On a small machine every
   request then queues behind the others, so these latencies measure queueing; printed with the
   maximum throughput of both paths and the CPU time the gateway spends per request (the figure
   least sensitive to other load on the machine).
3. One request at a time: the gateway's own cost per request with no concurrency at all.

Every gateway response in 1 and 2 gets a ``/v1/feedback`` post (so the gateway path does twice the
requests of the direct one); the rows in ``ab_requests`` and ``ab_outcomes`` are counted and must
equal the responses and the accepted feedback.

4. Crash safety: the gateway is killed with SIGKILL under load and restarted on the same store;
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MEDIAN_TARGET_MS, P99_TARGET_MS = 2.0, 10.0
EXPERIMENT = "bench-gateway"
ROUND_S = 2.0  # open loop: the paths alternate in rounds of this many seconds each


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


@dataclass
class Load:
    """What one load run measured: latencies (s), the gateway's request ids, feedback accepted, and more."""

    latencies: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    fed: int = 0
    elapsed_s: float = 0.0
    max_in_flight: int = 0
    lags: list[float] = field(default_factory=list)  # open loop: how late each request left (s)
    errors_502: int = 0  # answers "no variant could answer" (an exposure row, no request id for the client)

    @property
    def throughput(self) -> float:
        """Answered chat requests per second."""
        return len(self.latencies) / self.elapsed_s if self.elapsed_s else float("nan")


def _client(url: str, connections: int) -> Any:
    """The load client: the gateway's own upstream client (``aiohttp``, a fraction of httpx's cost per
    request), so that on a small machine the figures measure the servers more than the client."""
    from harness.ab.gateway.upstream import UpstreamClient

    return UpstreamClient(f"{url}/v1", "stub", {"api_key_env": None}, max_connections=connections)


async def _chat(client: Any, out: Load, i: int, *, feedback: bool, gateway: bool) -> None:
    """One chat request (timed) and, through the gateway, its feedback post (not timed)."""
    from harness.ab.gateway.upstream import UpstreamError

    body = {"model": "stub", "messages": [{"role": "user", "content": f"hello {i}"}], "user": f"u{i % 500}"}
    t0 = time.perf_counter()
    try:
        status, raw = await client.post("/chat/completions", body)
    except (UpstreamError, OSError):
        return
    dt = time.perf_counter() - t0
    if status != 200:  # through the gateway a 502 (no variant answered) still has its exposure row
        out.errors_502 += status == 502
        return
    out.latencies.append(dt)
    if gateway:
        rid = json.loads(raw)["id"]
        out.ids.append(rid)
        if feedback:
            try:
                status, _ = await client.post("/feedback", {"request_id": rid, "outcomes": {"thumbs_up": i % 2}})
                out.fed += status == 200
            except (UpstreamError, OSError):
                pass


async def load(url: str, n: int, concurrency: int, *, feedback: bool, gateway: bool,
               stop_after_s: float | None = None) -> Load:
    """Closed loop: ``concurrency`` clients, each sending its next request when it has an answer, ``n`` in all."""
    out = Load()
    sent = 0
    started = time.monotonic()
    client = _client(url, concurrency)

    async def worker() -> None:
        nonlocal sent
        while sent < n and (stop_after_s is None or time.monotonic() - started < stop_after_s):
            sent += 1
            await _chat(client, out, sent, feedback=feedback, gateway=gateway)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await client.close()
    out.elapsed_s, out.max_in_flight = time.monotonic() - started, concurrency
    return out


async def open_loop(url: str, rate: float, duration_s: float, connections: int, *, feedback: bool,
                    gateway: bool) -> tuple[Load, Load]:
    """Open loop: ``connections`` keep-alive connections offering ``rate`` requests/s in all for ``duration_s``.

    Request ``k`` leaves at ``start + k / rate`` on connection ``k % connections``. Returns (the measured
    run, the warm-up burst that opened every connection first).
    """
    loop = asyncio.get_running_loop()
    client = _client(url, connections)
    warm, out = Load(), Load()
    in_flight = 0
    try:  # open every connection: one burst of `connections` requests at once
        await asyncio.gather(*(_chat(client, warm, -1 - i, feedback=False, gateway=gateway)
                               for i in range(connections)))
        n = int(rate * duration_s)
        start = loop.time() + 1.0  # the burst's queue has drained

        async def connection(j: int) -> None:
            nonlocal in_flight
            for k in range(j, n, connections):
                at = start + k / rate
                if (delay := at - loop.time()) > 0:
                    await asyncio.sleep(delay)
                out.lags.append(loop.time() - at)
                in_flight += 1
                out.max_in_flight = max(out.max_in_flight, in_flight)
                await _chat(client, out, k, feedback=feedback, gateway=gateway)
                in_flight -= 1

        await asyncio.gather(*(connection(j) for j in range(connections)))
        out.elapsed_s = loop.time() - start
    finally:
        await client.close()
    return out, warm


def run_async(coro: Any) -> Any:
    """Run ``coro`` on uvloop when installed (less client CPU on both paths), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


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


def summary(name: str, run: Load) -> str:
    """One line: median, p99 and count of ``run``'s latencies."""
    return (f"  {name:<20}: median {statistics.median(run.latencies) * 1000:7.2f} ms   p99 "
            f"{pct(run.latencies, 0.99):7.2f} ms   ({len(run.latencies):,} ok)")


def added(direct: Load, through: Load) -> tuple[float, float, str]:
    """(median added ms, p99 added ms, a printed line with the targets and the ratio)."""
    med_d, med_g = statistics.median(direct.latencies) * 1000, statistics.median(through.latencies) * 1000
    p99_d, p99_g = pct(direct.latencies, 0.99), pct(through.latencies, 0.99)
    med, p99 = med_g - med_d, p99_g - p99_d
    return med, p99, (f"  added by the gateway: median {med:+.2f} ms (target < {MEDIAN_TARGET_MS:g}), p99 "
                      f"{p99:+.2f} ms (target < {P99_TARGET_MS:g}); ratio gateway/direct: median "
                      f"{med_g / med_d:.2f}x, p99 {p99_g / p99_d:.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connections", type=int, default=200, help="open loop: concurrent keep-alive connections")
    ap.add_argument("--rate", type=float, default=None,
                    help="open loop: requests/s offered in all (default: a quarter of the gateway's measured maximum)")
    ap.add_argument("--duration", type=float, default=10.0, help="open loop: seconds per path")
    ap.add_argument("--requests", type=int, default=2000, help="closed loop: requests per path")
    ap.add_argument("--concurrency", type=int, default=200, help="closed loop: requests in flight")
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

        run_async(load(stub_url, 200, 50, feedback=False, gateway=False))  # warm up both
        run_async(load(gw_url, 200, 50, feedback=False, gateway=True))
        base_req, base_out, _ = db_counts(workspace)
        ids: list[str] = []
        fed = 0
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
              "(a shared machine makes every figure noisier)")

        # 2 first: its maximum throughput sets the open loop's rate
        cpu0 = cpu_seconds(stub.pid)
        direct = run_async(load(stub_url, args.requests, args.concurrency, feedback=False, gateway=False))
        cpu_stub = (cpu_seconds(stub.pid) - cpu0) / max(1, len(direct.latencies))
        cpu0 = cpu_seconds(gw.pid)
        through = run_async(load(gw_url, args.requests, args.concurrency, feedback=True, gateway=True))
        cpu_gw = (cpu_seconds(gw.pid) - cpu0) / max(1, len(through.latencies) + through.fed)
        ids += through.ids
        fed += through.fed
        errors = through.errors_502
        saturated = [f"saturation (closed loop): {args.requests:,} requests per path, {args.concurrency} in flight "
                     "all the time (these latencies are queueing, not overhead)",
                     summary("direct to the stub", direct), summary("through the gateway", through),
                     added(direct, through)[2],
                     f"  maximum throughput: direct {direct.throughput:,.0f} requests/s; through the gateway "
                     f"{through.throughput:,.0f} chat requests/s (+ as many feedback posts)",
                     f"  CPU per request: gateway {cpu_gw * 1000:.2f} ms (a chat request or a feedback post, with "
                     f"its bookkeeping), the stub {cpu_stub * 1000:.2f} ms"]

        # 1: the target, open loop below saturation
        # a quarter of the maximum: the other sessions of a shared machine take their share as well
        rate = args.rate or max(10.0, round(through.throughput / 4, -1))
        direct_open, through_open = Load(), Load()
        cpu_gw_s, gw_requests = 0.0, 0
        rounds = max(1, round(args.duration / ROUND_S))
        for _ in range(rounds):  # the paths alternate, so that a change in the machine's load hits both
            d, _ = run_async(open_loop(stub_url, rate, args.duration / rounds, args.connections, feedback=False,
                                       gateway=False))
            cpu0 = cpu_seconds(gw.pid)
            g, warm = run_async(open_loop(gw_url, rate, args.duration / rounds, args.connections, feedback=True,
                                          gateway=True))
            cpu_gw_s += cpu_seconds(gw.pid) - cpu0
            gw_requests += len(g.latencies) + g.fed + len(warm.ids)
            ids += g.ids + warm.ids
            fed += g.fed
            errors += g.errors_502 + warm.errors_502
            for total, part in ((direct_open, d), (through_open, g)):
                total.latencies += part.latencies
                total.lags += part.lags
                total.fed += part.fed
                total.max_in_flight = max(total.max_in_flight, part.max_in_flight)
        cpu_open = cpu_gw_s / max(1, gw_requests)
        med, p99, line = added(direct_open, through_open)
        lag = max(pct(direct_open.lags, 0.99), pct(through_open.lags, 0.99))
        print(f"overhead (open loop): {args.connections} concurrent keep-alive connections offering {rate:,.0f} "
              f"requests/s for {args.duration:g} s per path in {rounds} alternating rounds (most in flight at once: direct "
              f"{direct_open.max_in_flight}, gateway {through_open.max_in_flight})")
        print(summary("direct to the stub", direct_open))
        print(summary("through the gateway", through_open))
        print(line)
        verdict = "met" if med < MEDIAN_TARGET_MS and p99 < P99_TARGET_MS else "missed"
        print(f"  targets {verdict}; the client left its requests late by at most {lag:.2f} ms (p99); gateway "
              f"CPU per request {cpu_open * 1000:.2f} ms")
        print("\n".join(saturated))

        # 3: one request at a time: the gateway's own cost per request, without any queueing
        one_d = run_async(load(stub_url, 300, 1, feedback=False, gateway=False))
        one_g = run_async(load(gw_url, 300, 1, feedback=False, gateway=True))
        ids += one_g.ids
        errors += one_g.errors_502
        med_1 = (statistics.median(one_g.latencies) - statistics.median(one_d.latencies)) * 1000
        print(f"one at a time: direct median {statistics.median(one_d.latencies) * 1000:.2f} ms, through the "
              f"gateway {statistics.median(one_g.latencies) * 1000:.2f} ms: added {med_1:+.2f} ms")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        n_req, n_out, missing = db_counts(workspace, ids)
        print(f"events stored: {n_req - base_req:,} requests for {len(ids):,} responses, "
              f"{n_out - base_out:,} outcomes for {fed:,} accepted feedback posts, {missing} responses without a row"
              + (f"; {errors} answers were 502 (no variant answered: a row each, no id)" if errors else ""))
        ok &= n_req - base_req == len(ids) + errors and n_out - base_out == fed and missing == 0

        if not args.skip_kill:
            async def under_load() -> Load:
                task = asyncio.create_task(load(gw_url, 100_000, 50, feedback=False, gateway=True, stop_after_s=3.0))
                await asyncio.sleep(1.5)
                gw.send_signal(signal.SIGKILL)
                return await task

            answered = run_async(under_load()).ids
            gw.wait()
            gw = start_gateway(config, workspace, gw_port)
            procs.append(gw)
            after = run_async(load(gw_url, 20, 5, feedback=False, gateway=True)).ids
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
