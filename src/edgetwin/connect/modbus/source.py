"""ModbusSource: poll a PLC's registers over Modbus TCP (pymodbus) into samples tables.

Every `poll_ms` it reads the planned register blocks, decodes each signal's value with its
data type, byte order and scaling, and emits one samples table stamped with the poll time.
A failed block (exception response, timeout) gives Bad-quality samples for its signals rather
than dropping them, so the twin shows the loss; a lost connection raises, and the runtime's
supervisor reconnects with back-off.
"""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from edgetwin.connect.modbus.registers import (
    Block,
    RegisterSpec,
    decode,
    parse_register,
    plan_blocks,
)
from edgetwin.connect.options import parse_options, signals_of_source
from edgetwin.core.config import PlantConfig, SourceConfig
from edgetwin.core.errors import ConfigError, ConnectError
from edgetwin.core.quality import Quality
from edgetwin.core.schemas import make_samples
from edgetwin.runtime.interfaces import Emit

log = logging.getLogger(__name__)


class ModbusSourceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = Field(502, ge=1, le=65535)
    poll_ms: float = Field(1000.0, gt=0)
    timeout_s: float = Field(2.0, gt=0)
    nodes: dict[str, dict] = Field(default_factory=dict, description="signal id -> register spec")


class ModbusSource:
    """Polls the registers of `signal_ids` (one RegisterSpec each) on host:port."""

    def __init__(
        self,
        name: str,
        options: ModbusSourceOptions,
        signal_ids: list[str],
        specs: list[RegisterSpec],
    ) -> None:
        self.name = name
        self.options = options
        self.signal_ids = signal_ids
        self.specs = specs
        self.blocks = plan_blocks(specs)
        self.polls = 0
        self.failed_reads = 0

    @classmethod
    def from_config(cls, cfg: SourceConfig, plant: PlantConfig) -> ModbusSource:
        opts = parse_options(ModbusSourceOptions, cfg)
        addresses = signals_of_source(cfg, plant)
        if not addresses:
            raise ConfigError(
                f"source {cfg.name!r} (modbus): no signals; set `nodes` or signal addresses"
            )
        ids = sorted(addresses)
        return cls(cfg.name, opts, ids, [parse_register(s, addresses[s], cfg.name) for s in ids])

    async def run(self, emit: Emit) -> None:
        o = self.options
        client = AsyncModbusTcpClient(o.host, port=o.port, timeout=o.timeout_s, retries=0)
        if not await client.connect():
            raise ConnectError(
                f"Modbus TCP {o.host}:{o.port} unreachable; check host, port and firewall"
            )
        log.info(
            "modbus source %s: connected to %s:%d, %d signals in %d reads",
            self.name,
            o.host,
            o.port,
            len(self.specs),
            len(self.blocks),
        )
        try:
            loop = asyncio.get_running_loop()
            next_t = loop.time()
            while True:
                await emit(await self.poll(client))
                next_t += o.poll_ms / 1000.0
                await asyncio.sleep(max(0.0, next_t - loop.time()))
        finally:
            client.close()

    async def poll(self, client: AsyncModbusTcpClient) -> object:
        """Read every block once; returns one samples table (Bad quality where a read failed)."""
        ts = time.time_ns()
        n = len(self.specs)
        values = np.full(n, np.nan)
        quality = np.full(n, int(Quality.GOOD), dtype=np.uint8)
        for b in self.blocks:
            regs = await self._read(client, b)
            for i, spec in b.members:
                if regs is None:
                    quality[i] = Quality.BAD
                    continue
                off = spec.address - b.start
                values[i] = (
                    decode(regs[off : off + spec.count], spec)
                    if b.table in ("holding", "input")
                    else float(regs[off]) * spec.scale + spec.offset
                )
        self.polls += 1
        return make_samples(np.full(n, ts), self.signal_ids, values, quality)

    async def _read(self, client: AsyncModbusTcpClient, b: Block) -> np.ndarray | None:
        fn = {
            "holding": client.read_holding_registers,
            "input": client.read_input_registers,
            "coil": client.read_coils,
            "discrete": client.read_discrete_inputs,
        }[b.table]
        try:
            rr = await fn(b.start, count=b.count, device_id=b.device_id)
        except ModbusException as exc:
            if not client.connected:
                raise ConnectError(
                    f"Modbus TCP {self.options.host}:{self.options.port} lost: {exc}"
                ) from None
            rr = None
        if rr is None or rr.isError():
            self.failed_reads += 1
            log.warning(
                "modbus source %s: read %s %d+%d on device %d failed: %s",
                self.name,
                b.table,
                b.start,
                b.count,
                b.device_id,
                rr,
            )
            return None
        data = (
            rr.registers
            if b.table in ("holding", "input")
            else [int(x) for x in rr.bits[: b.count]]
        )
        return np.asarray(data, dtype=np.uint16)


def source_from_config(cfg: SourceConfig, plant: PlantConfig) -> ModbusSource:
    """Runtime factory (`kind: modbus`)."""
    return ModbusSource.from_config(cfg, plant)
