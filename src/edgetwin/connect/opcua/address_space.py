"""The plant as an OPC UA address space: Objects / Plant / site / ... / asset / signal.

NodeIds are strings in our namespace and equal the ids used everywhere else (`ns=2;s=<signal
id>` for a signal, `ns=2;s=<asset path>` for an asset folder), so a client that knows a signal
id knows its node, and the simulator's server and the twin's server expose the same layout.
Browse names are the path segments, so `2:Plant/2:acme/2:site1/.../2:pump1/2:flow` works too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from asyncua import Server, ua
from asyncua.common.node import Node

from edgetwin.connect.opcua.uatypes import nid
from edgetwin.core.config import PlantConfig

NAMESPACE = "urn:edgetwin:plant"
ROOT = "Plant"


@dataclass
class PlantNodes:
    """Handles to the nodes of one plant in one server."""

    ns: int
    root: Node
    folders: dict[str, Node] = field(default_factory=dict)  # asset path (and prefixes) -> node
    variables: dict[str, Node] = field(default_factory=dict)  # signal id -> variable node

    def node_id(self, signal_id: str) -> ua.NodeId:
        return nid(signal_id, self.ns)


async def build_plant(
    server: Server,
    plant: PlantConfig,
    *,
    extra_signals: Iterable[str] = (),
    scalar_only: bool = True,
    historizing: bool = False,
) -> PlantNodes:
    """Create folders for every asset path prefix and a Double variable for every signal.

    extra_signals: names added to every asset (derived values such as health, rul).
    """
    ns = await server.register_namespace(NAMESPACE)
    root = await server.nodes.objects.add_folder(nid(ROOT, ns), ua.QualifiedName(ROOT, ns))
    nodes = PlantNodes(ns=ns, root=root)
    extra = list(extra_signals)
    for asset in plant.assets:
        parent = root
        parts = asset.path.split("/")
        for k in range(1, len(parts) + 1):
            prefix = "/".join(parts[:k])
            if prefix not in nodes.folders:
                nodes.folders[prefix] = await parent.add_object(
                    nid(prefix, ns), ua.QualifiedName(parts[k - 1], ns)
                )
            parent = nodes.folders[prefix]
        names = [s.name for s in asset.signals if not scalar_only or s.kind == "scalar"]
        units = {s.name: s.unit for s in asset.signals}
        for name in names + [n for n in extra if n not in names]:
            sid = asset.signal_id(name)
            var = await parent.add_variable(
                nid(sid, ns),
                ua.QualifiedName(name, ns),
                ua.Variant(float("nan"), ua.VariantType.Double),
                datatype=nid(ua.ObjectIds.Double),
            )
            access = ua.AccessLevel.CurrentRead.mask
            if historizing:
                access |= ua.AccessLevel.HistoryRead.mask
                await var.write_attribute(
                    ua.AttributeIds.Historizing,
                    ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)),
                )
            for attr in (ua.AttributeIds.AccessLevel, ua.AttributeIds.UserAccessLevel):
                await var.write_attribute(
                    attr, ua.DataValue(ua.Variant(access, ua.VariantType.Byte))
                )
            if name in units:
                await var.add_property(
                    nid(f"{sid}#unit", ns),
                    ua.QualifiedName("EngineeringUnit", ns),
                    units[name],
                )
            nodes.variables[sid] = var
    return nodes
