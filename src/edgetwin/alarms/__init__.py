"""ISA-18.2 / OPC UA Part 9 alarms: state machine, limit checking with rationalisation, manager."""

from edgetwin.alarms.manager import AlarmManager, alarm_id_for
from edgetwin.alarms.state import SEVERITY, AlarmError, AlarmState

__all__ = ["SEVERITY", "AlarmError", "AlarmManager", "AlarmState", "alarm_id_for"]
