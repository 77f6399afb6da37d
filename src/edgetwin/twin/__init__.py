"""The live digital twin: asset registry, live state, health roll-up, alarms, maintenance, what-if."""

from edgetwin.twin.health import ALARM_CAP, Health
from edgetwin.twin.state import AssetState, SignalValue
from edgetwin.twin.twin import Twin, TwinError
from edgetwin.twin.workorders import WorkOrder, WorkOrderBook, WorkOrderError

__all__ = [
    "ALARM_CAP",
    "AssetState",
    "Health",
    "SignalValue",
    "Twin",
    "TwinError",
    "WorkOrder",
    "WorkOrderBook",
    "WorkOrderError",
]
