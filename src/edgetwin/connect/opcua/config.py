"""OPC UA source options (validated from plant.yaml) and per-signal monitoring settings.

A signal's `address` is a NodeId string (`ns=2;s=Pump1.Flow`, `i=2258`), a browse path from
Objects (`/Objects/2:Plant/2:pump1/2:flow` or `2:Plant/2:pump1/2:flow`), or a mapping
`{node: <NodeId or path>, sampling_interval_ms, deadband, queue_size}` that overrides the
source's defaults for that one signal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgetwin.connect.options import parse_options, signals_of_source
from edgetwin.core.config import PlantConfig, SourceConfig
from edgetwin.core.errors import ConfigError

NODEID_PREFIXES = ("ns=", "i=", "s=", "g=", "b=", "nsu=")


class SecurityOptions(BaseModel):
    """Message security of the client's secure channel, with our certificate and trust list."""

    model_config = ConfigDict(extra="forbid")

    policy: Literal["None", "Basic256Sha256"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: str | None = Field(None, description="client certificate (DER or PEM)")
    private_key: str | None = Field(None, description="client private key (PEM)")
    trust: str | None = Field(
        None, description="folder of trusted server certificates; the server's must be in it"
    )
    generate: bool = Field(
        True, description="create a self-signed certificate/key at the given paths if missing"
    )

    @model_validator(mode="after")
    def _consistent(self) -> SecurityOptions:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError(
                f"security.policy={self.policy!r} with mode={self.mode!r}: use policy None with "
                "mode None, or Basic256Sha256 with Sign/SignAndEncrypt"
            )
        if self.policy != "None" and not (self.certificate and self.private_key):
            raise ValueError(
                "security.certificate and security.private_key are required for a signed channel"
            )
        return self


class OpcUaSourceOptions(BaseModel):
    """Everything an `opcua` source entry of plant.yaml may set (besides name/kind/assets)."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(description="opc.tcp://host:port[/path]")
    nodes: dict[str, Any] = Field(default_factory=dict, description="signal id -> address")
    security: SecurityOptions = Field(default_factory=SecurityOptions)
    username: str | None = None
    password: str | None = None
    password_env: str | None = Field(None, description="read the password from this variable")
    publishing_interval_ms: float = Field(1000.0, gt=0)
    sampling_interval_ms: float = Field(1000.0, ge=0, description="default per monitored item")
    deadband: float = Field(0.0, ge=0, description="absolute deadband (signal units)")
    queue_size: int = Field(10, ge=1, description="server-side queue per monitored item")
    history_backfill: bool = Field(True, description="HistoryRead the gap after a reconnect")
    reconnect_min_s: float = Field(0.2, gt=0)
    reconnect_max_s: float = Field(
        3.0, gt=0, description="back-off cap: a returning server is retried at least this often"
    )
    timeout_s: float = Field(4.0, gt=0, description="request timeout")
    watchdog_s: float = Field(1.0, gt=0, description="seconds between server health probes")
    max_items_per_call: int = Field(1000, ge=1, description="monitored items per create call")

    @model_validator(mode="after")
    def _endpoint(self) -> OpcUaSourceOptions:
        if not self.endpoint.startswith("opc.tcp://"):
            raise ValueError(f"endpoint {self.endpoint!r} must start with opc.tcp://")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self

    def resolved_password(self) -> str | None:
        if self.password_env:
            return os.environ.get(self.password_env)
        return self.password


@dataclass(frozen=True)
class ItemSpec:
    """One monitored item: which signal, which node, how the server samples it."""

    signal_id: str
    node: str  # NodeId string, or a browse path (contains '/')
    sampling_interval_ms: float
    deadband: float
    queue_size: int

    @property
    def is_path(self) -> bool:
        return not self.node.startswith(NODEID_PREFIXES)


def _item(sid: str, addr: Any, opts: OpcUaSourceOptions, source: str) -> ItemSpec:
    extra: dict[str, Any] = {}
    if isinstance(addr, dict):
        extra = dict(addr)
        node = extra.pop("node", None)
        allowed = {"sampling_interval_ms", "deadband", "queue_size"}
        unknown = set(extra) - allowed
        if unknown:
            raise ConfigError(
                f"source {source!r} (opcua): address of {sid!r} has unknown key(s) "
                f"{sorted(unknown)}; allowed: node, {', '.join(sorted(allowed))}"
            )
    else:
        node = addr
    if not isinstance(node, str) or not node:
        raise ConfigError(
            f"source {source!r} (opcua): address of {sid!r} must be a NodeId string "
            "('ns=2;s=Pump1.Flow') or a browse path ('2:Plant/2:pump1/2:flow')"
        )
    return ItemSpec(
        signal_id=sid,
        node=node,
        sampling_interval_ms=float(extra.get("sampling_interval_ms", opts.sampling_interval_ms)),
        deadband=float(extra.get("deadband", opts.deadband)),
        queue_size=int(extra.get("queue_size", opts.queue_size)),
    )


def parse_source(
    cfg: SourceConfig, plant: PlantConfig
) -> tuple[OpcUaSourceOptions, list[ItemSpec]]:
    """Validate the options and list the monitored items, sorted by signal id."""
    opts = parse_options(OpcUaSourceOptions, cfg)
    addresses = signals_of_source(cfg, plant)
    if not addresses:
        raise ConfigError(
            f"source {cfg.name!r} (opcua): no signals to subscribe; give signals an `address` "
            "(and `source:` or list their asset in the source's assets) or set `nodes`"
        )
    items = [_item(sid, addr, opts, cfg.name) for sid, addr in sorted(addresses.items())]
    return opts, items
