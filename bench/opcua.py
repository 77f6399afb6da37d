"""OPC UA ingest benchmark: our OpcUaSource beside a plain asyncua subscription, same run.

Run: `.venv/bin/python bench/opcua.py [--repeats 3] [--duration 10] [--steady 60]`

Every case runs the server and the client in separate processes (spawned), so the client's
CPU time is its own. Both clients land their values in a DuckDB store (ours through `emit`, the
plain one through a handler that collects values and appends a table once a second, which is
how a user writes it with asyncua's `datachange_notification`).

1. Throughput, 1,000 and 10,000 monitored items: the server rewrites every tag every 100 ms;
   we report values/s received and the client's CPU microseconds per value (capacity of one
   core = 1e6 / us-per-value), ours beside plain asyncua, and the ratio of capacities.
2. 10,000 tags at 1 s sampling for `--steady` seconds: client CPU per 1,000 tags (% of a core)
   and the lag (receive time - source timestamp) in the first and the last 10 s: a lag that
   grows means the client cannot keep up.
3. Server restart with history (1,000 tags at 1 s): seconds from the server listening again to
   the subscription delivering again, and samples lost (written by the server but never
   ingested, after HistoryRead backfill).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


# -- server process ---------------------------------------------------------------------------


def serve_tags(
    port: int,
    n: int,
    interval_s: float,
    ready: Any,
    stop: Any,
    restart: Any,
    back_at: Any,
    written_q: Any,
    history: bool,
) -> None:
    """A server with n Double tags ns=2;s=tag{i}, all rewritten every interval_s."""
    logging.basicConfig(level=logging.ERROR)
    from asyncua import Server, ua
    from asyncua.server.binary_server_asyncio import BinaryServer
    from asyncua.server.history import HistoryDict

    from edgetwin.connect.opcua.uatypes import data_value, nid

    async def main() -> None:
        server = Server()
        await server.init()
        endpoint = f"opc.tcp://127.0.0.1:{port}/bench/"
        server.set_endpoint(endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        store = HistoryDict(max_history_data_response_size=100_000)
        server.iserver.history_manager.set_storage(store)
        ns = await server.register_namespace("urn:bench")
        folder = await server.nodes.objects.add_folder(nid("Tags", ns), "Tags")
        ids = []
        for i in range(n):
            var = await folder.add_variable(nid(f"tag{i}", ns), f"tag{i}", 0.0)
            ids.append(var.nodeid)
            if history:
                await store.new_historized_node(var.nodeid, None, 0)
        await server.start()
        ready.set()
        written: list[tuple[int, int]] = []
        online = True
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        tick = 0
        from datetime import UTC, datetime

        while not stop.is_set():
            if restart.is_set() and online:
                restart.clear()
                online = False
                await server.bserver.stop()
                subs = server.iserver.subscription_service
                ids_sub = list(subs.subscriptions)
                if ids_sub:
                    await subs.delete_subscriptions(ids_sub)
                down_until = loop.time() + 2.0
            if not online and loop.time() >= down_until:
                server.bserver = BinaryServer(server.iserver, "127.0.0.1", port, server.limits)
                server.bserver.set_policies(server._policies)
                await server.bserver.start()
                online = True
                back_at.value = time.time()
            now = datetime.now(UTC)
            ts_ns = int(now.timestamp() * 1e6) * 1000
            for i, node_id in enumerate(ids):
                dv = data_value(tick + i * 1e-3, now)
                if history:
                    await store.save_node_value(node_id, dv)
                    written.append((i, ts_ns))
                if online:
                    await server.write_attribute_value(node_id, dv)
            tick += 1
            next_t += interval_s
            await asyncio.sleep(max(0.0, next_t - loop.time()))
        if history:
            written_q.put(written)
        await server.stop()

    asyncio.run(main())


# -- client processes -------------------------------------------------------------------------


def client_run(
    kind: str,
    port: int,
    n: int,
    duration_s: float,
    warmup_s: float,
    sampling_ms: float,
    out: Any,
    restart: Any = None,
) -> None:
    logging.basicConfig(level=logging.ERROR)
    from edgetwin.store import open_store

    store = open_store(Path(tempfile.mkdtemp()) / "bench.duckdb")
    endpoint = f"opc.tcp://127.0.0.1:{port}/bench/"
    res: dict[str, Any] = {"values": 0, "lags": [], "keys": None}

    async def measure(feed: Any) -> None:
        await asyncio.sleep(warmup_s)
        v0, c0, t0 = res["values"], time.process_time(), time.monotonic()
        res["t_start"] = time.time()
        if restart is not None:
            await asyncio.sleep(duration_s / 3)
            restart.set()
            await asyncio.sleep(duration_s * 2 / 3)
        else:
            await asyncio.sleep(duration_s)
        res["rate"] = (res["values"] - v0) / (time.monotonic() - t0)
        res["cpu_s"] = time.process_time() - c0
        res["wall_s"] = time.monotonic() - t0
        res["window_values"] = res["values"] - v0

    async def ours() -> None:
        import pyarrow as pa

        from edgetwin.connect.opcua import OpcUaSource
        from edgetwin.core.config import SourceConfig, parse_plant

        plant = parse_plant(
            {
                "name": "b",
                "assets": [
                    {"path": "bench/line/tags", "signals": [{"name": f"t{i}"} for i in range(n)]}
                ],
            }
        )
        cfg = SourceConfig(
            name="bench",
            kind="opcua",
            endpoint=endpoint,
            nodes={f"bench/line/tags/t{i}": f"ns=2;s=tag{i}" for i in range(n)},
            sampling_interval_ms=sampling_ms,
            publishing_interval_ms=max(100.0, sampling_ms),
            queue_size=10,
            timeout_s=30.0,
            watchdog_s=10.0,
        )
        src = OpcUaSource.from_config(cfg, plant)
        keys: set[tuple[str, int]] = set()
        track = restart is not None

        async def emit(table: pa.Table) -> None:
            store.append(table)
            res["values"] += table.num_rows
            ts = table.column("ts").cast(pa.int64()).to_numpy()
            res["lags"].append((time.time(), time.time() - ts.max() / 1e9))
            if track:
                keys.update(zip(table.column("signal").to_pylist(), ts.tolist(), strict=True))
                if res.get("first_after") is None and src.connects > 1:
                    res["first_after"] = time.time()

        task = asyncio.create_task(src.run(emit))
        await measure(None)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        res["backfilled"] = src.backfilled
        if track:
            res["keys"] = [(int(s.rsplit("t", 1)[1]), t) for s, t in keys]

    async def plain() -> None:
        from asyncua import Client

        from edgetwin.core.schemas import make_samples

        client = Client(endpoint, timeout=30, watchdog_intervall=10.0)
        await client.connect()
        names = [f"bench/line/tags/t{i}" for i in range(n)]
        index = {f"ns=2;s=tag{i}": i for i in range(n)}
        buf_i: list[int] = []
        buf_t: list[int] = []
        buf_v: list[float] = []

        class Handler:
            def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
                st = data.monitored_item.Value.SourceTimestamp
                buf_i.append(index[node.nodeid.to_string()])
                buf_t.append(int(st.timestamp() * 1e9))
                buf_v.append(val)

            def status_change_notification(self, status: Any) -> None:
                logging.warning("plain client: status change %s", status)

        sub = await client.create_subscription(max(100.0, sampling_ms), Handler())
        nodes = [client.get_node(f"ns=2;s=tag{i}") for i in range(n)]
        for k in range(0, n, 1000):
            await sub.subscribe_data_change(
                nodes[k : k + 1000], queuesize=10, sampling_interval=sampling_ms
            )

        async def flush() -> None:
            while True:
                await asyncio.sleep(1.0)
                if not buf_i:
                    continue
                idx, ts, vals = buf_i[:], buf_t[:], buf_v[:]
                del buf_i[:], buf_t[:], buf_v[:]
                store.append(make_samples(np.array(ts), [names[i] for i in idx], vals))
                res["values"] += len(idx)
                res["lags"].append((time.time(), time.time() - max(ts) / 1e9))

        ft = asyncio.create_task(flush())
        await measure(None)
        ft.cancel()
        await client.disconnect()

    asyncio.run(ours() if kind == "ours" else plain())
    out.put(res)


def run_case(
    kind: str,
    n: int,
    interval_s: float,
    duration_s: float,
    warmup_s: float,
    sampling_ms: float,
    history: bool = False,
    restart_case: bool = False,
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    port = free_port()
    ready, stop, restart = ctx.Event(), ctx.Event(), ctx.Event()
    back_at = ctx.Value("d", 0.0)
    written_q, out = ctx.Queue(), ctx.Queue()
    srv = ctx.Process(
        target=serve_tags,
        args=(port, n, interval_s, ready, stop, restart, back_at, written_q, history),
    )
    srv.start()
    if not ready.wait(300):
        raise RuntimeError("server did not start")
    cli = ctx.Process(
        target=client_run,
        args=(
            kind,
            port,
            n,
            duration_s,
            warmup_s,
            sampling_ms,
            out,
            restart if restart_case else None,
        ),
    )
    cli.start()
    res = out.get(timeout=duration_s + warmup_s + 600)
    cli.join()
    stop.set()
    if history:
        res["written"] = written_q.get(timeout=120)
    srv.join(30)
    res["back_at"] = back_at.value
    return res


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- report -----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--duration", type=float, default=10.0, help="seconds measured per throughput case"
    )
    ap.add_argument("--steady", type=float, default=60.0, help="seconds of the 10k @ 1 s case")
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--cases", default="1,2,3", help="which sections to run")
    args = ap.parse_args()

    cases = set(args.cases.split(","))
    if "1" in cases:
        throughput(args)
    if "2" in cases:
        steady(args)
    if "3" in cases:
        restart(args)
    print(
        "\nTargets: ours >= 1.0x plain; 10k tags @ 1 s on one core with no growing lag; "
        "delivering again within 5 s of the server's return; 0 lost."
    )


def throughput(args: argparse.Namespace) -> None:
    print("\n## 1. Throughput (server rewrites every tag every 100 ms; client CPU per value)\n")
    print(
        "| items | client | values/s (median) | client CPU us/value | capacity values/s/core | ratio ours/plain |"
    )
    print("|---|---|---|---|---|---|")
    for n in [int(x) for x in args.sizes.split(",")]:
        per: dict[str, list[dict[str, Any]]] = {"plain": [], "ours": []}
        for _ in range(args.repeats):
            for kind in ("plain", "ours"):
                per[kind].append(
                    run_case(kind, n, 0.1, args.duration, 4.0 if n < 5000 else 8.0, 0.0)
                )
        caps = {}
        for kind in ("plain", "ours"):
            rate = statistics.median(r["rate"] for r in per[kind])
            us = statistics.median(1e6 * r["cpu_s"] / max(r["window_values"], 1) for r in per[kind])
            caps[kind] = 1e6 / us
            ratio = "" if kind == "plain" else f"{caps['ours'] / caps['plain']:.2f}x"
            print(
                f"| {n:,} | {kind} | {rate:,.0f} | {us:.1f} | {caps[kind]:,.0f} | {ratio} |",
                flush=True,
            )


def steady(args: argparse.Namespace) -> None:
    print(f"\n## 2. 10,000 tags at 1 s sampling for {args.steady:.0f} s\n")
    print(
        "| client | values/s | CPU % of one core | CPU % per 1,000 tags | lag first 10 s p50/max (s) | lag last 10 s p50/max (s) |"
    )
    print("|---|---|---|---|---|---|")
    for kind in ("plain", "ours"):
        r = run_case(kind, 10_000, 1.0, args.steady, 8.0, 1000.0)
        lags = [(t, lag) for t, lag in r["lags"] if t >= r["t_start"]]
        t_end = lags[-1][0] if lags else 0
        first = [lag for t, lag in lags if t < r["t_start"] + 10] or [float("nan")]
        last = [lag for t, lag in lags if t > t_end - 10] or [float("nan")]
        cpu = 100 * r["cpu_s"] / r["wall_s"]
        print(
            f"| {kind} | {r['rate']:,.0f} | {cpu:.0f} | {cpu / 10:.1f} | "
            f"{statistics.median(first):.2f} / {max(first):.2f} | "
            f"{statistics.median(last):.2f} / {max(last):.2f} |",
            flush=True,
        )


def restart(args: argparse.Namespace) -> None:
    print("\n## 3. Server restart (1,000 tags at 1 s, history kept, server down 2 s)\n")
    print("| run | delivering again after server's return (s) | backfilled | written | lost |")
    print("|---|---|---|---|---|")
    for k in range(args.repeats):
        r = run_case("ours", 1000, 1.0, 15.0, 4.0, 1000.0, history=True, restart_case=True)
        received = set(map(tuple, r["keys"]))
        first_ts: dict[int, int] = {}
        last_ts: dict[int, int] = {}
        for i, t in received:
            first_ts[i] = min(first_ts.get(i, t), t)
            last_ts[i] = max(last_ts.get(i, t), t)
        expected = {
            (i, t) for i, t in r["written"] if i in first_ts and first_ts[i] <= t <= last_ts[i]
        }
        lost = len(expected - received)
        back = (r.get("first_after") or float("nan")) - r["back_at"]
        print(
            f"| {k + 1} | {back:.2f} | {r['backfilled']:,} | {len(expected):,} | {lost} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
