"""Modbus TCP: poll legacy PLC registers with data types, byte order and scaling."""

from edgetwin.connect.modbus.registers import RegisterSpec, decode, encode, plan_blocks
from edgetwin.connect.modbus.source import ModbusSource, ModbusSourceOptions, source_from_config

__all__ = [
    "ModbusSource",
    "ModbusSourceOptions",
    "RegisterSpec",
    "decode",
    "encode",
    "plan_blocks",
    "source_from_config",
]
