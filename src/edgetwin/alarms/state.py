"""One alarm's ISA-18.2 / OPC UA Part 9 state: active x acknowledged, plus its operating mode.

ISA-18.2 names four process states from two flags:

| active | acked | state                      |
|--------|-------|----------------------------|
| no     | yes   | normal                     |
| yes    | no    | unacknowledged-active      |
| yes    | yes   | acknowledged-active        |
| no     | no    | returned-to-normal-unacked |

On top of them an alarm has a mode: `enabled`, `shelved` (by an operator, one-shot or timed),
`suppressed` (by design, e.g. while the machine is stopped) or `out_of_service` (maintenance).
While not enabled the alarm is not annunciated: the process condition is still tracked, but
it never asks for an acknowledgement; when it is enabled again an alarm whose condition is still
active is annunciated afresh (unacknowledged-active). Out of service stops tracking altogether.

This module is pure logic (no tables, no clocks): every method takes the time in ns and returns
the transition it made, so the manager and the property tests drive the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from edgetwin.core.errors import EdgetwinError

State = Literal[
    "normal", "unacknowledged-active", "acknowledged-active", "returned-to-normal-unacknowledged"
]
Mode = Literal["enabled", "shelved", "suppressed", "out_of_service"]
Priority = Literal["low", "medium", "high", "critical"]

# OPC UA Part 9 severity (1..1000) for each ISA-18.2 priority.
SEVERITY: dict[str, int] = {"low": 250, "medium": 500, "high": 750, "critical": 900}


class AlarmError(EdgetwinError):
    """An operator action that the alarm's current state does not allow."""


@dataclass
class AlarmState:
    """The mutable state of one alarm; `transition` names the last change for the event log."""

    alarm_id: str
    signal: str
    priority: str = "medium"
    message: str = ""
    active: bool = False
    acked: bool = True
    mode: str = "enabled"
    shelved_until_ns: int | None = None  # None with mode=shelved: one-shot shelve
    value: float | None = None
    limit: float | None = None
    ts_ns: int = 0  # time of the last transition
    source: str = ""  # asset path (or module source) the alarm belongs to
    origin: str = "limit"  # "limit" (from plant.yaml) or "model" (raised by an edge module)
    extra: dict[str, Any] = field(default_factory=dict)
    last_user: str | None = None
    last_comment: str | None = None

    @property
    def state(self) -> State:
        if self.active:
            return "acknowledged-active" if self.acked else "unacknowledged-active"
        return "normal" if self.acked else "returned-to-normal-unacknowledged"

    @property
    def severity(self) -> int:
        return SEVERITY.get(self.priority, 500)

    @property
    def annunciated(self) -> bool:
        """Shown to the operator: enabled and not in the normal state."""
        return self.mode == "enabled" and self.state != "normal"

    # -- process side -------------------------------------------------------------------------

    def set_condition(self, active: bool, ts_ns: int, value: float | None = None) -> str | None:
        """The (debounced) process condition changed; return the transition name or None."""
        if self.mode == "out_of_service":
            return None
        if value is not None:
            self.value = value
        if active == self.active:
            return None
        self.active = active
        self.ts_ns = ts_ns
        if active:
            if self.mode == "enabled":
                self.acked = False
            return "activated"
        if self.mode == "shelved" and self.shelved_until_ns is None:
            # a one-shot shelve lasts until the condition clears (ISA-18.2 §11.5)
            self.mode = "enabled"
            self.shelved_until_ns = None
            return "cleared-unshelved"
        return "cleared"

    def tick(self, now_ns: int) -> str | None:
        """Expire a timed shelve; return the transition name or None."""
        if (
            self.mode == "shelved"
            and self.shelved_until_ns is not None
            and now_ns >= self.shelved_until_ns
        ):
            return self._enable(now_ns, "unshelved-timeout")
        return None

    # -- operator side ------------------------------------------------------------------------

    def acknowledge(self, ts_ns: int, user: str, comment: str = "") -> str:
        if self.acked:
            raise AlarmError(
                f"alarm {self.alarm_id!r} is already acknowledged (state {self.state}); "
                "only unacknowledged alarms can be acknowledged"
            )
        if self.mode != "enabled":
            raise AlarmError(
                f"alarm {self.alarm_id!r} is {self.mode}; unshelve or return it to service first"
            )
        self.acked = True
        self.ts_ns = ts_ns
        self._who(user, comment)
        return "acknowledged"

    def shelve(self, ts_ns: int, user: str, duration_s: float | None, comment: str = "") -> str:
        if self.mode != "enabled":
            raise AlarmError(
                f"alarm {self.alarm_id!r} is {self.mode}; only enabled alarms can be shelved"
            )
        if duration_s is not None and not duration_s > 0:
            raise AlarmError(
                f"shelve duration_s must be > 0 seconds (got {duration_s}); or omit it for one-shot"
            )
        self.mode = "shelved"
        self.shelved_until_ns = None if duration_s is None else ts_ns + int(duration_s * 1e9)
        self.acked = True  # a shelved alarm asks nothing of the operator
        self.ts_ns = ts_ns
        self._who(user, comment)
        return "shelved"

    def unshelve(self, ts_ns: int, user: str, comment: str = "") -> str:
        if self.mode != "shelved":
            raise AlarmError(
                f"alarm {self.alarm_id!r} is {self.mode}, not shelved; nothing to unshelve"
            )
        self._who(user, comment)
        return self._enable(ts_ns, "unshelved")

    def suppress(self, ts_ns: int, on: bool, user: str = "system") -> str:
        if on:
            if self.mode == "out_of_service":
                raise AlarmError(
                    f"alarm {self.alarm_id!r} is out of service; return it to service first"
                )
            self.mode = "suppressed"
            self.shelved_until_ns = None
            self.acked = True
            self.ts_ns = ts_ns
            self._who(user, "")
            return "suppressed"
        if self.mode != "suppressed":
            raise AlarmError(f"alarm {self.alarm_id!r} is {self.mode}, not suppressed")
        self._who(user, "")
        return self._enable(ts_ns, "unsuppressed")

    def set_out_of_service(self, ts_ns: int, on: bool, user: str, comment: str = "") -> str:
        if on:
            self.mode = "out_of_service"
            self.shelved_until_ns = None
            self.active = False  # not tracked while out of service
            self.acked = True
            self.ts_ns = ts_ns
            self._who(user, comment)
            return "out-of-service"
        if self.mode != "out_of_service":
            raise AlarmError(f"alarm {self.alarm_id!r} is {self.mode}, not out of service")
        self._who(user, comment)
        return self._enable(ts_ns, "in-service")

    # -- helpers ------------------------------------------------------------------------------

    def _enable(self, ts_ns: int, name: str) -> str:
        self.mode = "enabled"
        self.shelved_until_ns = None
        self.ts_ns = ts_ns
        if self.active:
            self.acked = False  # still active: annunciate it again
        return name

    def _who(self, user: str, comment: str) -> None:
        self.last_user = user
        self.last_comment = comment or None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view used in event payloads, the REST API and the OPC UA server."""
        return {
            "alarm_id": self.alarm_id,
            "signal": self.signal,
            "source": self.source,
            "origin": self.origin,
            "state": self.state,
            "active": self.active,
            "acked": self.acked,
            "mode": self.mode,
            "shelved_until_ns": self.shelved_until_ns,
            "priority": self.priority,
            "severity": self.severity,
            "value": self.value,
            "limit": self.limit,
            "message": self.message,
            "ts_ns": self.ts_ns,
            "user": self.last_user,
            "comment": self.last_comment,
            **({"extra": self.extra} if self.extra else {}),
        }
