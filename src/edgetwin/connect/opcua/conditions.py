"""Alarms as OPC UA Part 9 AlarmConditionType events carrying the ISA-18.2 states.

Each alarm of the twin becomes a condition object (`ns=2;s=alarm:<alarm id>`) under its asset,
with a `ShelvingState` child. Every transition fires an AlarmConditionType event whose
ConditionId is that node, with ActiveState, AckedState, EnabledState, SuppressedState,
OutOfServiceState and ShelvingState/CurrentState set from the alarm. Clients act through the
standard methods: Acknowledge (i=9111) on the condition, TimedShelve (i=2949), OneShotShelve
(i=2948) and Unshelve (i=2947) on its ShelvingState, and ConditionRefresh (i=3875), which
re-sends the current state of every retained alarm.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncua import Server, ua
from asyncua.common.event_objects import Event
from asyncua.common.node import Node

from edgetwin.connect.opcua.uatypes import nid, status

log = logging.getLogger(__name__)

# The user of the request being processed (set by the permission ruleset, read by methods).
CALLER: ContextVar[str] = ContextVar("opcua_caller", default="opcua")

ACK = ua.ObjectIds.AcknowledgeableConditionType_Acknowledge
TIMED_SHELVE = ua.ObjectIds.ShelvedStateMachineType_TimedShelve
ONESHOT_SHELVE = ua.ObjectIds.ShelvedStateMachineType_OneShotShelve
UNSHELVE = ua.ObjectIds.ShelvedStateMachineType_Unshelve
REFRESH = ua.ObjectIds.ConditionType_ConditionRefresh
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _lt(text: str) -> ua.LocalizedText:
    return ua.LocalizedText(text, "en")


class AlarmActions:
    """What the condition methods do: the twin's operator actions (raise AlarmError if refused)."""

    def __init__(
        self,
        acknowledge: Callable[[str, str, str], Any],
        shelve: Callable[[str, str, float | None, str], Any],
        unshelve: Callable[[str, str, str], Any],
    ) -> None:
        self.acknowledge = acknowledge
        self.shelve = shelve
        self.unshelve = unshelve


