"""MQTT broker options shared by the Sparkplug source and sink (validated from plant.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BrokerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: int = Field(30, ge=5)
    client_id: str | None = None
