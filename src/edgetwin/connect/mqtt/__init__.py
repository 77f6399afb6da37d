"""MQTT Sparkplug B: a host-application source and an edge-node sink (protobuf payloads)."""

from edgetwin.connect.mqtt.broker import BrokerOptions
from edgetwin.connect.mqtt.sink import SparkplugSink
from edgetwin.connect.mqtt.source import SparkplugSource, SparkplugSourceOptions, source_from_config

__all__ = [
    "BrokerOptions",
    "SparkplugSink",
    "SparkplugSource",
    "SparkplugSourceOptions",
    "source_from_config",
]
