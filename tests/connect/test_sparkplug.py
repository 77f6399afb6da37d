"""Sparkplug B sink -> real Mosquitto -> source: births, data, rebirth, malformed, deaths."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pyarrow as pa
import pytest

from edgetwin.connect.mqtt import (
    BrokerOptions,
    SparkplugSink,
    SparkplugSource,
    SparkplugSourceOptions,
)
from edgetwin.connect.mqtt import sparkplug as spb
from edgetwin.connect.mqtt import sparkplug_b_pb2 as pb
from edgetwin.core.config import parse_plant
from edgetwin.core.schemas import make_samples

PLANT = parse_plant(
    {
        "name": "t",
        "assets": [
            {
                "path": "acme/line1/pump1",
                "signals": [{"name": "flow"}, {"name": "temp", "unit": "degC"}],
            },
            {"path": "acme/line1/fan1", "signals": [{"name": "speed", "unit": "rpm"}]},
        ],
    }
)


@pytest.fixture
def broker(tmp_path: Path, free_tcp_port: Callable[[], int]) -> Iterator[BrokerOptions]:
    exe = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if exe is None:
        pytest.skip("mosquitto binary not found (apt-get install -y mosquitto; make system-deps)")
    port = free_tcp_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield BrokerOptions(port=port)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


class Spy:
    """A raw paho subscriber recording every Sparkplug message of the group."""

    def __init__(self, b: BrokerOptions) -> None:
        self.msgs: list[tuple[str, bytes]] = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="spy")
        self.c.on_message = lambda c, u, m: self.msgs.append((m.topic, m.payload))
        self.c.connect(b.host, b.port)
        self.c.subscribe("spBv1.0/g1/#", qos=1)
        self.c.loop_start()
        time.sleep(0.2)

    def of(self, mtype: str) -> list[tuple[str, object]]:
        return [
            (t, pb.Payload.FromString(p))
            for t, p in self.msgs
            if f"/{mtype}/" in t or t.endswith(f"/{mtype}/edge1")
        ]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


async def _until(pred, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while not pred() and time.monotonic() - t0 < timeout:
        await asyncio.sleep(0.05)


def test_sparkplug_round_trip_rebirth_malformed_and_death(broker: BrokerOptions) -> None:
    async def scenario() -> None:
        spy = Spy(broker)
        src = SparkplugSource("spb", PLANT, SparkplugSourceOptions(broker=broker, group="g1"))
        got: list[pa.Table] = []

        async def emit(t: pa.Table) -> None:
            got.append(t)

        task = asyncio.create_task(src.run(emit))
        await asyncio.sleep(0.5)
        sink = SparkplugSink(PLANT, broker, group="g1", edge_node="edge1")
        await sink.start()
        try:
            t0 = 1_700_000_000_000_000_000
            ts = t0 + np.arange(3) * 1_000_000_000
            table = pa.concat_tables(
                [
                    make_samples(ts, "acme/line1/pump1/flow", [10.0, 11.0, 12.5]),
                    make_samples(ts[:1], "acme/line1/fan1/speed", [1480.0]),
                    make_samples(ts[:1], "acme/line1/pump1/health", [0.93]),
                ]
            )
            await sink.write(table)
            await _until(lambda: src.received >= 5)
            rows = pa.concat_tables(got)
            pairs = sorted(
                zip(
                    rows["signal"].to_pylist(),
                    rows["ts"].cast(pa.int64()).to_pylist(),
                    rows["value"].to_pylist(),
                    strict=True,
                )
            )
            assert pairs == sorted(
                [
                    ("acme/line1/pump1/flow", int(ts[0]), 10.0),
                    ("acme/line1/pump1/flow", int(ts[1]), 11.0),
                    ("acme/line1/pump1/flow", int(ts[2]), 12.5),
                    ("acme/line1/fan1/speed", int(ts[0]), 1480.0),
                    ("acme/line1/pump1/health", int(ts[0]), 0.93),
                ]
            )

            # births: NBIRTH with bdSeq and seq 0, DBIRTH per device with aliases, DDATA by alias
            ((_, nbirth),) = spy.of("NBIRTH")
            assert nbirth.seq == 0 and {m.name for m in nbirth.metrics} == {spb.BDSEQ, spb.REBIRTH}
            dbirths = dict(spy.of("DBIRTH"))
            assert set(dbirths) == {
                "spBv1.0/g1/DBIRTH/edge1/acme:line1:pump1",
                "spBv1.0/g1/DBIRTH/edge1/acme:line1:fan1",
            }
            ddata = spy.of("DDATA")
            assert all(not m.name and m.alias for _, p in ddata for m in p.metrics)
            seqs = [p.seq for _, p in spy.of("NBIRTH") + spy.of("DBIRTH") + ddata]
            assert sorted(seqs) == list(range(len(seqs)))

            # malformed payloads are counted, and the source keeps going
            spy.c.publish("spBv1.0/g1/DDATA/edge1/acme:line1:pump1", b"\xff\xfe not protobuf")
            await _until(lambda: src.malformed == 1)
            assert src.malformed == 1

            # a host that lost track (seq gap) asks for a rebirth, and gets one
            births_before = sink.births
            sink._seq = (sink._seq + 5) % 256  # skip sequence numbers, as after lost messages
            await sink.write(make_samples(ts[:1] + 10**10, "acme/line1/pump1/temp", [55.0]))
            await _until(lambda: sink.births > births_before)
            assert (
                src.seq_gaps == 1
                and src.rebirths_requested == 1
                and sink.births == births_before + 1
            )
            await sink.write(make_samples(ts[:1] + 2 * 10**10, "acme/line1/pump1/temp", [56.0]))
            await _until(lambda: 56.0 in pa.concat_tables(got)["value"].to_pylist())
            assert 56.0 in pa.concat_tables(got)["value"].to_pylist()

            # an unclean drop: the broker publishes the NDEATH will; the node's metrics go bad
            n_before = len(got)
            await sink.stop(clean=False)
            await _until(
                lambda: any(t.num_rows and t["quality"][0].as_py() == 0 for t in got[n_before:]),
                timeout=10.0,
            )
            dead = pa.concat_tables(got[n_before:])
            assert set(dead["quality"].to_pylist()) == {0}
            assert "acme/line1/fan1/speed" in dead["signal"].to_pylist()
            ((_, ndeath),) = spy.of("NDEATH")
            assert [m.long_value for m in ndeath.metrics if m.name == spb.BDSEQ] == [0]
        finally:
            await sink.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            spy.close()

    asyncio.run(scenario())
