"""OpcUaSource against a real asyncua server: values, reconnect with zero loss, security."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from asyncua import Client, ua

from edgetwin.connect.opcua import (
    OpcUaSource,
    PlantServer,
    ServerSecurity,
    TrustList,
    UserEntry,
    ensure_certificate,
    opcua_source_config_for,
)
from edgetwin.connect.opcua.sim_server import SERVER_APP_URI
from edgetwin.connect.opcua.source import CLIENT_APP_URI
from edgetwin.core.config import SourceConfig, parse_plant
from edgetwin.core.errors import ConfigError, ConnectError
from edgetwin.core.schemas import make_samples
from edgetwin.sim import PlantSimulator

PUMP = {
    "path": "acme/site1/line1/pump1",
    "type": "motor_pump",
    "model": {"kind": "motor_pump"},
    "signals": [
        {"name": "flow", "unit": "m3/h"},
        {"name": "pressure_out", "unit": "bar"},
        {"name": "motor_current", "unit": "A"},
        {"name": "bearing_temp", "unit": "degC"},
    ],
}
PLANT = parse_plant({"name": "t", "assets": [PUMP]})


def _pairs(tables: list[pa.Table]) -> dict[tuple[str, int], float]:
    t = pa.concat_tables(tables)
    ts = t.column("ts").cast(pa.int64()).to_pylist()
    return dict(
        zip(
            zip(t.column("signal").to_pylist(), ts, strict=True),
            t.column("value").to_pylist(),
            strict=True,
        )
    )


async def _history(server: PlantServer) -> dict[tuple[str, int], float]:
    assert server.nodes is not None
    out = {}
    for sid, var in server.nodes.variables.items():
        dvs, _ = await server.history.read_node_history(var.nodeid, None, None, 0)
        for dv in dvs:
            ns = int(dv.SourceTimestamp.timestamp() * 1e6) * 1000
            out[(sid, ns)] = dv.Value.Value
    return out


def test_values_and_zero_loss_across_server_restart(free_tcp_port: Callable[[], int]) -> None:
    async def scenario() -> None:
        sim = PlantSimulator(PLANT, seed=3)
        server = PlantServer(PLANT, sim, port=free_tcp_port(), speed=10.0, step_s=0.2)
        await server.start()
        cfg = opcua_source_config_for(
            PLANT,
            server.endpoint,
            publishing_interval_ms=100,
            sampling_interval_ms=0,
            queue_size=100,
        )
        src = OpcUaSource.from_config(cfg, PLANT)
        states: list[str] = []
        src.on_state = lambda name, state, detail: states.append(state)
        got: list[pa.Table] = []

        async def emit(t: pa.Table) -> None:
            got.append(t)

        task = asyncio.create_task(src.run(emit))
        try:
            for _ in range(100):
                await asyncio.sleep(0.1)
                if got:
                    break
            await asyncio.sleep(1.0)
            before = sum(t.num_rows for t in got)
            await server.restart(down_s=1.5)  # the sim keeps writing history meanwhile
            for _ in range(100):
                await asyncio.sleep(0.1)
                if "backfilled" in states:
                    break
            await asyncio.sleep(1.0)
            await server.stop_stepping()
            await asyncio.sleep(0.6)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            hist = await _history(server)
            await server.stop()
        assert before > 0
        assert states[:2] == ["connecting", "connected"]
        assert "reconnecting" in states and "backfilled" in states
        assert src.backfilled > 0 and src.last_resubscribe_s is not None
        assert src.last_resubscribe_s < 5.0
        received = _pairs(got)
        first = {}
        for sid, ts in received:
            first[sid] = min(first.get(sid, ts), ts)
        expected = {k: v for k, v in hist.items() if k[1] >= first[k[0]]}
        missing = set(expected) - set(received)
        assert not missing, f"{len(missing)} samples lost, e.g. {sorted(missing)[:3]}"
        for key, value in expected.items():
            assert received[key] == pytest.approx(value)
        assert set(received) <= set(hist)  # nothing invented
        tbl = pa.concat_tables(got)
        assert set(np.unique(tbl.column("quality").to_numpy())) == {0xC0}

    asyncio.run(scenario())


def _secure_setup(tmp_path: Path) -> tuple[ServerSecurity, dict]:
    srv_cert, srv_key = ensure_certificate(
        tmp_path / "srv.der", tmp_path / "srv.pem", SERVER_APP_URI, server=True, host="127.0.0.1"
    )
    cli_cert, cli_key = ensure_certificate(
        tmp_path / "cli.der", tmp_path / "cli.pem", CLIENT_APP_URI, server=False
    )
    TrustList(tmp_path / "srv_trust").add(cli_cert)
    TrustList(tmp_path / "cli_trust").add(srv_cert)
    sec = ServerSecurity(
        policies=["Basic256Sha256_SignAndEncrypt"],
        certificate=str(srv_cert),
        private_key=str(srv_key),
        trust=str(tmp_path / "srv_trust"),
        users={"ingest": UserEntry("s3cret", "reader")},
        allow_anonymous_read=False,
    )
    opts = {
        "security": {
            "policy": "Basic256Sha256",
            "mode": "SignAndEncrypt",
            "certificate": str(cli_cert),
            "private_key": str(cli_key),
            "trust": str(tmp_path / "cli_trust"),
        },
        "username": "ingest",
        "password": "s3cret",
        "publishing_interval_ms": 100,
        "sampling_interval_ms": 0,
    }
    return sec, opts


def test_sign_and_encrypt_with_user_and_trust_lists(
    tmp_path: Path, free_tcp_port: Callable[[], int]
) -> None:
    sec, opts = _secure_setup(tmp_path)

    async def scenario() -> None:
        server = PlantServer(PLANT, None, port=free_tcp_port(), security=sec)
        await server.start()
        try:
            src = OpcUaSource.from_config(
                opcua_source_config_for(PLANT, server.endpoint, **opts), PLANT
            )
            got: list[pa.Table] = []

            async def emit(t: pa.Table) -> None:
                got.append(t)

            task = asyncio.create_task(src.run(emit))
            for _ in range(80):
                await asyncio.sleep(0.1)
                if src.state == "connected":
                    break
            assert src.state == "connected"
            sid = "acme/site1/line1/pump1/flow"
            await server.publish(make_samples(np.array([1_700_000_000 * 10**9]), sid, [42.5]))
            for _ in range(50):
                await asyncio.sleep(0.1)
                if got and 42.5 in pa.concat_tables(got).column("value").to_pylist():
                    break
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            rows = pa.concat_tables(got).filter(
                pa.compute.equal(pa.concat_tables(got)["value"], 42.5)
            )
            assert rows.num_rows == 1 and rows.column("signal")[0].as_py() == sid

            # anonymous and wrong passwords are refused on the encrypted endpoint
            bad = Client(server.endpoint, timeout=3)
            await bad.set_security(
                __import__("asyncua").crypto.security_policies.SecurityPolicyBasic256Sha256,
                certificate=opts["security"]["certificate"],
                private_key=opts["security"]["private_key"],
                mode=ua.MessageSecurityMode.SignAndEncrypt,
            )
            bad.application_uri = CLIENT_APP_URI
            bad.set_user("ingest")
            bad.set_password("wrong")
            with pytest.raises(Exception, match="BadUserAccessDenied|BadIdentityToken"):
                await bad.connect()
            bad.disconnect_socket()

            # a client whose certificate is not in the server's trust list is refused
            other_cert, other_key = ensure_certificate(
                tmp_path / "o.der", tmp_path / "o.pem", CLIENT_APP_URI, server=False
            )
            stranger = OpcUaSource.from_config(
                opcua_source_config_for(
                    PLANT,
                    server.endpoint,
                    **{
                        **opts,
                        "security": {
                            **opts["security"],
                            "certificate": str(other_cert),
                            "private_key": str(other_key),
                        },
                    },
                ),
                PLANT,
            )
            t2 = asyncio.create_task(stranger.run(emit))
            await asyncio.sleep(2.5)
            assert stranger.connects == 0 and stranger.state in ("reconnecting", "connecting")
            t2.cancel()
            await asyncio.gather(t2, return_exceptions=True)

            # and our source refuses a server whose certificate it does not trust
            empty = tmp_path / "empty_trust"
            empty.mkdir()
            wary = OpcUaSource.from_config(
                opcua_source_config_for(
                    PLANT,
                    server.endpoint,
                    **{**opts, "security": {**opts["security"], "trust": str(empty)}},
                ),
                PLANT,
            )
            with pytest.raises(ConnectError, match="not in the trust list"):
                await wary._client(asyncio.Event())
        finally:
            await server.stop()

    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    asyncio.run(scenario())


def test_config_errors_name_source_and_field() -> None:
    def cfg(**opts: object) -> SourceConfig:
        return SourceConfig(name="plc1", kind="opcua", **opts)

    with pytest.raises(ConfigError, match=r"(?s)plc1.*endpoint: required option is missing"):
        OpcUaSource.from_config(cfg(nodes={"acme/site1/line1/pump1/flow": "i=1"}), PLANT)
    with pytest.raises(ConfigError, match=r"(?s)plc1.*must start with opc.tcp://"):
        OpcUaSource.from_config(cfg(endpoint="http://x", nodes={}), PLANT)
    with pytest.raises(ConfigError, match=r"sampling_intervall_ms: unknown option"):
        OpcUaSource.from_config(cfg(endpoint="opc.tcp://h:1", sampling_intervall_ms=5), PLANT)
    with pytest.raises(ConfigError, match=r"no signals to subscribe"):
        OpcUaSource.from_config(cfg(endpoint="opc.tcp://h:1"), PLANT)
    with pytest.raises(ConfigError, match=r"unknown signal 'acme/x'"):
        OpcUaSource.from_config(cfg(endpoint="opc.tcp://h:1", nodes={"acme/x": "i=1"}), PLANT)
    with pytest.raises(ConfigError, match=r"(?s)security.*certificate and security.private_key"):
        OpcUaSource.from_config(
            cfg(
                endpoint="opc.tcp://h:1",
                nodes={},
                security={"policy": "Basic256Sha256", "mode": "Sign"},
            ),
            PLANT,
        )
    src = OpcUaSource.from_config(
        cfg(
            endpoint="opc.tcp://h:1",
            sampling_interval_ms=250,
            nodes={
                "acme/site1/line1/pump1/flow": {
                    "node": "ns=2;s=F",
                    "deadband": 0.5,
                    "queue_size": 3,
                },
                "acme/site1/line1/pump1/bearing_temp": "2:Plant/2:acme/2:site1/2:line1/2:pump1/2:bt",
            },
        ),
        PLANT,
    )
    by_id = {it.signal_id: it for it in src.items}
    flow = by_id["acme/site1/line1/pump1/flow"]
    assert (flow.node, flow.deadband, flow.queue_size, flow.sampling_interval_ms) == (
        "ns=2;s=F",
        0.5,
        3,
        250.0,
    )
    assert by_id["acme/site1/line1/pump1/bearing_temp"].is_path and not flow.is_path