class ConditionPublisher:
    """Condition nodes, Part 9 events and the standard condition methods for one server."""

    def __init__(
        self,
        server: Server,
        ns: int,
        actions: AlarmActions,
        refresh: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.server = server
        self._refresh_cb = refresh
        self.ns = ns
        self.actions = actions
        self.fired = 0
        self._nodes: dict[str, Node] = {}
        self._by_node: dict[ua.NodeId, str] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._event_ids: dict[str, deque[bytes]] = {}
        self._gen: Any = None

    async def start(self) -> None:
        self._gen = await self.server.get_event_generator(ua.ObjectIds.AlarmConditionType)
        for method, fn in (
            (ACK, self._acknowledge),
            (TIMED_SHELVE, self._timed_shelve),
            (ONESHOT_SHELVE, self._oneshot_shelve),
            (UNSHELVE, self._unshelve),
            (REFRESH, self._refresh),
        ):
            self.server.link_method(self.server.get_node(nid(method)), fn)

    def condition_id(self, alarm_id: str) -> ua.NodeId:
        return nid(f"alarm:{alarm_id}", self.ns)

    async def ensure(self, alarm: dict[str, Any], parent: Node) -> Node:
        """Create the condition object of an alarm (once) under `parent` (its asset)."""
        aid = alarm["alarm_id"]
        if aid in self._nodes:
            return self._nodes[aid]
        cid = self.condition_id(aid)
        node = await parent.add_object(
            cid,
            ua.QualifiedName(aid.replace("/", "."), self.ns),
            objecttype=ua.ObjectIds.BaseObjectType,
        )
        await node.add_object(
            nid(f"alarm:{aid}/ShelvingState", self.ns), ua.QualifiedName("ShelvingState", 0)
        )
        await parent.add_reference(cid, ua.ObjectIds.HasCondition)
        self._nodes[aid] = node
        self._by_node[cid] = aid
        self._by_node[nid(f"alarm:{aid}/ShelvingState", self.ns)] = aid
        return node

    async def fire(self, alarm: dict[str, Any], source: Node, source_name: str) -> bytes:
        """Send one AlarmConditionType event with the alarm's current ISA-18.2 state."""
        assert self._gen is not None
        aid = alarm["alarm_id"]
        self._last[aid] = alarm
        ev: Event = self._gen.event
        t = _EPOCH + timedelta(microseconds=int(alarm.get("ts_ns") or 0) // 1000)
        if t <= _EPOCH:
            t = datetime.now(UTC)
        mode = alarm.get("mode", "enabled")
        active, acked = bool(alarm.get("active")), bool(alarm.get("acked"))
        shelving = {
            "shelved": "TimedShelved" if alarm.get("shelved_until_ns") else "OneShotShelved"
        }
        fields: dict[str, Any] = {
            "NodeId": self.condition_id(aid),
            "SourceNode": source.nodeid,
            "SourceName": source_name,
            "Time": t,
            "ReceiveTime": datetime.now(UTC),
            "Message": _lt(alarm.get("message") or aid),
            "Severity": int(alarm.get("severity", 500)),
            "ConditionName": aid,
            "Retain": mode == "enabled" and (active or not acked),
            "EnabledState": _lt("Enabled" if mode != "out_of_service" else "Disabled"),
            "EnabledState/Id": mode != "out_of_service",
            "ActiveState": _lt("Active" if active else "Inactive"),
            "ActiveState/Id": active,
            "AckedState": _lt("Acknowledged" if acked else "Unacknowledged"),
            "AckedState/Id": acked,
            "ConfirmedState": _lt("Confirmed"),
            "ConfirmedState/Id": True,
            "SuppressedState": _lt("Suppressed" if mode == "suppressed" else "Unsuppressed"),
            "SuppressedState/Id": mode == "suppressed",
            "OutOfServiceState": _lt(
                "Out of Service" if mode == "out_of_service" else "In Service"
            ),
            "OutOfServiceState/Id": mode == "out_of_service",
            "SuppressedOrShelved": mode in ("suppressed", "shelved"),
            "Comment": _lt(alarm.get("comment") or ""),
            "ClientUserId": alarm.get("user") or "",
            "Quality": status(0),
            "LastSeverity": int(alarm.get("severity", 500)),
        }
        for key, value in fields.items():
            setattr(ev, key, value)
        ev.add_variable(
            "ShelvingState/CurrentState",
            _lt(shelving.get(mode, "Unshelved")),
            ua.VariantType.LocalizedText,
        )
        ev.add_variable(
            "Value",
            float("nan") if alarm.get("value") is None else float(alarm["value"]),
            ua.VariantType.Double,
        )
        # emitted by the Server object, which is where alarm clients subscribe (Part 9 5.5)
        await self._gen.trigger(t, _lt(alarm.get("message") or aid).Text)
        eid = getattr(ev, "EventId")  # noqa: B009 - set by trigger(), not declared on Event
        event_id: bytes = eid.Value if isinstance(eid, ua.Variant) else eid
        self._event_ids.setdefault(aid, deque(maxlen=32)).append(event_id)
        self.fired += 1
        return event_id

    # -- methods (called by clients) -------------------------------------------------------------

    def _alarm_of(self, node_id: ua.NodeId) -> str:
        aid = self._by_node.get(node_id)
        if aid is None:
            raise ua.uaerrors.BadNodeIdUnknown
        return aid

    async def _acknowledge(
        self, parent: ua.NodeId, event_id: ua.Variant, comment: ua.Variant
    ) -> list[ua.Variant]:
        aid = self._alarm_of(parent)
        eid = event_id.Value if isinstance(event_id, ua.Variant) else event_id
        if eid and eid not in self._event_ids.get(aid, ()):
            raise ua.uaerrors.BadEventIdUnknown
        text = comment.Value.Text if isinstance(comment, ua.Variant) and comment.Value else ""
        return self._do(lambda: self.actions.acknowledge(aid, CALLER.get(), text or ""))

    async def _timed_shelve(self, parent: ua.NodeId, shelving_ms: ua.Variant) -> list[ua.Variant]:
        aid = self._alarm_of(parent)
        ms = float(shelving_ms.Value if isinstance(shelving_ms, ua.Variant) else shelving_ms)
        return self._do(lambda: self.actions.shelve(aid, CALLER.get(), ms / 1000.0, ""))

    async def _oneshot_shelve(self, parent: ua.NodeId) -> list[ua.Variant]:
        aid = self._alarm_of(parent)
        return self._do(lambda: self.actions.shelve(aid, CALLER.get(), None, ""))

    async def _unshelve(self, parent: ua.NodeId) -> list[ua.Variant]:
        aid = self._alarm_of(parent)
        return self._do(lambda: self.actions.unshelve(aid, CALLER.get(), ""))

    async def _refresh(self, parent: ua.NodeId, *_: Any) -> list[ua.Variant]:
        if self._refresh_cb is not None:
            await self._refresh_cb()
        return []

    @staticmethod
    def _do(action: Callable[[], Any]) -> list[ua.Variant]:
        from edgetwin.core.errors import EdgetwinError

        try:
            action()
        except EdgetwinError as exc:
            log.info("OPC UA condition method refused: %s", exc)
            raise (
                ua.uaerrors.BadConditionAlreadyShelved
                if "shelv" in str(exc)
                else (ua.uaerrors.BadConditionBranchAlreadyAcked)
            ) from None
        return []
