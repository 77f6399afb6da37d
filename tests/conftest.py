"""Shared fixtures: where the real data sets live, and free loopback ports."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """`$EDGETWIN_DATA`, else `../shared/data` beside the checkout."""
    return Path(os.environ.get("EDGETWIN_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data():
    """Return a function `shared_data("cwru")` that gives the folder or skips the test."""

    def get(name: str) -> Path:
        path = shared_data_root() / name
        if not path.is_dir():
            pytest.skip(f"data set {name!r} not found at {path} (set EDGETWIN_DATA)")
        return path

    return get


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared data root, for session/module-scoped fixtures (may not exist: check it)."""
    return shared_data_root()
