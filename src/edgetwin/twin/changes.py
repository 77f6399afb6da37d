"""Fan-out of twin changes to live subscribers (SSE clients, the OPC UA server).

Each subscriber gets its own bounded asyncio.Queue; a slow client loses its oldest changes
rather than slowing the pipeline or growing memory — the next change of an asset carries its
full state again, so a dropped one is only a missed intermediate frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any


class Subscription:
    """One subscriber's queue; iterate it with `async for change in sub`."""

    def __init__(self, hub: ChangeHub, maxsize: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self.loop = asyncio.get_running_loop()
        self.dropped = 0
        self._hub = hub

    def put(self, change: dict[str, Any]) -> None:
        """Enqueue, dropping the oldest entry when full (call on the subscriber's loop)."""
        while True:
            try:
                self.queue.put_nowait(change)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                    self.dropped += 1

    def close(self) -> None:
        self._hub.unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                yield await self.queue.get()
        finally:
            self.close()


class ChangeHub:
    """Publishes change dicts to every subscription, from any thread."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        """Must be called from inside the event loop that will consume the queue."""
        sub = Subscription(self, maxsize)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subs)

    def publish(self, change: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        if not subs:
            return
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for sub in subs:
            if sub.loop is current:
                sub.put(change)
            elif not sub.loop.is_closed():
                sub.loop.call_soon_threadsafe(sub.put, change)
