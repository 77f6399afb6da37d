"""OPC UA: a subscribing source with reconnect and history backfill, the twin as a server, the
simulated plant as a server."""

from edgetwin.connect.opcua.config import ItemSpec, OpcUaSourceOptions
from edgetwin.connect.opcua.security import TrustList, ensure_certificate
from edgetwin.connect.opcua.server_security import ServerSecurity, UserEntry
from edgetwin.connect.opcua.sim_server import (
    PlantServer,
    ServerHandle,
    opcua_source_config_for,
    serve_plant,
)
from edgetwin.connect.opcua.source import OpcUaSource, source_from_config
from edgetwin.connect.opcua.twin_server import TwinServer, twin_server_from_config

__all__ = [
    "ItemSpec",
    "OpcUaSource",
    "OpcUaSourceOptions",
    "PlantServer",
    "ServerHandle",
    "ServerSecurity",
    "TrustList",
    "TwinServer",
    "UserEntry",
    "ensure_certificate",
    "opcua_source_config_for",
    "serve_plant",
    "source_from_config",
    "twin_server_from_config",
]
