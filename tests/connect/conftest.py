"""Fixtures for the protocol tests: free loopback ports on demand."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def free_tcp_port() -> Callable[[], int]:
    """A function returning a TCP port free on 127.0.0.1 right now (call it once per server)."""
    return _free_port
