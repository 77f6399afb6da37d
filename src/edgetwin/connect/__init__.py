"""Protocol adapters: OPC UA, MQTT Sparkplug B, Modbus TCP and file replay.

Each protocol folder offers a source (ingest into samples tables) and, where the protocol has
one, a sink (publish the twin and AI results back). The runtime imports a protocol only when a
plant uses it, so a box without MQTT never loads paho.
"""
