"""Sample quality as one byte, in the OPC classic (DA) quality-byte convention.

The top two bits carry the OPC UA severity: Good (0xC0), Uncertain (0x40), Bad (0x00).
A uint8 keeps the samples table narrow; the mapping to/from OPC UA 32-bit status codes
is lossless for the severity, which is all the twin and the detectors need.
"""

from __future__ import annotations

from enum import IntEnum


class Quality(IntEnum):
    GOOD = 0xC0
    UNCERTAIN = 0x40
    BAD = 0x00

    @classmethod
    def from_opcua_status(cls, status_code: int) -> Quality:
        """Map an OPC UA StatusCode (uint32) to its severity byte."""
        severity = (int(status_code) >> 30) & 0b11
        if severity == 0:
            return cls.GOOD
        if severity == 1:
            return cls.UNCERTAIN
        return cls.BAD

    def to_opcua_status(self) -> int:
        """The generic OPC UA StatusCode of this severity (Good, Uncertain, Bad)."""
        return {Quality.GOOD: 0x00000000, Quality.UNCERTAIN: 0x40000000, Quality.BAD: 0x80000000}[
            self
        ]
