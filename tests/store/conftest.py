"""A throwaway PostgreSQL cluster for the store tests: one per session, a fresh database per test.

Skips (with the reason) where the server binaries are missing; always stops what it started.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from edgetwin.store.pg_cluster import LocalCluster, missing_reason

_names = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster(request: pytest.FixtureRequest) -> Iterator[LocalCluster]:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    cluster = LocalCluster(durable=False)
    request.addfinalizer(cluster.stop)
    cluster.start()
    yield cluster


@pytest.fixture
def pg_url(pg_cluster: LocalCluster) -> str:
    """URL (with password) of an empty database of its own."""
    return pg_cluster.create_database(f"t{next(_names)}")
