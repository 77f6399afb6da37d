"""Interop with a peer we did not write: node-opcua (npm) as client and as server."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from edgetwin.connect.opcua import (
    OpcUaSource,
    ServerSecurity,
    TrustList,
    UserEntry,
    ensure_certificate,
)
from edgetwin.connect.opcua.source import CLIENT_APP_URI
from edgetwin.connect.opcua.twin_server import TwinServer
from edgetwin.core.config import SourceConfig, parse_plant
from edgetwin.core.schemas import make_samples
from edgetwin.twin import Twin

NODE_DIR = Path(__file__).resolve().parents[2] / "tools" / "node"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "node-opcua").is_dir(),
    reason="node or tools/node/node_modules missing (run `npm ci --prefix tools/node`)",
)
NODE_ARGS = ["--security-revert=CVE-2023-46809"]  # node >= 20 blocks RSA PKCS#1 v1.5 otherwise

PLANT = {
    "name": "t",
    "assets": [
        {
            "path": "acme/line1/pump1",
            "signals": [
                {"name": "temp", "unit": "degC"},
                {"name": "ramp"},
                {"name": "square"},
                {"name": "flag"},
            ],
        }
    ],
    "alarms": [{"signal": "acme/line1/pump1/temp", "high": 80, "priority": "critical"}],
}


async def _lines(proc: asyncio.subprocess.Process, until: str, timeout: float) -> str:
    assert proc.stdout is not None
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not line:
            break
        text = line.decode(errors="replace").strip()
        if text.startswith(until):
            return text
    raise AssertionError(f"node peer never printed {until!r}")


def test_node_opcua_client_browses_reads_subscribes_and_acknowledges(
    free_tcp_port: Callable[[], int],
) -> None:
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)

    async def scenario() -> dict:
        twin = Twin(parse_plant(PLANT))
        srv = TwinServer(
            twin,
            port=free_tcp_port(),
            security=ServerSecurity(users={"op": UserEntry("secret", "writer")}),
        )
        await srv.start()
        sid = "acme/line1/pump1/temp"
        t0 = time.time_ns()
        first = make_samples(np.array([t0]), sid, [42.0])
        twin.ingest(first)
        await srv.write(first)
        proc = await asyncio.create_subprocess_exec(
            NODE,
            *NODE_ARGS,
            str(NODE_DIR / "client_interop.js"),
            srv.endpoint,
            "op",
            "secret",
            sid,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=str(NODE_DIR),
        )
        try:
            await _lines(proc, "SUBSCRIBED", 60)
            hot = make_samples(np.array([t0 + 10**9, t0 + 2 * 10**9]), sid, [55.5, 93.0])
            twin.ingest(hot)
            await srv.write(hot)
            result = json.loads((await _lines(proc, "RESULT", 30))[len("RESULT ") :])
            assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            alarm = twin.alarms.all()[0].to_dict()
            await srv.stop()
        return {"result": result, "alarm": alarm}

    out = asyncio.run(scenario())
    r = out["result"]
    assert r["browse"] == ["2:Plant", "2:acme", "2:line1", "2:pump1", "2:temp"]
    assert r["nodeId"] == "ns=2;s=acme/line1/pump1/temp"
    assert r["read"] == 42.0
    assert r["values"][-1] == 93.0
    active = [e for e in r["events"] if e["active"] and not e["acked"]]
    assert active and active[0]["severity"] == 900
    assert r["ackStatus"] == "Good" and r["acked"] is True
    assert out["alarm"]["state"] == "acknowledged-active" and out["alarm"]["user"] == "op"
    assert out["alarm"]["comment"] == "acknowledged by node-opcua"


def test_our_source_ingests_from_node_opcua_over_sign_and_encrypt(
    tmp_path: Path, free_tcp_port: Callable[[], int]
) -> None:
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    pki = tmp_path / "node_pki"
    cli_cert, cli_key = ensure_certificate(
        tmp_path / "cli.der", tmp_path / "cli.pem", CLIENT_APP_URI, server=False
    )
    TrustList(pki / "trusted" / "certs").add(cli_cert, "edgetwin_client")
    port = free_tcp_port()

    async def scenario() -> tuple[list[pa.Table], OpcUaSource]:
        proc = await asyncio.create_subprocess_exec(
            NODE,
            *NODE_ARGS,
            str(NODE_DIR / "server_interop.js"),
            str(port),
            str(pki),
            "ingest",
            "pw",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=str(NODE_DIR),
        )
        try:
            ready = await _lines(proc, "READY", 120)
            endpoint, server_cert = ready.split()[1], ready.split()[2]
            TrustList(tmp_path / "trusted_servers").add(server_cert, "node_server")
            plant = parse_plant(PLANT)
            cfg = SourceConfig(
                name="node",
                kind="opcua",
                endpoint=endpoint,
                nodes={
                    "acme/line1/pump1/ramp": "ns=1;s=Interop.Ramp",
                    "acme/line1/pump1/square": {"node": "ns=1;s=Interop.Square", "queue_size": 20},
                    "acme/line1/pump1/flag": "ns=1;s=Interop.Flag",
                },
                security={
                    "policy": "Basic256Sha256",
                    "mode": "SignAndEncrypt",
                    "certificate": str(cli_cert),
                    "private_key": str(cli_key),
                    "trust": str(tmp_path / "trusted_servers"),
                },
                username="ingest",
                password="pw",
                sampling_interval_ms=100,
                publishing_interval_ms=200,
            )
            src = OpcUaSource.from_config(cfg, plant)
            got: list[pa.Table] = []

            async def emit(t: pa.Table) -> None:
                got.append(t)

            task = asyncio.create_task(src.run(emit))
            for _ in range(200):
                await asyncio.sleep(0.1)
                if sum(t.num_rows for t in got) >= 40:
                    break
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return got, src
        finally:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()

    got, src = asyncio.run(scenario())
    assert src.connects == 1
    t = pa.concat_tables(got)
    rows: dict[str, dict[int, float]] = {}
    for s, ts, v in zip(
        t["signal"].to_pylist(),
        t["ts"].cast(pa.int64()).to_pylist(),
        t["value"].to_pylist(),
        strict=True,
    ):
        rows.setdefault(s.rsplit("/", 1)[-1], {})[ts] = v
    ramp, square, flag = rows["ramp"], rows["square"], rows["flag"]
    assert len(ramp) >= 10
    ticks = [ramp[k] for k in sorted(ramp)]
    assert all(b > a for a, b in zip(ticks, ticks[1:], strict=False))  # increasing, in order
    common = set(ramp) & set(square)
    assert len(common) >= 5
    for ts in common:  # same source timestamp -> same tick
        assert square[ts] == ramp[ts] ** 2
    for ts in set(ramp) & set(flag):
        assert flag[ts] == float(ramp[ts] % 2 == 0)
    assert set(t["quality"].to_pylist()) == {0xC0}
