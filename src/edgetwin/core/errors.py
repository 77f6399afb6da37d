"""One error hierarchy, so callers can catch everything edgetwin raises with one clause.

Every message names the bad field or value and says how to fix it; the CLI prints the
message alone (no traceback) for any `EdgetwinError`.
"""

from __future__ import annotations


class EdgetwinError(Exception):
    """Base of every error edgetwin raises on purpose."""


class ConfigError(EdgetwinError):
    """A plant config (or any user-written settings file) is invalid."""


class DataError(EdgetwinError):
    """Input data is malformed: wrong columns, wrong types, unreadable file."""


class StoreError(EdgetwinError):
    """The history store cannot be opened, written or read."""


class ModuleError(EdgetwinError):
    """An edge module cannot be built, loaded or run."""


class SignatureError(ModuleError):
    """An edge module is unsigned, signed by an untrusted key, or was tampered with."""


class ConnectError(EdgetwinError):
    """A protocol peer (OPC UA, MQTT, Modbus) cannot be reached or misbehaves."""


class AuthError(EdgetwinError):
    """A caller is not allowed to do what it asked."""
