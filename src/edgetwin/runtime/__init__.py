"""Wires a plant config into running asyncio tasks: sources → store/analytics/twin → sinks."""
