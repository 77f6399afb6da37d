"""Modbus TCP source against a real pymodbus server: types, byte orders, scaling, failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import ModbusTcpServer

from edgetwin.connect.modbus import ModbusSource, RegisterSpec, decode, encode, plan_blocks
from edgetwin.core.config import SourceConfig, parse_plant
from edgetwin.core.errors import ConfigError

PLANT = parse_plant(
    {
        "name": "t",
        "assets": [
            {
                "path": "plant/line/press",
                "signals": [
                    {"name": "temp", "unit": "degC"},
                    {"name": "pressure", "unit": "bar"},
                    {"name": "count"},
                    {"name": "energy"},
                    {"name": "running"},
                    {"name": "missing"},
                ],
            }
        ],
    }
)


def test_float32_byte_orders_match_the_wire_layout() -> None:
    # 123.456 as IEEE-754 single is 0x42F6E979; each order names the bytes on the wire
    expected = {
        "ABCD": [0x42F6, 0xE979],
        "CDAB": [0xE979, 0x42F6],
        "BADC": [0xF642, 0x79E9],
        "DCBA": [0x79E9, 0xF642],
    }
    for order, regs in expected.items():
        spec = RegisterSpec(address=0, type="float32", order=order)
        assert encode(123.456, spec) == regs
        assert decode(np.array(regs), spec) == pytest.approx(123.456, rel=1e-6)
    assert decode(np.array([0xFFFF]), RegisterSpec(address=0, type="int16")) == -1.0
    assert (
        decode(np.array([0x0001, 0x0000]), RegisterSpec(address=0, type="uint32", order="CDAB"))
        == 1.0
    )


@given(
    st.sampled_from(["int16", "uint16", "int32", "uint32", "int64", "float64"]),
    st.sampled_from(["ABCD", "DCBA", "BADC", "CDAB"]),
    st.integers(-30000, 30000),
)
def test_encode_decode_round_trip(dtype: str, order: str, raw: int) -> None:
    if dtype.startswith("u"):
        raw = abs(raw)
    spec = RegisterSpec(address=0, type=dtype, order=order, scale=0.5, offset=10.0)
    value = raw * 0.5 + 10.0
    assert decode(np.array(encode(value, spec)), spec) == pytest.approx(value)


def test_blocks_respect_the_125_register_limit() -> None:
    specs = [RegisterSpec(address=a, type="float32") for a in range(0, 400, 2)]
    blocks = plan_blocks(specs)
    assert all(b.count <= 125 for b in blocks)
    assert sorted(i for b in blocks for i, _ in b.members) == list(range(len(specs)))
    assert len(blocks) == 4


def test_source_polls_a_real_server(free_tcp_port: Callable[[], int]) -> None:
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    nodes = {
        "plant/line/press/temp": {"address": 100, "type": "float32", "order": "CDAB"},
        "plant/line/press/pressure": {"address": 102, "type": "int16", "scale": 0.01},
        "plant/line/press/count": {"address": 110, "type": "uint32", "order": "ABCD"},
        "plant/line/press/energy": {
            "table": "input",
            "address": 5,
            "type": "float64",
            "order": "DCBA",
            "scale": 0.001,
            "offset": 1.0,
        },
        "plant/line/press/running": {"table": "coil", "address": 3, "type": "bool"},
        "plant/line/press/missing": {"address": 60000, "type": "uint16"},
    }
    hr = [0] * 200
    for sid, v in (
        ("plant/line/press/temp", 71.25),
        ("plant/line/press/pressure", -3.5),
        ("plant/line/press/count", 123456789.0),
    ):
        spec = RegisterSpec.model_validate(nodes[sid])
        regs = encode(v, spec)
        hr[spec.address : spec.address + len(regs)] = regs
    ir = [0] * 20
    espec = RegisterSpec.model_validate(nodes["plant/line/press/energy"])
    ir[5:9] = encode(4242.125, espec)
    coils = [False] * 10
    coils[3] = True
    # the data blocks start at 1: pymodbus maps request address a to block index a + 1
    ctx = ModbusServerContext(
        devices=ModbusDeviceContext(
            hr=ModbusSequentialDataBlock(1, hr),
            ir=ModbusSequentialDataBlock(1, ir),
            co=ModbusSequentialDataBlock(1, coils),
        ),
        single=True,
    )

    async def scenario() -> None:
        port = free_tcp_port()
        server = ModbusTcpServer(ctx, address=("127.0.0.1", port))
        task = asyncio.create_task(server.serve_forever())
        await asyncio.sleep(0.3)
        try:
            src = ModbusSource.from_config(
                SourceConfig(name="plc", kind="modbus", host="127.0.0.1", port=port, nodes=nodes),
                PLANT,
            )
            client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
            assert await client.connect()
            table = await src.poll(client)
            client.close()
        finally:
            await server.shutdown()
            task.cancel()
        got = {
            s: (v, q)
            for s, v, q in zip(
                table["signal"].to_pylist(),
                table["value"].to_pylist(),
                table["quality"].to_pylist(),
                strict=True,
            )
        }
        assert got["plant/line/press/temp"][0] == pytest.approx(71.25)
        assert got["plant/line/press/pressure"][0] == pytest.approx(-3.5)
        assert got["plant/line/press/count"][0] == 123456789.0
        assert got["plant/line/press/energy"][0] == pytest.approx(4242.125)
        assert got["plant/line/press/running"][0] == 1.0
        assert all(q == 0xC0 for s, (_, q) in got.items() if not s.endswith("missing"))
        assert got["plant/line/press/missing"][1] == 0 and src.failed_reads == 1

    asyncio.run(scenario())


def test_register_errors_name_the_signal() -> None:
    with pytest.raises(ConfigError, match=r"plant/line/press/temp.*type"):
        ModbusSource.from_config(
            SourceConfig(
                name="plc",
                kind="modbus",
                host="h",
                nodes={"plant/line/press/temp": {"address": 1, "type": "float16"}},
            ),
            PLANT,
        )
