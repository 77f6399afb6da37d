"""TwinServer: the twin over OPC UA, alarms as Part 9 conditions, who may read and write."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

import numpy as np
import pytest
from asyncua import Client, ua

from edgetwin.connect.opcua.server_security import ServerSecurity, UserEntry
from edgetwin.connect.opcua.twin_server import TwinServer
from edgetwin.core.config import parse_plant
from edgetwin.core.schemas import make_events, make_samples
from edgetwin.twin import Twin

PLANT = {
    "name": "t",
    "assets": [{"path": "acme/line1/pump1", "signals": [{"name": "temp", "unit": "degC"}]}],
    "alarms": [{"signal": "acme/line1/pump1/temp", "high": 80, "priority": "high"}],
}
SID = "acme/line1/pump1/temp"


class Events:
    def __init__(self) -> None:
        self.items: list = []

    def event_notification(self, ev: object) -> None:
        self.items.append(ev)


async def _wait(pred, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while not pred() and time.monotonic() - t0 < timeout:
        await asyncio.sleep(0.05)


def test_twin_server_values_alarms_and_permissions(free_tcp_port: Callable[[], int]) -> None:
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)

    async def scenario() -> None:
        twin = Twin(parse_plant(PLANT))
        sec = ServerSecurity(
            users={
                "op": UserEntry("secret", "writer"),
                "viewer": UserEntry(
                    "sha256:" + __import__("hashlib").sha256(b"pw").hexdigest(), "reader"
                ),
            }
        )
        srv = TwinServer(twin, port=free_tcp_port(), security=sec)
        await srv.start()
        op = Client(srv.endpoint)
        op.set_user("op")
        op.set_password("secret")
        viewer = Client(srv.endpoint)
        viewer.set_user("viewer")
        viewer.set_password("pw")
        anon = Client(srv.endpoint)
        try:
            await op.connect()
            await viewer.connect()
            await anon.connect()
            events = Events()
            sub = await op.create_subscription(50, events)
            await sub.subscribe_alarms_and_conditions(
                op.nodes.server, ua.ObjectIds.AlarmConditionType
            )
            t0 = time.time_ns()
            table = make_samples(np.array([t0, t0 + 10**9]), SID, [70.0, 91.5])
            twin.ingest(table)
            await srv.write(table)
            await srv.write(
                make_events(
                    np.array([t0]),
                    "acme/line1/pump1",
                    "anomaly",
                    600,
                    {"module": "pca-t2q@1.2", "score": 3.2},
                )
            )
            await _wait(lambda: len(events.items) >= 1)

            # browse path and NodeId reach the same variable, with the newest value
            var = await op.nodes.objects.get_child(
                ["2:Plant", "2:acme", "2:line1", "2:pump1", "2:temp"]
            )
            assert var.nodeid == ua.NodeId(SID, 2)
            dv = await var.read_data_value()
            assert dv.Value.Value == 91.5
            assert int(dv.SourceTimestamp.timestamp() * 1e3) == (t0 + 10**9) // 10**6
            health = await op.get_node(ua.NodeId("acme/line1/pump1#HealthStatus", 2)).read_value()
            assert health != "ok"  # the high-priority alarm caps health
            produced = await op.get_node(
                ua.NodeId("acme/line1/pump1/anomaly_score#ProducedBy", 2)
            ).read_value()
            assert produced == "pca-t2q@1.2"
            meta = json.loads(
                await op.get_node(ua.NodeId("acme/line1/pump1#Model.Metadata", 2)).read_value()
            )
            assert meta["score"] == 3.2

            ev = events.items[-1]
            assert ev.ActiveState.Text == "Active" and ev.AckedState.Text == "Unacknowledged"
            assert ev.Severity == 750 and ev.Retain is True
            cond = ev.NodeId
            eid = ua.Variant(ev.EventId, ua.VariantType.ByteString)

            # anonymous and reader may read but never acknowledge or write
            assert await anon.get_node(ua.NodeId(SID, 2)).read_value() == 91.5
            for c in (anon, viewer):
                with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):
                    await c.get_node(cond).call_method(ua.NodeId(9111), eid, ua.LocalizedText("x"))
                with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):
                    await c.get_node(ua.NodeId(SID, 2)).write_value(1.0)
            assert twin.alarms.all()[0].state == "unacknowledged-active"

            # the writer acknowledges through the standard Part 9 method
            await op.get_node(cond).call_method(ua.NodeId(9111), eid, ua.LocalizedText("seen"))
            alarm = twin.alarms.all()[0]
            assert alarm.state == "acknowledged-active" and alarm.last_user == "op"
            await _wait(lambda: events.items[-1].AckedState.Text == "Acknowledged")
            assert events.items[-1].AckedState.Text == "Acknowledged"
            with pytest.raises(ua.UaStatusCodeError):  # acknowledging twice is refused
                await op.get_node(cond).call_method(ua.NodeId(9111), eid, ua.LocalizedText(""))

            # timed shelve on the condition's ShelvingState, then unshelve
            shelving = ua.NodeId(f"{cond.Identifier}/ShelvingState", 2)
            await op.get_node(shelving).call_method(
                ua.NodeId(ua.ObjectIds.ShelvedStateMachineType_TimedShelve),
                ua.Variant(60_000.0, ua.VariantType.Double),
            )
            assert alarm.mode == "shelved" and alarm.shelved_until_ns is not None
            await _wait(
                lambda: (
                    getattr(events.items[-1], "ShelvingState/CurrentState").Text == "TimedShelved"
                )
            )
            last = events.items[-1]
            assert getattr(last, "ShelvingState/CurrentState").Text == "TimedShelved"
            assert last.SuppressedOrShelved is True and last.Retain is False
            await op.get_node(shelving).call_method(
                ua.NodeId(ua.ObjectIds.ShelvedStateMachineType_Unshelve)
            )
            assert alarm.mode == "enabled" and alarm.state == "unacknowledged-active"
        finally:
            for c in (op, viewer, anon):
                try:
                    await c.disconnect()
                except Exception:  # noqa: BLE001
                    pass
            await srv.stop()

    asyncio.run(scenario())


def test_server_security_from_plant_yaml() -> None:
    from edgetwin.connect.opcua import twin_server_from_config
    from edgetwin.core.errors import ConfigError

    plant = parse_plant(
        {
            **PLANT,
            "server": {
                "opcua_port": 4999,
                "opcua": {
                    "policies": ["Basic256Sha256_SignAndEncrypt"],
                    "certificate": "c.der",
                    "private_key": "k.pem",
                    "allow_anonymous_read": False,
                    "users": {"op": {"password": "x", "role": "writer"}},
                },
            },
        }
    )
    srv = twin_server_from_config(Twin(plant))
    assert srv.port == 4999 and srv.security.signed and not srv.security.allow_anonymous_read
    assert srv.security.users["op"].role == "writer" and srv.security.users["op"].check("x")
    with pytest.raises(ConfigError, match=r"server.opcua.users.op.role"):
        ServerSecurity.from_options({"users": {"op": {"password": "x", "role": "admin"}}})
    with pytest.raises(ConfigError, match=r"server.opcua.policies"):
        ServerSecurity.from_options({"policies": ["Basic128Rsa15"]})
    with pytest.raises(ConfigError, match=r"unknown option"):
        ServerSecurity.from_options({"polices": ["None"]})
